"""Summaries the chapters share: spread over seeds, epochs to a target, and each effect
measured and judged by the one verdict rule of :mod:`alexnet_core.book.engine.judge`.

Three measurements need care (#21): the overfitting gap compares validation error with the
training error measured the same way (eval mode, centre crop), where the run recorded it;
Figure 1's speed-up counts every seed, one whose slow run never reached the target as a lower
bound; and weight decay's effect on training error is called underpowered when the runs are
too short for the decay to act.
"""
from __future__ import annotations

import math
from statistics import mean, stdev
from typing import Iterable, Sequence

from alexnet_core.evaluate import binomial_standard_error
from alexnet_core.book.engine import judge as V
from alexnet_core.book.engine.records import recorded_hash

VERDICTS = V.VERDICTS


def mean_and_se(values: Sequence[float]) -> tuple[float, float]:
    """Mean and its standard error (0 for a single value: use a binomial error then)."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return float("nan"), float("nan")
    if len(values) == 1:
        return values[0], 0.0
    return mean(values), stdev(values) / math.sqrt(len(values))


def epochs_to(history: Iterable[dict], key: str, threshold: float) -> int | None:
    """The first epoch whose ``key`` is at or below ``threshold`` (None if never)."""
    for record in history:
        if record[key] <= threshold:
            return int(record["epoch"])
    return None


def by_variant(records: Iterable[dict]) -> dict[str, list[dict]]:
    """Run records grouped by their variant, in first-seen order."""
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(r["provenance"].get("variant", r["provenance"].get("run", "?")), []).append(r)
    return groups


def by_config(records: Iterable[dict]) -> dict[str, list[dict]]:
    """Records grouped by their config less its seed, one record per seed: the same network
    recorded under several experiments' names (a shared reference run) counts once. Configs
    compare as the result cache compares them (:func:`results.recorded_hash`)."""

    groups: dict[str, dict[int, dict]] = {}
    for r in records:
        config = r.get("config", {})
        seed = r["provenance"].get("seed", config.get("seed"))
        groups.setdefault(recorded_hash({"config": config | {"seed": 0}}), {}).setdefault(seed, r)
    return {key: list(by_seed.values()) for key, by_seed in groups.items()}


def seed_spread(groups: dict[str, list[dict]], metric: str = "val_top1") -> tuple[float, int]:
    """Pooled standard deviation of ``metric`` between seeds of one variant, over every variant
    with two or more runs, and its degrees of freedom (nan, 0 where no variant has two).

    This is how far one run moves by chance, the noise a single run's binomial error leaves out.
    """
    squares, dof = 0.0, 0
    for runs in groups.values():
        vals = [v for v in (value(r, metric) for r in runs) if v is not None and not math.isnan(v)]
        if len(vals) >= 2:
            centre = mean(vals)
            squares += sum((v - centre) ** 2 for v in vals)
            dof += len(vals) - 1
    return (math.sqrt(squares / dof) if dof else float("nan")), dof


# --------------------------------------------------------------------------- effects and tables

def value(record: dict, metric: str) -> float | None:
    """A run's metric, or a derived one: ``overfit_gap`` (validation minus final training top-1),
    ``early_train_top1`` (training error after the first quarter of the epochs)."""
    m, h = record["metrics"], record.get("history", [])
    if metric == "overfit_gap":  # against the training error measured as validation is (None without it)
        train = m.get("final_train_eval_top1")
        return m["val_top1"] - train if train is not None and m.get("val_top1") is not None else None
    if metric == "early_train_top1":
        return h[max(0, len(h) // 4 - 1)]["train_top1"] if h else None
    if metric == "best_epoch":
        return float(min(h, key=lambda r: r["val_top1"])["epoch"]) if h else None
    return m.get(metric)


#: classes per dataset, for the chance level of a run that did not learn
CLASSES = {"cifar10": 10, "imagenette": 10, "imagenet": 1000}


def chance_error(record: dict) -> float | None:
    """Top-1 error (%) of guessing on the run's dataset (90 on ten classes); None if unknown."""
    classes = CLASSES.get(record.get("config", {}).get("dataset"))
    return None if classes is None else 100.0 * (1 - 1 / classes)


def did_not_learn(record: dict, margin: float = 3.0) -> bool:
    """True when a run ended with validation error within ``margin`` points of chance
    (90% on ten classes): its ablation measures a failed optimisation, not the design."""
    chance = chance_error(record)
    val = record.get("metrics", {}).get("val_top1")
    return chance is not None and val is not None and val >= chance - margin


def epochs_near_chance(record: dict, margin: float = 3.0) -> int | None:
    """Leading epochs whose validation error stayed within ``margin`` points of chance: how
    late a run started to learn. Two runs that differ mostly in this compare start times,
    not designs (at lr 0.003 AlexNet's loss spikes in its first steps; see the dropout chapter)."""
    chance = chance_error(record)
    if chance is None:
        return None
    count = 0
    for h in record.get("history", []):
        if h["val_top1"] < chance - margin:
            break
        count += 1
    return count


#: The column that shows :func:`late_start` in effect tables and the scorecard.
LATE_START = "epochs at chance (with / without)"


def late_start(effect, groups: dict[str, list[dict]]) -> str:
    """'a / b': mean leading epochs at chance of the reference runs and the ablated runs."""
    sides = [[epochs_near_chance(run) for run in groups.get(side, [])] for side in (effect.reference, effect.ablated)]
    return " / ".join("-" if not v or None in v else f"{mean(v):g}" for v in sides)


def failed_runs_note(groups: dict[str, list[dict]]) -> str:
    """A sentence naming every run that ended near chance (empty when all learned)."""
    notes = []
    for variant, runs in groups.items():
        for r in runs:
            if did_not_learn(r):
                drops = [h["epoch"] for h in r["history"] if h.get("lr_dropped_after")]
                when = f"; its lr was divided after epoch{'s' if len(drops) > 1 else ''} " \
                       f"{', '.join(map(str, drops))}" if drops else ""
                notes.append(f"the {variant} run (seed {r['provenance'].get('seed', '?')}) ended at "
                             f"{r['metrics']['val_top1']:.1f}% validation error after {len(r['history'])} "
                             f"epochs, at chance{when}")
    if not notes:
        return ""
    return "Did not learn: " + "; ".join(notes) + ". Effects involving such a run get no verdict."


def effect_row(effect, groups: dict[str, list[dict]], smoke: bool = False, threshold: float = 25.0,
               noise: dict[str, V.Noise] | None = None) -> dict:
    """One scorecard row: the paper's effect, ours with its standard error, the runs per side, the
    verdict (:mod:`verdicts`) and its caveat. ``noise`` maps a metric to the seed spread measured
    in the same profile (:func:`family_noise`)."""
    ref, abl = groups.get(effect.reference, []), groups.get(effect.ablated, [])
    if effect.metric == "speedup":
        row = speedup_row(effect, ref, abl, threshold)
    else:
        row = difference_row(effect, ref, abl, (noise or {}).get(effect.metric))
    override = None if smoke else power_override(effect, ref, abl)
    if smoke:
        row.update(verdict="no verdict (smoke)", note="")
    elif override is not None:  # the reason first, then the caveats every verdict keeps
        row["verdict"] = override[0]
        row["note"] = "; ".join([override[1]] * bool(override[1])
                                + V.provisional(row["runs"], row["source"], row["ours"]))
    row["label"] = V.label(row["verdict"], row["note"])
    return row


def power_override(effect, ref: list[dict], abl: list[dict]) -> tuple[str, str] | None:
    """(verdict, reason) where the runs cannot test the claim whatever the numbers say: a run did
    not learn, the overfitting gap lacks the eval-mode training error, a run was still improving
    (epochs to converge censored), or weight decay had too few steps to act; else None."""
    runs = ref + abl
    if not ref or not abl:
        return None
    if any(did_not_learn(r) for r in runs):
        return "inconclusive (a run did not learn)", ""
    if effect.metric == "overfit_gap" and not all(fair_gap(r) for r in runs):
        return "not measured", ("training error recorded only in train mode (dropout and augmentation on), "
                                "not comparable with the validation error")
    if effect.metric == "best_epoch" and any(still_improving(r) for r in runs):
        return "underpowered", "a run was still improving at its last epoch, so its epochs to converge are censored"
    if effect.power_check == "decay_shrinkage":
        shrink = max(decay_shrinkage(r) for r in runs)
        if shrink < 0.5:  # False for nan: steps unknown
            return "underpowered", (f"over these runs weight decay shrinks an unused weight by {100 * shrink:.1f}% "
                                    "at most, too little for its effect on training error to show")
    return None


def difference_row(effect, ref: list[dict], abl: list[dict], noise: V.Noise | None) -> dict:
    """An effect measured as a difference of means (reference minus ablated), judged by the rule."""
    sides = [[(r, v) for r in runs if (v := value(r, effect.metric)) is not None] for runs in (ref, abl)]
    a, b = ([v for _, v in side] for side in sides)
    if noise is None or not noise.measured:  # the two sides' own seeds, when they have several
        sd, dof = seed_spread({"a": ref, "b": abl}, effect.metric)
        noise = V.Noise(sd, dof, 2)
    binomial = None
    if len(a) == 1 and len(b) == 1 and effect.metric != "best_epoch":  # an epoch count has no sampling error
        binomial = tuple(sampling_error(*side[0], effect.metric) for side in sides)
    est = V.estimate(a, b, noise, binomial)
    word = V.verdict(effect.paper, est, effect.sign)
    return dict(claim=effect.label, paper=effect.paper, ours=est.effect, se=est.se, runs=est.runs, verdict=word,
                note=V.caveat(word, effect.paper, est, effect.sign), bound=None, source=est.source)


def sampling_error(record: dict, val: float, metric: str) -> float:
    """One run's binomial error of ``metric`` (points), each error rate on its own images: the
    validation set's; the training probe's too for a gap; an epoch's training images for a
    training error."""
    m = record["metrics"]
    n_val = m.get("val_images") or 1
    if metric == "overfit_gap":
        probe = record.get("config", {}).get("train_eval_images") or 1024
        return math.hypot(binomial_standard_error(m["val_top1"], n_val),
                          binomial_standard_error(m["final_train_eval_top1"], probe))
    if metric in ("early_train_top1", "final_train_top1"):
        h = record.get("history") or [{}]
        seen = h[-1].get("images_per_s", 0) * h[-1].get("train_seconds", 0)
        return binomial_standard_error(val, round(seen) or n_val)
    return binomial_standard_error(val, n_val)


def speedup_row(effect, ref: list[dict], abl: list[dict], threshold: float) -> dict:
    """Figure 1's speed-up at ``threshold``, one ratio per seed: a seed whose slow run never
    reached the target enters as a lower bound (its epochs run), and then the mean is itself a
    lower bound (book/BOOK: censored runs are never dropped); a seed whose fast run never got
    there either has no ratio at all, and the test is underpowered at this target."""
    per_seed = censored_speedups(ref, abl, threshold)
    values = [v for v, _ in per_seed]
    censored = sum(c for _, c in per_seed)
    unresolved = len({r["provenance"].get("seed") for r in ref}) - len(per_seed)
    ours, se = mean_and_se(values)
    se = se if len(values) > 1 else float("nan")
    sd = stdev(values) if len(values) > 1 else float("nan")
    est = V.Estimate(ours - 1.0 if values else float("nan"), se, len(values) + unresolved,
                     "seeds" if len(values) > 1 else "none", sd, paired=True)
    expected = (effect.paper - 1.0) if effect.paper else None
    word = V.verdict(expected, est, effect.sign)
    note = V.caveat(word, expected, est, effect.sign)
    if values and (censored or unresolved):
        word = bounded_verdict(est, expected, unresolved)
        note = "; ".join([f"in {unresolved} of {est.runs} seeds neither net reached the target"] * bool(unresolved)
                         + [V.caveat("underpowered" if word.startswith("underpowered") else word, expected, est)])
    return dict(claim=effect.label, paper=effect.paper, ours=ours, se=se, runs=est.runs, verdict=word,
                note=note.strip("; "), bound=ours if censored and values else None, censored=censored,
                unresolved=unresolved, source=est.source)


def bounded_verdict(est: V.Estimate, expected: float | None, unresolved: int) -> str:
    """The verdict of a speed-up that is only bounded from below (``est.effect`` = bound - 1):
    underpowered when a seed has no ratio or the error is too large to resolve the paper's size;
    a bound beyond noise shows the direction, and 'reproduced' only when the bound already
    lies within a factor of two of the paper's effect (the true value may be larger)."""
    if unresolved or not math.isfinite(est.se) or (expected is not None and 2 * est.se >= abs(expected)):
        return "underpowered (lower bound)"
    if est.effect <= 2 * est.se:
        return "within noise (lower bound)"
    if expected is not None and 0.5 <= est.effect / expected <= 2.0:
        return "reproduced (lower bound)"
    return "direction only (lower bound)"


def censored_speedups(reference: list[dict], ablated: list[dict], threshold: float) -> list[tuple[float, bool]]:
    """Per seed, (the ablated run's epochs to ``threshold`` training error over the reference's,
    censored): a seed whose ablated run never got there enters with the epochs it ran, as a lower
    bound (``censored``). Seeds whose reference never got there have no ratio and are left out."""
    by_seed = {r["provenance"].get("seed"): r for r in ablated}
    out = []
    for r in reference:
        other = by_seed.get(r["provenance"].get("seed"))
        a = epochs_to(r["history"], "train_top1", threshold)
        if not a or other is None:
            continue
        b = epochs_to(other["history"], "train_top1", threshold)
        out.append((b / a, False) if b else (len(other["history"]) / a, True))
    return out


def common_target(reference: list[dict], ablated: list[dict], levels: Sequence[float]) -> float | None:
    """The lowest of ``levels`` (training error, %) that every run on both sides reached: where
    a speed-up is measured for every seed without a bound."""
    runs = reference + ablated
    reached = [lv for lv in levels if runs and all(epochs_to(r["history"], "train_top1", lv) for r in runs)]
    return min(reached) if reached else None


def still_improving(record: dict) -> bool:
    """Whether a run's best validation error came at its last epoch: it had not converged."""
    h = record.get("history", [])
    return bool(h) and min(h, key=lambda r: r["val_top1"])["epoch"] == h[-1]["epoch"]


def fair_gap(record: dict) -> bool:
    """Whether a run's overfitting gap can use the training error measured as validation is
    (eval mode, centre crop: ``final_train_eval_top1``) rather than the running one in train mode."""
    return record["metrics"].get("final_train_eval_top1") is not None


def decay_shrinkage(record: dict) -> float:
    """The share by which weight decay alone would shrink an unused weight over the run: per step
    the paper's rule removes lr * decay of it, amplified by momentum to lr * decay / (1 - momentum)."""
    cfg = record.get("config", {})
    rate = cfg.get("weight_decay", 0.0) / max(1e-12, 1.0 - cfg.get("momentum", 0.9))
    history = record.get("history", [])
    if any("images_per_s" not in h or "train_seconds" not in h for h in history):
        return float("nan")  # steps unknown: no claim about the decay's reach
    steps = sum(h.get("lr", cfg.get("lr", 0.0)) * h["images_per_s"] * h["train_seconds"] / max(1, cfg.get("batch_size", 128))
                for h in history)
    return 1.0 - math.exp(-rate * steps)


def family_noise(records: Iterable[dict], metrics: Iterable[str]) -> dict[str, V.Noise]:
    """Per metric, the seed spread pooled over every configuration in ``records`` (one profile,
    one family) that was trained under several seeds: the yardstick of :func:`effect_row`."""
    groups = by_config(records)
    out = {}
    for metric in metrics:
        sd, dof = seed_spread(groups, metric)
        out[metric] = V.Noise(sd, dof, sum(len(g) >= 2 for g in groups.values()))
    return out


def variant_table(groups: dict[str, list[dict]]):
    """Per variant: runs, validation errors (centre crop and ten patches), final training error."""
    import pandas as pd

    rows = []
    for variant, runs in groups.items():
        def fmt(key):
            vals = [value(r, key) for r in runs if value(r, key) is not None]
            if not vals:
                return "-"
            m, s = mean_and_se(vals)
            return f"{m:.1f} ± {s:.1f}" if len(vals) > 1 else f"{m:.1f}"
        rows.append({"variant": variant, "runs": len(runs), "val top-1 (%)": fmt("val_top1"),
                     "val top-5 (%)": fmt("val_top5"), "10-patch top-1 (%)": fmt("val10_top1"),
                     "10-patch top-5 (%)": fmt("val10_top5"), "final train top-1 (%)": fmt("final_train_top1"),
                     "final train top-1, eval mode (%)": fmt("final_train_eval_top1"),
                     "epochs": round(mean([len(r["history"]) for r in runs]), 1)})
    return pd.DataFrame(rows)


def effect_table(experiment, records: list[dict], smoke: bool = False, noise: dict[str, V.Noise] | None = None):
    """The experiment's effects as a table, ready to show; ``noise`` as for :func:`effect_row`."""
    import pandas as pd

    groups = by_variant(records)
    rows = []
    for eff in experiment.effects:
        r = effect_row(eff, groups, smoke, experiment.paper.get("target_train_error", 25.0), noise)
        rows.append({"claim": r["claim"], "paper": "qualitative" if r["paper"] is None else f"{r['paper']:+.1f}",
                     "ours": format_ours(r),
                     "runs per side": r["runs"], LATE_START: late_start(eff, groups),
                     "verdict": r["label"]})
    return pd.DataFrame(rows)


def format_ours(row: dict) -> str:
    """'+1.23 ± 0.45', '≥ 1.80 (lower bound, ...)' or '-' for a row of :func:`effect_row`."""
    if row.get("bound") is not None:
        resolved = row["runs"] - row.get("unresolved", 0)
        return (f"≥ {row['bound']:.2f} (a lower bound: in {row['censored']} of the {resolved} seed(s) with a ratio "
                "the slower net never reached the target)")
    if math.isnan(row["ours"]):
        return "-"
    if not math.isfinite(row["se"]):
        return f"{row['ours']:+.2f} (no error: {row['runs']} run{'s' if row['runs'] != 1 else ''} per side)"
    return f"{row['ours']:+.2f} ± {row['se']:.2f}"


def fastest_learning_rates(records: Iterable[dict]) -> dict[str, float]:
    """Per activation, the swept learning rate whose run ended with the lowest training error
    (Figure 1's "chosen independently to make training as fast as possible"); runs that
    diverged are out, and a tie goes to the smaller learning rate."""
    best: dict[str, tuple[float, float]] = {}
    for r in records:
        if r["metrics"].get("diverged") or not r["history"]:
            continue
        act, lr = r["config"]["activation"], r["config"]["lr"]
        key = (r["history"][-1]["train_top1"], lr)
        if act not in best or key < best[act]:
            best[act] = key
    return {act: lr for act, (_, lr) in best.items()}
