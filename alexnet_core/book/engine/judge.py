"""The book's one verdict rule (book/BOOK: "computed, not chosen"), knowing the power of its test.

With the paper's effect P and ours E = mean(with the design) - mean(without), over seeds, with
standard error s:

- *underpowered*: 2s >= |P|: the experiment cannot resolve an effect of the paper's size. E's
  sign is reported, and how many seeds per side (at the measured spread) would resolve it;
- *reproduced*: E has P's sign, |E| > 2s, and E is within a factor of two of P;
- *direction only*: E has P's sign and |E| > 2s, but its size is off by more than a factor of two;
- *within noise*: |E| <= 2s while 2s < |P|: an effect of the paper's size would have shown;
- *not reproduced*: E has the opposite sign and |E| > 2s.

A qualitative claim (no P) is reproduced when E has the expected sign beyond 2s. The standard
error comes from the spread between seeds, pooled over every configuration the same profile
trained under several seeds, on the same metric (:class:`Noise`); only where no such spread is
measured does it fall back to a run's binomial error on the validation images, which leaves
most of a run's noise out. With one run per side a verdict is *provisional*.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from statistics import mean, stdev
from typing import Iterable, Sequence

from alexnet_core.book.engine.measures import (by_config, censored_speedups, decay_shrinkage, did_not_learn,
                                               fair_gap, mean_and_se, sampling_error, seed_spread, still_improving,
                                               value)
from alexnet_core.book.engine.plan import EXPERIMENTS
from alexnet_core.book.engine.records import family_records

VERDICTS = ("reproduced", "direction only", "within noise", "underpowered", "not reproduced")


@dataclass(frozen=True)
class Noise:
    """How far one run's metric moves between seeds: the pooled standard deviation ``sd`` over
    ``configs`` configurations trained under several seeds (``dof`` degrees of freedom)."""

    sd: float
    dof: int
    configs: int = 0

    @property
    def measured(self) -> bool:
        """A spread of exactly 0 (every seed the same epoch count, say) is a censored measurement,
        not a measured absence of noise."""
        return self.dof > 0 and math.isfinite(self.sd) and self.sd > 0


@dataclass(frozen=True)
class Estimate:
    """An effect, its standard error, the runs per side, and where the error comes from
    (``seeds``: the pooled seed spread; ``binomial``: the validation set's sampling alone;
    ``none``: nothing to go on, as for an epoch count from one run per side)."""

    effect: float
    se: float
    runs: int
    source: str
    sd: float = float("nan")  # the per-run spread behind ``se`` (for the seeds a verdict would need)
    paired: bool = False  # one difference per seed (a speed-up ratio), not two independent sides


def estimate(a: Sequence[float], b: Sequence[float], noise: Noise | None = None,
             binomial: tuple[float, float] | None = None) -> Estimate:
    """E = mean(a) - mean(b) and its standard error: from the seed spread when it is measured,
    s = sd * sqrt(1/n_a + 1/n_b); else from the binomial errors of single runs (``binomial``,
    one per side); else none."""
    a, b = [v for v in a if v is not None], [v for v in b if v is not None]
    if not a or not b:
        return Estimate(float("nan"), float("nan"), 0, "none")
    effect, runs = mean(a) - mean(b), min(len(a), len(b))
    if noise is not None and noise.measured:
        return Estimate(effect, noise.sd * math.sqrt(1 / len(a) + 1 / len(b)), runs, "seeds", noise.sd)
    if binomial is not None:
        return Estimate(effect, math.hypot(*binomial), runs, "binomial")
    return Estimate(effect, float("nan"), runs, "none")


def seeds_to_resolve(sd: float, paper: float, paired: bool = False) -> int | None:
    """Seeds per side at which 2s falls below |P| for a per-run spread ``sd``: two independent
    sides, 2 * sd * sqrt(2/n) < |P|, so n > 8 sd^2 / P^2; one paired difference per seed (``sd``
    its spread), 2 * sd / sqrt(n) < |P|, so n > 4 sd^2 / P^2."""
    if not paper or not math.isfinite(sd) or sd <= 0:
        return None
    return math.floor((4 if paired else 8) * sd ** 2 / paper ** 2) + 1


def verdict(paper: float | None, est: Estimate, sign: int = -1) -> str:
    """The verdict word for ``est`` against the paper's effect ``paper`` (None: a qualitative
    claim whose expected sign is ``sign``)."""
    if math.isnan(est.effect):
        return "not measured"
    if not math.isfinite(est.se):
        return "underpowered"  # no error to judge it by: one epoch count against another, say
    beyond = abs(est.effect) > 2 * est.se
    if paper is None:
        if not beyond:
            return "within noise"
        return "reproduced" if math.copysign(1, est.effect) == math.copysign(1, sign) else "not reproduced"
    if 2 * est.se >= abs(paper):
        return "underpowered"
    if not beyond:
        return "within noise"
    if math.copysign(1, est.effect) != math.copysign(1, paper):
        return "not reproduced"
    return "reproduced" if 0.5 <= abs(est.effect) / abs(paper) <= 2.0 else "direction only"


def caveat(word: str, paper: float | None, est: Estimate, sign: int = -1) -> str:
    """What a reader must know beside the verdict: runs per side, where the error comes from,
    and for an underpowered test E's sign and the seeds per side that would resolve it."""
    parts = []
    if word.startswith("underpowered") and not math.isnan(est.effect):
        expected = sign if paper is None else paper
        same = math.copysign(1, est.effect) == math.copysign(1, expected)
        clear = ("no standard error" if not math.isfinite(est.se)
                 else f"{'beyond' if abs(est.effect) > 2 * est.se else 'within'} 2 standard errors")
        parts.append(f"{'the paper' + chr(39) + 's sign' if same else 'the opposite sign'}, {clear}")
        need = seeds_to_resolve(est.sd, paper, est.paired) if paper is not None else None
        if need is not None:
            parts.append(f"about {need} seeds {'' if est.paired else 'per side '}would resolve it")
    return "; ".join(parts + provisional(est.runs, est.source, est.effect))


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


def seed_noise(family: str, profile: str, results_dir: Path | None = None) -> dict:
    """Per metric an effect is judged on, the seed spread (analysis.family_noise) of ``family``'s
    runs as ``profile`` shows them: the standard error every verdict of that family uses."""
    metrics = {e.metric for exp in EXPERIMENTS.values() for e in exp.effects}
    return family_noise(family_records(family, profile, results_dir), metrics)


def effect_row(effect, groups: dict[str, list[dict]], smoke: bool = False, threshold: float = 25.0,
               noise: dict[str, Noise] | None = None, expected: int | None = None) -> dict:
    """One scorecard row: the paper's effect, ours with its standard error, the runs per side, the
    verdict and its caveat. ``noise`` maps a metric to the seed spread measured in the same
    profile (:func:`family_noise`). With ``expected`` (the experiment's run count), an experiment
    still being recorded gets no verdict until every run is in (:func:`not_yet`)."""
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


def difference_row(effect, ref: list[dict], abl: list[dict], noise: Noise | None) -> dict:
    """An effect measured as a difference of means (reference minus ablated), judged by the rule."""
    sides = [[(r, v) for r in runs if (v := value(r, effect.metric)) is not None] for runs in (ref, abl)]
    a, b = ([v for _, v in side] for side in sides)
    if noise is None or not noise.measured:  # the two sides' own seeds, when they have several
        sd, dof = seed_spread({"a": ref, "b": abl}, effect.metric)
        noise = Noise(sd, dof, 2)
    binomial = None
    if len(a) == 1 and len(b) == 1 and effect.metric != "best_epoch":  # an epoch count has no sampling error
        binomial = tuple(sampling_error(*side[0], effect.metric) for side in sides)
    est = estimate(a, b, noise, binomial)
    word = verdict(effect.paper, est, effect.sign)
    return dict(claim=effect.label, paper=effect.paper, ours=est.effect, se=est.se, runs=est.runs, verdict=word,
                note=caveat(word, effect.paper, est, effect.sign), bound=None, source=est.source)


def speedup_row(effect, ref: list[dict], abl: list[dict], threshold: float) -> dict:
    """Figure 1's speed-up at ``threshold``, one ratio per seed: a seed whose slow run never
    reached the target enters as a lower bound (its epochs run), and then the mean is itself a
    lower bound (book/BOOK: censored runs are never dropped); a seed whose fast run never got
    there either has no ratio at all, and the test is underpowered at this target."""
    per_seed = censored_speedups(ref, abl, threshold)
    values = [v for v, _ in per_seed]
    censored = sum(c for _, c in per_seed)
    unresolved = len({r.seed for r in ref}) - len(per_seed)
    ours, se = mean_and_se(values)
    se = se if len(values) > 1 else float("nan")
    sd = stdev(values) if len(values) > 1 else float("nan")
    est = Estimate(ours - 1.0 if values else float("nan"), se, len(values) + unresolved,
                     "seeds" if len(values) > 1 else "none", sd, paired=True)
    expected = (effect.paper - 1.0) if effect.paper else None
    word = verdict(expected, est, effect.sign)
    note = caveat(word, expected, est, effect.sign)
    if values and (censored or unresolved):
        word = bounded_verdict(est, expected, unresolved)
        note = "; ".join([f"in {unresolved} of {est.runs} seeds neither net reached the target"] * bool(unresolved)
                         + [caveat("underpowered" if word.startswith("underpowered") else word, expected, est)])
    return dict(claim=effect.label, paper=effect.paper, ours=ours, se=se, runs=est.runs, verdict=word,
                note=note.strip("; "), bound=ours if censored and values else None, censored=censored,
                unresolved=unresolved, source=est.source)


def bounded_verdict(est: Estimate, expected: float | None, unresolved: int) -> str:
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


def family_noise(records: Iterable[dict], metrics: Iterable[str]) -> dict[str, Noise]:
    """Per metric, the seed spread pooled over every configuration in ``records`` (one profile,
    one family) that was trained under several seeds: the yardstick of :func:`effect_row`."""
    groups = by_config(records)
    out = {}
    for metric in metrics:
        sd, dof = seed_spread(groups, metric)
        out[metric] = Noise(sd, dof, sum(len(g) >= 2 for g in groups.values()))
    return out
