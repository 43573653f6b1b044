"""Summaries the chapters share: spread over seeds, epochs to a target, and the one verdict rule.

The verdict rule (book/BOOK: "computed, not chosen"): with the paper's effect P and ours E
with standard error s,

- *reproduced*: E has P's sign, |E| > 2s, and E is within a factor of two of P;
- *direction only*: E has P's sign and |E| > 2s, but is off by more than a factor of two;
- *within noise*: |E| <= 2s;
- *not reproduced*: E has the opposite sign and |E| > 2s.
"""
from __future__ import annotations

import math
from statistics import mean, stdev
from typing import Iterable, Sequence

from ..evaluate import binomial_standard_error
from .records import recorded_hash

VERDICTS = ("reproduced", "direction only", "within noise", "not reproduced")


def mean_and_se(values: Sequence[float]) -> tuple[float, float]:
    """Mean and its standard error (0 for a single value: use a binomial error then)."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return float("nan"), float("nan")
    if len(values) == 1:
        return values[0], 0.0
    return mean(values), stdev(values) / math.sqrt(len(values))


def difference(a: Sequence[float], b: Sequence[float], se_single: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float]:
    """Effect ``mean(a) - mean(b)`` and its standard error; ``se_single`` supplies each side's
    error when it has one run (a binomial error on the validation set)."""
    ma, sa = mean_and_se(a)
    mb, sb = mean_and_se(b)
    sa = sa if len(a) > 1 else se_single[0]
    sb = sb if len(b) > 1 else se_single[1]
    return ma - mb, math.sqrt(sa ** 2 + sb ** 2)


def verdict(paper_effect: float, effect: float, se: float) -> str:
    """The book's verdict for an effect ``effect`` +/- ``se`` against the paper's ``paper_effect``."""
    if math.isnan(effect):
        return "not measured"
    if abs(effect) <= 2 * se:
        return "within noise"
    if math.copysign(1, effect) != math.copysign(1, paper_effect):
        return "not reproduced"
    ratio = abs(effect) / abs(paper_effect) if paper_effect else float("inf")
    return "reproduced" if 0.5 <= ratio <= 2.0 else "direction only"


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
        vals = [v for v in (value(r, metric) for r in runs) if v is not None]
        if len(vals) >= 2:
            centre = mean(vals)
            squares += sum((v - centre) ** 2 for v in vals)
            dof += len(vals) - 1
    return (math.sqrt(squares / dof) if dof else float("nan")), dof


# --------------------------------------------------------------------------- effects and tables

def value(record: dict, metric: str) -> float | None:
    """A run's metric, or a derived one: ``overfit_gap`` (validation minus final training top-1),
    ``early_train_top1`` (training error after the first quarter of the epochs)."""
    m, h = record["metrics"], record["history"]
    if metric == "overfit_gap":
        return m["val_top1"] - m["final_train_top1"] if m.get("final_train_top1") is not None else None
    if metric == "early_train_top1":
        return h[max(0, len(h) // 4 - 1)]["train_top1"] if h else None
    if metric == "best_epoch":
        return float(min(h, key=lambda r: r["val_top1"])["epoch"]) if h else None
    return m.get(metric)


def speedups(reference: list[dict], ablated: list[dict], threshold: float,
             with_bounds: bool = False) -> list[float] | tuple[list[float], list[float]]:
    """Per seed: epochs the ablated run needed to reach ``threshold`` training error over the reference's.

    With ``with_bounds``, also the lower bounds (epochs run / reference's epochs) of seeds
    whose ablated run never reached the threshold: the speed-up is at least that.
    """
    by_seed = {r["provenance"].get("seed"): r for r in ablated}
    out, bounds = [], []
    for r in reference:
        other = by_seed.get(r["provenance"].get("seed"))
        a = epochs_to(r["history"], "train_top1", threshold)
        b = epochs_to(other["history"], "train_top1", threshold) if other else None
        if a and b:
            out.append(b / a)
        elif a and other is not None:
            bounds.append(len(other["history"]) / a)
    return (out, bounds) if with_bounds else out


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


def effect_row(effect, groups: dict[str, list[dict]], smoke: bool = False, threshold: float = 25.0) -> dict:
    """One scorecard row: the paper's effect, ours with its standard error, runs, and the verdict."""
    ref, abl = groups.get(effect.reference, []), groups.get(effect.ablated, [])
    bound = None
    if effect.metric == "speedup":
        ratios, bounds = speedups(ref, abl, threshold, with_bounds=True)
        if not ratios and bounds:  # the slower net never reached the target: only a lower bound
            bound = min(bounds)
        ours, se = mean_and_se(ratios) if ratios else (float("nan"), float("nan"))
        runs = len(ratios) or len(bounds)
        expected = (effect.paper - 1.0) if effect.paper else None
        measured = ours - 1.0
    else:
        a = [v for v in (value(r, effect.metric) for r in ref) if v is not None]
        b = [v for v in (value(r, effect.metric) for r in abl) if v is not None]
        n_val = ref[0]["metrics"].get("val_images", 1) if ref else 1
        # one run per side: a binomial error for error rates; an epoch count has none to offer
        percent = effect.metric not in ("best_epoch",)
        # a gap's sampling error is its validation error's (a gap is not itself a proportion)
        rate = (lambda vals, runs: runs[0]["metrics"]["val_top1"]) if effect.metric == "overfit_gap" else \
            (lambda vals, runs: vals[0])
        single = (binomial_standard_error(rate(a, ref), n_val) if len(a) == 1 and percent else 0.0,
                  binomial_standard_error(rate(b, abl), n_val) if len(b) == 1 and percent else 0.0)
        ours, se = difference(a, b, single) if a and b else (float("nan"), float("nan"))
        runs = min(len(a), len(b))
        expected, measured = effect.paper, ours
    if smoke:
        word = "no verdict (smoke)"
    elif any(did_not_learn(r) for r in ref + abl):
        word = "inconclusive (a run did not learn)"
    elif bound is not None:
        # a speed-up of at least `bound`: the sign is settled, the size only bounded from below
        word = "direction only (lower bound)" if bound > 1 else "within noise"
        if expected is not None and bound - 1 >= 0.5 * expected:
            word = "reproduced (lower bound)"
    elif runs == 0 or math.isnan(measured):
        word = "not measured"
    elif expected is None:
        word = verdict(float(effect.sign), measured, se)
        word = "reproduced" if word in ("reproduced", "direction only") else word
    else:
        word = verdict(expected, measured, se)
    return dict(claim=effect.label, paper=effect.paper, ours=ours, se=se, runs=runs, verdict=word, bound=bound)


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
                     "epochs": round(mean([len(r["history"]) for r in runs]), 1)})
    return pd.DataFrame(rows)


def effect_table(experiment, records: list[dict], smoke: bool = False):
    """The experiment's effects as a table, ready to show."""
    import pandas as pd

    groups = by_variant(records)
    rows = []
    for eff in experiment.effects:
        r = effect_row(eff, groups, smoke, experiment.paper.get("target_train_error", 25.0))
        rows.append({"claim": r["claim"], "paper": "qualitative" if r["paper"] is None else f"{r['paper']:+.1f}",
                     "ours": format_ours(r),
                     "runs per side": r["runs"], LATE_START: late_start(eff, groups),
                     "verdict": r["verdict"]})
    return pd.DataFrame(rows)


def format_ours(row: dict) -> str:
    """'+1.23 ± 0.45', '≥ 1.8 (lower bound)' or '-' for a row of :func:`effect_row`."""
    if row.get("bound") is not None:
        return f"≥ {row['bound']:.2f} (lower bound)"
    if math.isnan(row["ours"]):
        return "-"
    if row["se"] == 0:  # an epoch count from one run per side has no standard error
        return f"{row['ours']:+.2f} (one run each, no error)"
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
