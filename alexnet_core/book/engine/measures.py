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
from alexnet_core.book.engine.records import network_key



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
        groups.setdefault(r.variant, []).append(r)
    return groups


def by_config(records: Iterable[dict]) -> dict[str, list[dict]]:
    """Records grouped by their config less its seed, one record per seed: the same network
    recorded under several experiments' names (a shared reference run) counts once. Configs
    compare as the result cache compares them (:func:`records.network_key`)."""
    groups: dict[str, dict[int, dict]] = {}
    for r in records:
        config = r.config
        seed = r.seed
        groups.setdefault(network_key(config), {}).setdefault(seed, r)
    return {key: list(by_seed.values()) for key, by_seed in groups.items()}


def trained_in(record, precision: str | None) -> bool:
    """Whether ``record`` was trained in ``precision`` as far as its provenance says (a record, or a
    precision, that names none matches any)."""
    mine = record.provenance.get("precision")
    return mine is None or precision is None or mine == precision


def pairable(a, b) -> bool:
    """Whether two runs of one seed form a pair: trained in the same arithmetic (the precision in
    their provenance, :func:`trained_in`). bf16 on one machine against fp32 on another would put the
    arithmetic inside the paired difference beside the design under test."""
    return trained_in(a, b.provenance.get("precision"))


def paired_seeds(reference: Iterable, ablated: Iterable) -> set:
    """The seeds at which the two sides form a pair (:func:`pairable`)."""
    ablated = list(ablated)
    return {r.seed for r in reference for o in ablated if o.seed == r.seed and pairable(r, o)}


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
    m, h = record.metrics, record.history
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
    classes = CLASSES.get(record.config.get("dataset"))
    return None if classes is None else 100.0 * (1 - 1 / classes)


def did_not_learn(record: dict, margin: float = 3.0) -> bool:
    """True when a run ended with validation error within ``margin`` points of chance
    (90% on ten classes): its ablation measures a failed optimisation, not the design."""
    chance = chance_error(record)
    val = record.metrics.get("val_top1")
    return chance is not None and val is not None and val >= chance - margin


def epochs_near_chance(record: dict, margin: float = 3.0) -> int | None:
    """Leading epochs whose validation error stayed within ``margin`` points of chance: how
    late a run started to learn. Two runs that differ mostly in this compare start times,
    not designs (at lr 0.003 AlexNet's loss spikes in its first steps; see the dropout chapter)."""
    chance = chance_error(record)
    if chance is None:
        return None
    count = 0
    for h in record.history:
        if h["val_top1"] < chance - margin:
            break
        count += 1
    return count


def sampling_error(record: dict, val: float, metric: str) -> float:
    """One run's binomial error of ``metric`` (points), each error rate on its own images: the
    validation set's; the training probe's too for a gap; an epoch's training images for a
    training error."""
    m = record.metrics
    n_val = m.get("val_images") or 1
    if metric == "overfit_gap":
        probe = record.config.get("train_eval_images") or 1024
        return math.hypot(binomial_standard_error(m["val_top1"], n_val),
                          binomial_standard_error(m["final_train_eval_top1"], probe))
    if metric in ("early_train_top1", "final_train_top1"):
        h = record.history or [{}]
        seen = h[-1].get("images_per_s", 0) * h[-1].get("train_seconds", 0)
        return binomial_standard_error(val, round(seen) or n_val)
    return binomial_standard_error(val, n_val)


def censored_speedups(reference: list[dict], ablated: list[dict], threshold: float) -> list[tuple[float, bool]]:
    """Per seed, (the ablated run's epochs to ``threshold`` training error over the reference's,
    censored): a seed whose ablated run never got there enters with the epochs it ran, as a lower
    bound (``censored``). Seeds whose reference never got there have no ratio and are left out."""
    by_seed = {r.seed: r for r in ablated}
    out = []
    for r in reference:
        other = by_seed.get(r.seed)
        a = epochs_to(r.history, "train_top1", threshold)
        if not a or other is None or not pairable(r, other):
            continue
        b = epochs_to(other.history, "train_top1", threshold)
        out.append((b / a, False) if b else (len(other.history) / a, True))
    return out


def common_target(reference: list[dict], ablated: list[dict], levels: Sequence[float]) -> float | None:
    """The lowest of ``levels`` (training error, %) that every run on both sides reached: where
    a speed-up is measured for every seed without a bound."""
    runs = reference + ablated
    reached = [lv for lv in levels if runs and all(epochs_to(r.history, "train_top1", lv) for r in runs)]
    return min(reached) if reached else None


def still_improving(record: dict) -> bool:
    """Whether a run's best validation error came at its last epoch: it had not converged."""
    h = record.history
    return bool(h) and min(h, key=lambda r: r["val_top1"])["epoch"] == h[-1]["epoch"]


def fair_gap(record: dict) -> bool:
    """Whether a run's overfitting gap can use the training error measured as validation is
    (eval mode, centre crop: ``final_train_eval_top1``) rather than the running one in train mode."""
    return record.metrics.get("final_train_eval_top1") is not None


def decay_shrinkage(record: dict) -> float:
    """The share by which weight decay alone would shrink an unused weight over the run: per step
    the paper's rule removes lr * decay of it, amplified by momentum to lr * decay / (1 - momentum)."""
    cfg = record.config
    rate = cfg.get("weight_decay", 0.0) / max(1e-12, 1.0 - cfg.get("momentum", 0.9))
    history = record.history
    if any("images_per_s" not in h or "train_seconds" not in h for h in history):
        return float("nan")  # steps unknown: no claim about the decay's reach
    steps = sum(h.get("lr", cfg.get("lr", 0.0)) * h["images_per_s"] * h["train_seconds"] / max(1, cfg.get("batch_size", 128))
                for h in history)
    return 1.0 - math.exp(-rate * steps)


def fastest_learning_rates(records: Iterable[dict]) -> dict[str, float]:
    """Per activation, the swept learning rate whose run ended with the lowest training error
    (Figure 1's "chosen independently to make training as fast as possible"); runs that
    diverged are out, and a tie goes to the smaller learning rate."""
    best: dict[str, tuple[float, float]] = {}
    for r in records:
        if r.metrics.get("diverged") or not r.history:
            continue
        act, lr = r.config["activation"], r.config["lr"]
        key = (r.history[-1]["train_top1"], lr)
        if act not in best or key < best[act]:
            best[act] = key
    return {act: lr for act, (_, lr) in best.items()}
