"""Descriptive statistics from sufficient statistics (n, sum, sum of squares, min, max), in pure Python.

The product answers from rollups, so every figure here is computed from sums, never from the raw values.
Student's t quantiles come from the regularised incomplete beta function (a continued fraction, as in
Numerical Recipes §6.4), inverted by bisection; tests compare them with SciPy. Heavy numeric packages stay
out of the product: this is all it needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "MIN_CI_N",
    "Icc",
    "Summary",
    "f_quantile",
    "icc_a1",
    "incomplete_beta",
    "krippendorff_alpha",
    "summarise",
    "t_quantile",
]


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
    # With x = df/(df+t^2) and y = 1 - x = t^2/(df+t^2): P(|T| > t) = I_x(df/2, 1/2) = 1 - I_y(1/2, df/2).
    # Bisect on whichever of x and y is small at the answer, so its relative precision survives: x when the
    # tail is small (t large), y when the quantile is near the median (t small).
    small_tail = 2.0 * tail < 0.5
    if small_tail:
        a, b, target = df / 2.0, 0.5, 2.0 * tail
    else:
        a, b, target = 0.5, df / 2.0, abs(2.0 * p - 1.0)
    low, high = 0.0, 1.0
    for _ in range(400):
        mid = (low + high) / 2.0
        if incomplete_beta(a, b, mid) < target:
            low = mid
        else:
            high = mid
        if high - low <= 1e-16 * high:
            break
    z = (low + high) / 2.0
    t = math.sqrt(df * (1.0 - z) / z) if small_tail else math.sqrt(df * z / (1.0 - z))
    return t if p > 0.5 else -t


@lru_cache(maxsize=4096)
def f_quantile(p: float, d1: float, d2: float) -> float:
    """The ``p`` quantile of the F distribution with ``d1`` and ``d2`` degrees of freedom (any positive real).
    P(F <= x) = I_y(d1/2, d2/2) with y = d1 x / (d1 x + d2). For upper quantiles, bisect on z = 1 - y through
    the complement I_z(d2/2, d1/2) = 1 - p, so that a quantile far in the tail keeps its precision."""
    if not 0.0 < p < 1.0 or d1 <= 0 or d2 <= 0:
        raise ValueError("need 0 < p < 1 and positive degrees of freedom")
    upper = p > 0.5
    a, b, target = (d2 / 2.0, d1 / 2.0, 1.0 - p) if upper else (d1 / 2.0, d2 / 2.0, p)
    low, high = 0.0, 1.0
    for _ in range(400):
        mid = (low + high) / 2.0
        if incomplete_beta(a, b, mid) < target:
            low = mid
        else:
            high = mid
        if high - low <= 1e-15 * high:
            break
    t = (low + high) / 2.0
    if upper:
        return math.inf if t <= 0.0 else d2 * (1.0 - t) / (d1 * t)
    return math.inf if t >= 1.0 else d2 * t / (d1 * (1.0 - t))


@dataclass(frozen=True, slots=True)
class Icc:
    value: float
    ci_low: float | None
    ci_high: float | None
    targets: int
    raters: int


def icc_a1(table: list[list[float]]) -> Icc | None:
    """ICC(2,1) — two-way random effects, absolute agreement, single rater (Shrout & Fleiss 1979; McGraw &
    Wong 1996 ICC(A,1)) — with its 95% CI, for a complete targets x raters ``table``. ``None`` with fewer than
    two targets or raters, or when nothing varies."""
    n = len(table)
    k = len(table[0]) if table else 0
    if n < 2 or k < 2:
        return None
    grand = sum(map(sum, table)) / (n * k)
    rows = [sum(row) / k for row in table]
    cols = [sum(row[j] for row in table) / n for j in range(k)]
    msr = k * sum((r - grand) ** 2 for r in rows) / (n - 1)
    msc = n * sum((c - grand) ** 2 for c in cols) / (k - 1)
    sse = sum((table[i][j] - rows[i] - cols[j] + grand) ** 2 for i in range(n) for j in range(k))
    mse = sse / ((n - 1) * (k - 1))
    denominator = msr + (k - 1) * mse + k * (msc - mse) / n
    if denominator <= 0:
        return None
    icc = (msr - mse) / denominator
    if icc >= 1.0:
        return Icc(icc, None, None, n, k)
    # McGraw & Wong (1996) confidence limits, with Satterthwaite's degrees of freedom.
    a = k * icc / (n * (1 - icc))
    b = 1 + k * icc * (n - 1) / (n * (1 - icc))
    v_denominator = (a * msc) ** 2 / (k - 1) + (b * mse) ** 2 / ((n - 1) * (k - 1))
    if v_denominator <= 0:
        return Icc(icc, None, None, n, k)
    v = (a * msc + b * mse) ** 2 / v_denominator
    if not v > 0:  # nothing to estimate the interval's spread from (a * msc + b * mse is 0)
        return Icc(icc, None, None, n, k)
    f_low = f_quantile(0.975, n - 1, v)
    f_high = f_quantile(0.975, v, n - 1)
    if not (math.isfinite(f_low) and math.isfinite(f_high)):
        return Icc(icc, None, None, n, k)
    lower = n * (msr - f_low * mse) / (f_low * (k * msc + (k * n - k - n) * mse) + n * msr)
    upper = n * (f_high * msr - mse) / (k * msc + (k * n - k - n) * mse + n * f_high * msr)
    return Icc(icc, lower, upper, n, k)


def krippendorff_alpha(units: list[list[float]], metric: str) -> float | None:
    """Krippendorff's alpha for ``units`` (each: the values the raters gave one unit; missing ratings left
    out), with the ``interval`` (squared difference), ``ordinal`` (squared rank distance over the values'
    frequencies) or ``nominal`` (equal or not) metric. Units with fewer than two values carry no pairing and
    are ignored; ``None`` when nothing can be paired or the values never vary. By the coincidence-matrix
    definition (Krippendorff 2011): interval and nominal from sums, in O(values); ordinal in O(values x
    distinct values)."""
    pairable = [unit for unit in units if len(unit) >= 2]
    n = sum(len(unit) for unit in pairable)
    if n < 2:
        return None
    delta = _ordinal_distance(pairable) if metric == "ordinal" else None

    def disagreement(values: list[float]) -> float:
        """Sum of the metric over all ordered pairs of distinct positions."""
        if metric == "interval":
            total = sum(values)
            return 2 * len(values) * sum(v * v for v in values) - 2 * total * total
        counts: dict[float, int] = {}
        for value in values:
            counts[value] = counts.get(value, 0) + 1
        if delta is not None:
            return sum(m * o * delta(c, k) for c, m in counts.items() for k, o in counts.items())
        return len(values) ** 2 - sum(c * c for c in counts.values())

    observed = sum(disagreement(unit) / (len(unit) - 1) for unit in pairable) / n
    expected = disagreement([v for unit in pairable for v in unit]) / (n * (n - 1))
    if expected <= 0:
        return None
    return 1.0 - observed / expected


def _ordinal_distance(pairable: list[list[float]]) -> Callable[[float, float], float]:
    """Krippendorff's ordinal metric: between values c and k, the squared count of pairable values ranked from
    c to k, less half of those at c and at k."""
    frequency: dict[float, int] = {}
    for unit in pairable:
        for value in unit:
            frequency[value] = frequency.get(value, 0) + 1
    ranked = sorted(frequency)
    below = {}  # values ranked before each value
    running = 0
    for value in ranked:
        below[value] = running
        running += frequency[value]

    def delta(c: float, k: float) -> float:
        if c == k:
            return 0.0
        low, high = (c, k) if c < k else (k, c)
        spanned = below[high] + frequency[high] - below[low]
        return (spanned - (frequency[low] + frequency[high]) / 2) ** 2

    return delta


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


MIN_CI_N = 3
"""Values a confidence interval needs: from two, Student's t at one degree of freedom (12.7) gives an interval
so wide it says nothing but looks like a figure."""


def summarise(n: int, total: float, total_sq: float, low: float | None, high: float | None) -> Summary:
    """Mean, sd and 95% CI of the mean from the count, sum and sum of squares of the values (no CI below
    :data:`MIN_CI_N` values)."""
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
    if n < MIN_CI_N:
        return Summary(n, mean, sd, None, None, low, high)
    half = t_quantile(0.975, n - 1) * sd / math.sqrt(n)
    return Summary(n, mean, sd, mean - half, mean + half, low, high)
