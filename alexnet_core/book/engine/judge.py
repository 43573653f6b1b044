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
from statistics import mean
from typing import Sequence

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
