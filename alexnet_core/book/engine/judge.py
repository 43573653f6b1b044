"""The book's one verdict rule (book/BOOK, "Verdicts": computed, not chosen).

Runs are paired by seed: seed k of both sides shares the data order, every augmentation draw,
the dropout masks and the initial weights of every layer both have (alexnet_core.streams; the
records made before December 2026 share them only where both networks drew them alike). Two
networks of different shapes still differ in more than the design under test, so the two kinds
of pair below are pooled apart. With the paper's effect P and ours E, the mean
over seeds of the paired differences (the design minus without it, in points), E's standard
error s combines

- the spread of the paired differences between seeds, sd_d / sqrt(n), with sd_d pooled over the
  profile's claims of the same kind on the same metric and run length (pairs whose two networks
  have the same parameter shapes, and pairs whose shapes differ, apart; 8-epoch pairs apart from
  24-epoch ones, whose differences have had three times as long to grow) on nu degrees of
  freedom; and
- the validation images' own sampling error of the difference: from the per-image predictions
  where both sides of every pair recorded them, else from each side's binomial error, combined
  as if the two sides were independent (the caveat says so).

A claim whose sides share no seed is judged unpaired, by the family's pooled seed spread, and
says so. With t the two-sided 95% quantile of Student's t on nu degrees of freedom (the normal's
where no seed spread is measured and the images' error stands alone), CI = E +/- t s, and:

- *not reproduced*: the CI excludes 0 and E has the opposite sign of P, whatever the power;
- *reproduced*: the CI excludes 0, E has P's sign, and the CI contains P or E is within a
  factor of two of P (a qualitative claim, no P: the CI excludes 0 in the claimed direction);
- *direction only*: the CI excludes 0, E has P's sign, its size is off by more than a factor of
  two and P lies outside the CI;
- *within noise*: the CI contains 0 but excludes P;
- *underpowered*: the CI contains both 0 and P. The caveat gives E's sign and the seeds per side
  that would give 80% power, n = ((t + t_0.8) sd_d / P)^2, with the images' part s_i of the error
  kept (more seeds do not shrink it): the least n with (t + t_0.8) sqrt(sd_d^2 / n + s_i^2) <= |P|,
  t on the degrees of freedom the pooled spread would have with those pairs added.

With one pair (one run per side) every verdict is *provisional*.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from statistics import mean, stdev
from typing import Iterable, Mapping, Sequence

import torch

from alexnet_core.config import TrainConfig
from alexnet_core.evaluate import unpack_hits
from alexnet_core.inputs import build_model
from alexnet_core.book.engine.measures import (CLASSES, by_config, by_variant, censored_speedups, decay_shrinkage,
                                               did_not_learn, fair_gap, mean_and_se, pairable, sampling_error,
                                               seed_spread, still_improving, value)
from alexnet_core.book.engine.plan import EXPERIMENTS
from alexnet_core.book.engine.records import family_records, network_key
from alexnet_core.book.engine.student import t_quantile, two_sided

VERDICTS = ("reproduced", "direction only", "within noise", "underpowered", "not reproduced")
#: The two kinds of claim whose paired spreads are pooled apart.
SAME, DIFFERENT = "same shapes", "different shapes"
#: Where a metric's per-image predictions are recorded (alexnet_core.train.final_predictions).
VIEWS = {"val_top1": ("centre", "top1"), "val_top5": ("centre", "top5"),
         "val10_top1": ("ten_patch", "top1"), "val10_top5": ("ten_patch", "top5")}
#: Classes of each dataset, for building a network's shapes (synthetic data has four).
MODEL_CLASSES = CLASSES | {"synthetic": 4}


@dataclass(frozen=True)
class Noise:
    """How far a metric moves between seeds: the pooled standard deviation ``sd`` on ``dof``
    degrees of freedom, over ``configs`` configurations (or claims, for paired differences)."""

    sd: float
    dof: int
    configs: int = 0

    @property
    def measured(self) -> bool:
        """A spread of exactly 0 (every seed the same epoch count, say) is a censored measurement,
        not a measured absence of noise."""
        return self.dof > 0 and math.isfinite(self.sd) and self.sd > 0


class Spreads(dict):
    """What :func:`seed_noise` measures in one profile and family: per metric the unpaired seed
    spread (the dict itself, as :func:`family_noise` gives it), and in ``paired``, per (metric,
    kind, epochs) (:func:`pool_of`), the spread of paired differences pooled over those claims."""

    def __init__(self, unpaired: Mapping[str, Noise] = (),
                 paired: Mapping[tuple[str, str, int], Noise] | None = None):
        super().__init__(unpaired)
        self.paired = dict(paired or {})


@dataclass(frozen=True)
class Estimate:
    """An effect E, its standard error s, the runs (pairs) per side and where s comes from:
    ``paired`` (the pooled spread of paired differences), ``seeds`` (the unpaired seed spread
    standing in), ``unpaired`` (sides that share no seed), ``binomial`` (the validation images'
    error alone) or ``none``. ``sd``: the spread of one difference (for the seeds a verdict would
    need); ``dof``: nu, the degrees of freedom of t; ``notes``: caveats of how s was made."""

    effect: float
    se: float
    runs: int
    source: str
    sd: float = float("nan")
    paired: bool = False
    dof: float = math.inf
    notes: tuple[str, ...] = ()
    images: float = 0.0  # the validation images' part of ``se``, which more seeds cannot remove

    @property
    def interval(self) -> tuple[float, float]:
        """CI = E +/- t s, t the two-sided 95% quantile of Student's t on ``dof`` degrees of freedom."""
        if math.isnan(self.effect) or not math.isfinite(self.se):
            return float("nan"), float("nan")
        t = two_sided(self.dof)
        half = math.inf if math.isinf(t) else t * self.se
        return self.effect - half, self.effect + half


def same_sign(a: float, b: float) -> bool:
    return math.copysign(1, a) == math.copysign(1, b)


def verdict(paper: float | None, est: Estimate, sign: int = -1) -> str:
    """The verdict word for ``est`` against the paper's effect ``paper`` (None: a qualitative
    claim whose expected sign is ``sign``), by its confidence interval."""
    if math.isnan(est.effect):
        return "not measured"
    if not math.isfinite(est.se):
        return "underpowered"  # no error to judge it by: one epoch count against another, say
    low, high = est.interval
    beyond = low > 0 or high < 0
    if beyond and not same_sign(est.effect, sign if paper is None else paper):
        return "not reproduced"  # first: the opposite beyond the noise, whatever the power
    if paper is None:
        return "reproduced" if beyond else "within noise"
    holds_paper = low <= paper <= high
    if beyond:
        return "reproduced" if holds_paper or 0.5 <= est.effect / paper <= 2.0 else "direction only"
    return "underpowered" if holds_paper else "within noise"


#: The most seeds per side :func:`pairs_needed` looks for before it says no number will do.
MOST_SEEDS = 1000


def pairs_needed(sd: float, paper: float | None, dof: float, images: float = 0.0, runs: int | None = None) -> int | None:
    """Seeds per side for 80% power against the paper's effect at the spread ``sd`` of one
    difference and the validation images' part ``images`` of the error (which more seeds do not
    shrink): the least n with (t + t_0.8) sqrt(sd^2 / n + images^2) <= |P|, t and t_0.8 on the
    degrees of freedom the spread would then have (``dof``, plus one for each pair beyond the
    ``runs`` it rests on now, where given: a pooled spread is measured better by every pair added). BOOK.md's
    n = ((t + t_0.8) sd / P)^2 when ``images`` is 0 and the degrees of freedom stay. None where no
    number of seeds up to :data:`MOST_SEEDS` gives the power, or nothing is measured."""
    if not paper or not math.isfinite(sd) or sd <= 0 or not dof > 0:
        return None
    most_dof = dof if runs is None else dof + max(0, MOST_SEEDS - runs)
    if (two_sided(most_dof) + t_quantile(0.8, most_dof)) * images >= abs(paper):
        return None  # the images' part alone keeps it out of reach: no need to try every n
    for n in range(1, MOST_SEEDS + 1):
        nu = dof if runs is None else dof + max(0, n - runs)
        if (two_sided(nu) + t_quantile(0.8, nu)) * math.sqrt(sd ** 2 / n + images ** 2) <= abs(paper):
            return n
    return None


def caveat(word: str, paper: float | None, est: Estimate, sign: int = -1) -> str:
    """What a reader must know beside the verdict: for an underpowered test E's sign and the seeds
    per side that would give 80% power (:func:`pairs_needed`, with the validation images' part of the
    error, which more seeds leave; or, where that part alone keeps the paper's effect open, that);
    runs per side; and where the error comes from."""
    parts = []
    if word.startswith("underpowered") and not math.isnan(est.effect):
        same = same_sign(est.effect, sign if paper is None else paper)
        parts.append(("the paper's sign" if same else "the opposite sign")
                     + ("" if math.isfinite(est.se) else ", no standard error"))
        need = pairs_needed(est.sd, paper, est.dof, est.images, est.runs) if paper is not None else None
        if need is not None and need <= est.runs:  # the design has the power: the effect came out smaller
            parts.append(f"{est.runs} seeds per side already give 80% power against the paper's effect; ours came "
                         "out smaller, and more seeds would narrow it")
        elif need is not None:
            parts.append(f"about {need} seed{'s' * (need != 1)} per side would give 80% power")
        if paper and est.images * (two_sided(math.inf) + t_quantile(0.8, math.inf)) >= abs(paper):  # any seeds
            parts.append(f"the validation images' own error ({est.images:.2f} points) alone keeps an effect of the "
                         "paper's size open: more seeds alone cannot settle it")
    return "; ".join(parts + provisional(est.runs, est.source, est.effect) + list(est.notes))


def provisional(runs: int, source: str, effect: float = 0.0) -> list[str]:
    """The caveats every verdict keeps, whatever decided it: one run per side, and an error that
    does not come from a measured spread between seeds."""
    reasons = ["one run per side"] * (runs == 1)
    if source == "binomial":
        reasons.append("no seed spread measured in this profile, binomial error only")
    parts = [f"provisional: {' and '.join(reasons)}"] if reasons else []
    if source == "none" and runs and not math.isnan(effect):
        parts.append("no measured spread")
    return parts


def not_yet(recorded: int, expected: int) -> str:
    """The verdict of an experiment whose runs are still being recorded."""
    return f"not measured yet ({recorded} of {expected} runs recorded)"


def label(word: str, note: str) -> str:
    """The verdict as a page shows it: the word, and its caveat in brackets."""
    return f"{word} ({note})" if note else word


# --------------------------------------------------------------------------- pairs and their kind

def pairs_of(ref: Sequence, abl: Sequence, metric: str) -> list[tuple]:
    """(reference run, ablated run, difference) per seed both sides ran, in one precision
    (:func:`measures.pairable`), with a value of ``metric``."""
    other = {r.seed: r for r in abl if r.seed is not None}
    out, seen = [], set()
    for r in ref:
        o = other.get(r.seed)
        if o is None or r.seed in seen or not pairable(r, o):
            continue
        a, b = value(r, metric), value(o, metric)
        if a is None or b is None or math.isnan(a) or math.isnan(b):
            continue
        seen.add(r.seed)
        out.append((r, o, a - b))
    return out


def _config_key(config: dict) -> str:
    return network_key(config)


_KINDS: dict[tuple[str, str], str] = {}


def kind_of(config_a: dict, config_b: dict) -> str:
    """Whether two runs' networks have the same parameter shapes (:data:`SAME`) or not
    (:data:`DIFFERENT`), from their configs built on the meta device; cached per pair of configs."""
    key = (_config_key(config_a), _config_key(config_b))
    if key not in _KINDS:
        _KINDS[key] = SAME if _shapes(config_a) == _shapes(config_b) else DIFFERENT
    return _KINDS[key]


def pool_of(config_a: dict, config_b: dict) -> tuple[str, int]:
    """The pool a pair's spread joins: its :func:`kind_of` and its run length in epochs (the two
    sides of a pair train equally long)."""
    return kind_of(config_a, config_b), int(config_a.get("epochs", 0))


def _shapes(config: dict) -> tuple:
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in config.items() if k in known})
    with torch.random.fork_rng(devices=[]), torch.device("meta"):  # build_model seeds torch: leave it as found
        model = build_model(cfg, MODEL_CLASSES.get(cfg.dataset, 10))
    return tuple((name, tuple(t.shape)) for name, t in model.state_dict().items())


# --------------------------------------------------------------------------- the spreads

def seed_noise(family: str, profile: str, results_dir: Path | None = None) -> Spreads:
    """The spreads every verdict of ``family`` in ``profile`` uses: per metric an effect is judged
    on, the unpaired seed spread (:func:`family_noise`), and the paired spreads by kind and run length
    (:func:`paired_spreads`) over the family's records grouped by experiment and variant."""
    metrics = {e.metric for exp in EXPERIMENTS.values() for e in exp.effects}
    records = family_records(family, profile, results_dir)
    experiments: dict[str, list] = {}
    for r in records:
        experiments.setdefault(r.found.experiment, []).append(r)
    return Spreads(family_noise(records, metrics),
                   paired_spreads({name: by_variant(runs) for name, runs in experiments.items()}))


def paired_spreads(experiments: Mapping[str, dict[str, list]]) -> dict[tuple[str, str, int], Noise]:
    """Per (metric, kind, epochs) (:func:`pool_of`), the standard deviation of paired differences
    pooled over every claim of the ``experiments`` (name -> records by variant) with two pairs or
    more, on sum(n_pairs - 1) degrees of freedom. A pair of networks two claims share on one metric counts once; a claim
    with a run that did not learn, or a censored epoch count, measures no spread."""
    squares: dict[tuple[str, str, int], float] = {}
    dof: dict[tuple[str, str, int], int] = {}
    claims: dict[tuple[str, str, int], int] = {}
    seen = set()
    for name, groups in experiments.items():
        for eff in EXPERIMENTS[name].effects if name in EXPERIMENTS else ():
            ref, abl = groups.get(eff.reference, []), groups.get(eff.ablated, [])
            pairs = pairs_of(ref, abl, eff.metric)
            if eff.metric == "speedup" or len(pairs) < 2 or not _spread_usable(eff, ref + abl):
                continue
            ident = (eff.metric, _config_key(pairs[0][0].config), _config_key(pairs[0][1].config))
            if ident in seen:
                continue
            seen.add(ident)
            key = (eff.metric, *pool_of(pairs[0][0].config, pairs[0][1].config))
            diffs = [d for *_, d in pairs]
            centre = mean(diffs)
            squares[key] = squares.get(key, 0.0) + sum((d - centre) ** 2 for d in diffs)
            dof[key] = dof.get(key, 0) + len(diffs) - 1
            claims[key] = claims.get(key, 0) + 1
    return {key: Noise(math.sqrt(squares[key] / dof[key]), dof[key], claims[key]) for key in squares}


def _spread_usable(effect, runs: list) -> bool:
    if any(did_not_learn(r) for r in runs):
        return False
    return not (effect.metric == "best_epoch" and any(still_improving(r) for r in runs))


def family_noise(records: Iterable[dict], metrics: Iterable[str]) -> dict[str, Noise]:
    """Per metric, the seed spread pooled over every configuration in ``records`` (one profile,
    one family) that was trained under several seeds: the yardstick of an unpaired claim."""
    groups = by_config(records)
    out = {}
    for metric in metrics:
        sd, dof = seed_spread(groups, metric)
        out[metric] = Noise(sd, dof, sum(len(g) >= 2 for g in groups.values()))
    return out


# --------------------------------------------------------------------------- the validation images' error

def image_error(pairs: list[tuple], metric: str) -> tuple[float, str]:
    """The validation images' sampling error of the mean paired difference, in points, and how it
    was measured: ``predictions`` (per image, from the runs' recorded predictions), ``binomial``
    (each side's binomial error, as if the sides were independent) or '' (an epoch count has none)."""
    if metric == "best_epoch":
        return 0.0, ""
    per_image = prediction_differences(pairs, metric)
    if per_image is not None and len(per_image) > 1:
        return 100.0 * float(per_image.std()) / math.sqrt(len(per_image)), "predictions"
    return binomial_error([r for r, _, _ in pairs], [o for _, o, _ in pairs], metric), "binomial"


def binomial_error(ref: list, abl: list, metric: str) -> float:
    """Each side's binomial error at its mean value, combined as if the sides were independent."""
    errors = []
    for side in (ref, abl):
        vals = [v for v in (value(r, metric) for r in side) if v is not None]
        errors.append(sampling_error(side[0], mean(vals), metric) if vals else 0.0)
    return math.hypot(*errors)


def prediction_differences(pairs: list[tuple], metric: str):
    """Per validation image, the mean over pairs of (reference wrong) - (ablated wrong), a float64
    tensor; None unless both sides of every pair recorded predictions of this view on the same images."""
    view = VIEWS.get(metric)
    preds = [(r.predictions, o.predictions) for r, o, _ in pairs]
    if view is None or not preds or any(p is None or view[0] not in p for pair in preds for p in pair):
        return None
    if len({(p.get("images"), p.get("images_digest")) for pair in preds for p in pair}) != 1:
        return None
    n = preds[0][0]["images"]
    total = torch.zeros(n, dtype=torch.float64)
    for p, q in preds:  # wrong_ref - wrong_abl = hit_abl - hit_ref
        total += unpack_hits(q[view[0]][view[1]], n).double() - unpack_hits(p[view[0]][view[1]], n).double()
    return total / len(preds)


# --------------------------------------------------------------------------- estimates

IMAGES_BINOMIAL = "validation images' error from each side's binomial error, as if independent"


def paired_estimate(metric: str, pairs: list[tuple], pooled: Noise | None, unpaired: Noise | None) -> Estimate:
    """E over ``pairs`` and s from the pooled paired spread ``pooled`` (the claim's own pairs when
    none is given); where no paired spread is measured, the unpaired seed spread ``unpaired`` of one
    run, times sqrt(2) for a difference, stands in; where neither is, the images' error stands alone."""
    diffs = [d for *_, d in pairs]
    n = len(diffs)
    images, how = image_error(pairs, metric)
    notes = [IMAGES_BINOMIAL] if how == "binomial" else []
    if pooled is None:
        pooled = Noise(stdev(diffs) if n > 1 else float("nan"), n - 1, 1)
    if pooled.measured:
        sd, dof, source = pooled.sd, pooled.dof, "paired"
    elif unpaired is not None and unpaired.measured:
        sd, dof, source = math.sqrt(2) * unpaired.sd, unpaired.dof, "seeds"
        notes.insert(0, "no paired spread of this kind and run length measured: the unpaired seed spread stands in")
    else:
        sd, dof, source = float("nan"), math.inf, "binomial" if images > 0 else "none"
    seeds = sd ** 2 / n if math.isfinite(sd) else 0.0
    se = math.sqrt(seeds + images ** 2) if (math.isfinite(sd) or images > 0) else float("nan")
    return Estimate(mean(diffs), se, n, source, sd, True, dof, tuple(notes), images)


def estimate(a: Sequence[float], b: Sequence[float], noise: Noise | None = None, images: float = 0.0) -> Estimate:
    """The unpaired estimate, for sides that share no seed: E = mean(a) - mean(b), s from the seed
    spread of one run when measured, sd * sqrt(1/n_a + 1/n_b), combined with the images' error
    ``images``; else from the images' error alone; else none."""
    a, b = [v for v in a if v is not None], [v for v in b if v is not None]
    if not a or not b:
        return Estimate(float("nan"), float("nan"), 0, "none")
    effect, runs, notes = mean(a) - mean(b), min(len(a), len(b)), ("unpaired: the two sides share no seed",)
    if noise is not None and noise.measured:
        se = math.sqrt(noise.sd ** 2 * (1 / len(a) + 1 / len(b)) + images ** 2)
        return Estimate(effect, se, runs, "unpaired", math.sqrt(2) * noise.sd, False, noise.dof, notes, images)
    if images > 0:
        return Estimate(effect, images, runs, "binomial", notes=notes, images=images)
    return Estimate(effect, float("nan"), runs, "none", notes=notes)


# --------------------------------------------------------------------------- rows

def effect_row(effect, groups: dict[str, list[dict]], smoke: bool = False, threshold: float = 25.0,
               noise: Mapping | None = None, expected: int | None = None) -> dict:
    """One scorecard row: the paper's effect, ours with its standard error and CI (``low``,
    ``high``), the runs per side, the verdict and its caveat. ``noise``: the spreads of
    :func:`seed_noise` (a plain metric -> :class:`Noise` mapping gives the unpaired spreads alone,
    and a paired claim then pools its own pairs). With ``expected`` (the experiment's run count), an
    experiment still being recorded gets no verdict until every run is in (:func:`not_yet`)."""
    ref, abl = groups.get(effect.reference, []), groups.get(effect.ablated, [])
    if effect.metric == "speedup":
        row = speedup_row(effect, ref, abl, threshold)
    else:
        row = difference_row(effect, ref, abl, {} if noise is None else noise)
    override = None if smoke else power_override(effect, ref, abl)
    if smoke:
        row.update(verdict="no verdict (smoke)", note="")
    elif override is not None:  # the reason first, then the caveats every verdict keeps
        row["verdict"] = override[0]
        row["note"] = "; ".join([override[1]] * bool(override[1])
                                + provisional(row["runs"], row["source"], row["ours"]))
    row["label"] = label(row["verdict"], row["note"])
    recorded = sum(map(len, groups.values()))
    if expected is not None and recorded < expected and not smoke:  # its verdicts wait for every run
        row.update(verdict="not measured yet", note=f"{recorded} of {expected} runs recorded",
                   label=not_yet(recorded, expected))
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


def difference_row(effect, ref: list[dict], abl: list[dict], noise: Mapping) -> dict:
    """An effect measured as a difference (reference minus ablated), judged by the rule: paired by
    seed where the sides share seeds, else unpaired."""
    est = difference_estimate(effect, ref, abl, noise)
    word = verdict(effect.paper, est, effect.sign)
    low, high = est.interval
    return dict(claim=effect.label, paper=effect.paper, ours=est.effect, se=est.se, runs=est.runs, verdict=word,
                note=caveat(word, effect.paper, est, effect.sign), bound=None, source=est.source, low=low, high=high)


def difference_estimate(effect, ref: list[dict], abl: list[dict], noise: Mapping) -> Estimate:
    """The :class:`Estimate` of an effect measured as a difference: paired by seed where the sides
    share seeds (s from the pooled paired spread of its kind in ``noise``), else unpaired."""
    unpaired = noise.get(effect.metric)
    pairs = pairs_of(ref, abl, effect.metric)
    if pairs:
        pooled = None
        if isinstance(noise, Spreads):
            pooled = noise.paired.get((effect.metric, *pool_of(pairs[0][0].config, pairs[0][1].config)))
        est = paired_estimate(effect.metric, pairs, pooled, unpaired)
    else:
        a = [v for v in (value(r, effect.metric) for r in ref) if v is not None]
        b = [v for v in (value(r, effect.metric) for r in abl) if v is not None]
        if unpaired is None or not unpaired.measured:  # the two sides' own seeds, when they have several
            unpaired = Noise(*seed_spread({"a": ref, "b": abl}, effect.metric), 2)
        images = binomial_error(ref, abl, effect.metric) if a and b and effect.metric != "best_epoch" else 0.0
        est = estimate(a, b, unpaired, images)
    return est


def speedup_row(effect, ref: list[dict], abl: list[dict], threshold: float) -> dict:
    """Figure 1's speed-up at ``threshold``, one ratio per seed (paired), judged by its CI on n - 1
    degrees of freedom: a seed whose slow run never reached the target enters as a lower bound (its
    epochs run), and then the mean is itself a lower bound (book/BOOK: censored runs are never
    dropped); a seed whose fast run never got there either has no ratio at all, and the test is
    underpowered at this target."""
    per_seed = censored_speedups(ref, abl, threshold)
    values = [v for v, _ in per_seed]
    censored = sum(c for _, c in per_seed)
    unresolved = len({r.seed for r in ref}) - len(per_seed)
    ours, se = mean_and_se(values)
    se = se if len(values) > 1 else float("nan")
    sd = stdev(values) if len(values) > 1 else float("nan")
    est = Estimate(ours - 1.0 if values else float("nan"), se, len(values) + unresolved,
                   "seeds" if len(values) > 1 else "none", sd, True, max(len(values) - 1, 0))
    expected = (effect.paper - 1.0) if effect.paper else None
    word = verdict(expected, est, effect.sign)
    note = caveat(word, expected, est, effect.sign)
    if values and (censored or unresolved):
        word = bounded_verdict(est, expected, unresolved)
        note = "; ".join([f"in {unresolved} of {est.runs} seeds neither net reached the target"] * bool(unresolved)
                         + [caveat("underpowered" if word.startswith("underpowered") else word, expected, est)])
    low, high = est.interval
    return dict(claim=effect.label, paper=effect.paper, ours=ours, se=se, runs=est.runs, verdict=word,
                note=note.strip("; "), bound=ours if censored and values else None, censored=censored,
                unresolved=unresolved, source=est.source, low=low + 1.0, high=high + 1.0)


def bounded_verdict(est: Estimate, expected: float | None, unresolved: int) -> str:
    """The verdict of a speed-up that is only bounded from below (``est.effect`` = bound - 1), by
    its CI: underpowered when a seed has no ratio, there is no error, or the CI holds both 0 and
    the paper's effect (or lies wholly below 0, which bounds nothing); within noise when it holds 0
    but not the paper's effect; beyond 0, 'reproduced' when the CI holds the paper's effect or the
    bound lies within a factor of two of it (the true value may be larger), else the direction."""
    if unresolved or not math.isfinite(est.se):
        return "underpowered (lower bound)"
    low, high = est.interval
    if high < 0 or (low <= 0 and expected is not None and low <= expected <= high):
        return "underpowered (lower bound)"
    if low <= 0:
        return "within noise (lower bound)"
    if expected is not None and (low <= expected <= high or 0.5 <= est.effect / expected <= 2.0):
        return "reproduced (lower bound)"
    return "direction only (lower bound)"
