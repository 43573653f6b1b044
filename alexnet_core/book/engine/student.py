"""Student's t distribution without scipy: its CDF through the regularized incomplete beta
function (a continued fraction, Numerical Recipes' ``betacf`` by the modified Lentz method) and
its quantile by bisection. ``nu`` may be any positive number of degrees of freedom, or ``math.inf``
for the normal distribution (a standard error with no seed spread behind it, say).
"""
from __future__ import annotations

import math


def incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), for a, b > 0 and 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):  # the fraction converges fast here; else use the symmetry
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def _beta_fraction(a: float, b: float, x: float, steps: int = 300, eps: float = 1e-15) -> float:
    """The continued fraction of I_x(a, b) (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, steps + 1):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def t_cdf(x: float, nu: float) -> float:
    """P(T <= x) for Student's t with ``nu`` degrees of freedom (the normal CDF at nu = inf)."""
    if math.isinf(nu):
        return 0.5 * math.erfc(-x / math.sqrt(2.0))
    tail = 0.5 * incomplete_beta(nu / 2.0, 0.5, nu / (nu + x * x))  # P(T > |x|)
    return 1.0 - tail if x >= 0 else tail


def t_quantile(p: float, nu: float) -> float:
    """The x with P(T <= x) = p, by bisection (inf for nu <= 0: no degrees of freedom, no bound)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"a quantile needs 0 < p < 1, got {p}")
    if not nu > 0:
        return math.inf if p > 0.5 else -math.inf
    if p < 0.5:
        return -t_quantile(1.0 - p, nu)
    low, high = 0.0, 1.0
    while t_cdf(high, nu) < p:
        high *= 2.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        if t_cdf(mid, nu) < p:
            low = mid
        else:
            high = mid
        if high - low < 1e-12 * max(1.0, high):
            break
    return 0.5 * (low + high)


def two_sided(nu: float, level: float = 0.95) -> float:
    """The multiplier of a two-sided ``level`` confidence interval: t_{(1 + level)/2} at ``nu``."""
    return t_quantile(0.5 + level / 2.0, nu)
