"""Descriptive statistics from sufficient statistics (n, sum, sum of squares, min, max), in pure Python.

The product answers from rollups, so every figure here is computed from sums, never from the raw values.
Student's t quantiles come from the regularised incomplete beta function (a continued fraction, as in
Numerical Recipes §6.4), inverted by bisection; tests compare them with SciPy. Heavy numeric packages stay
out of the product: this is all it needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Summary", "incomplete_beta", "summarise", "t_quantile"]


def _beta_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction for the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


@lru_cache(maxsize=4096)
def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t distribution with ``df`` degrees of freedom (0 < p < 1)."""
    if not 0.0 < p < 1.0 or df <= 0:
        raise ValueError("need 0 < p < 1 and df > 0")
    if p == 0.5:
        return 0.0
    tail = 1.0 - p if p > 0.5 else p  # P(T > t) for the positive quantile
    # P(|T| > t) = I_{df/(df+t^2)}(df/2, 1/2) = 2 * tail; I is increasing in x, so bisect on x.
    target, low, high = 2.0 * tail, 0.0, 1.0
    for _ in range(200):
        mid = (low + high) / 2.0
        if incomplete_beta(df / 2.0, 0.5, mid) < target:
            low = mid
        else:
            high = mid
        if high - low < 1e-17:
            break
    x = (low + high) / 2.0
    t = math.sqrt(df * (1.0 - x) / x)
    return t if p > 0.5 else -t


@dataclass(frozen=True, slots=True)
class Summary:
    n: int
    mean: float | None
    sd: float | None
    """Sample standard deviation (n - 1); undefined for a single value."""
    ci_low: float | None
    ci_high: float | None
    """95% confidence interval of the mean (Student's t); undefined for a single value."""
    min: float | None
    max: float | None


def summarise(n: int, total: float, total_sq: float, low: float | None, high: float | None) -> Summary:
    """Mean, sd and 95% CI of the mean from the count, sum and sum of squares of the values."""
    if n <= 0:
        return Summary(0, None, None, None, None, None, None)
    mean = total / n
    if n == 1:
        return Summary(1, mean, None, None, None, low, high)
    variance = max((total_sq - total * total / n) / (n - 1), 0.0)  # rounding can leave a tiny negative
    # Values all equal up to rounding: the spread is zero, not noise from the sums.
    if low is not None and high is not None and low == high:
        variance = 0.0
    sd = math.sqrt(variance)
    half = t_quantile(0.975, n - 1) * sd / math.sqrt(n)
    return Summary(n, mean, sd, mean - half, mean + half, low, high)
