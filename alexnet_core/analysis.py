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
        return "within noise"
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


def metric(records: Iterable[dict], key: str) -> list[float]:
    return [r["metrics"][key] for r in records if r["metrics"].get(key) is not None]
