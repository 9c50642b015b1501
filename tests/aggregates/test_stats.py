"""The statistics the aggregates report, against NumPy and SciPy on generated data."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from supervise.aggregates.stats import incomplete_beta, summarise, t_quantile


@given(st.floats(0.5, 0.9999), st.integers(1, 5000))
@settings(max_examples=300, deadline=None)
def test_t_quantiles_match_scipy(p: float, df: int) -> None:
    assert math.isclose(t_quantile(p, df), scipy_stats.t.ppf(p, df), rel_tol=1e-9, abs_tol=1e-9)


@given(st.floats(0.1, 50), st.floats(0.1, 50), st.floats(0, 1))
@settings(max_examples=300, deadline=None)
def test_incomplete_beta_matches_scipy(a: float, b: float, x: float) -> None:
    from scipy.special import betainc

    assert math.isclose(incomplete_beta(a, b, x), betainc(a, b, x), rel_tol=1e-9, abs_tol=1e-12)


values = st.lists(st.integers(1, 7).map(float) | st.floats(0, 10, allow_nan=False), min_size=1, max_size=300)


@given(values)
@settings(max_examples=300, deadline=None)
def test_summaries_from_sums_match_the_raw_values(data: list[float]) -> None:
    array = np.array(data)
    got = summarise(len(data), float(array.sum()), float((array**2).sum()), float(array.min()), float(array.max()))
    assert got.n == len(data)
    assert got.mean is not None and math.isclose(got.mean, float(array.mean()), rel_tol=1e-9, abs_tol=1e-9)
    assert (got.min, got.max) == (float(array.min()), float(array.max()))
    if len(data) == 1:
        assert got.sd is None and got.ci_low is None and got.ci_high is None
        return
    sd = float(array.std(ddof=1))
    assert got.sd is not None and math.isclose(got.sd, sd, rel_tol=1e-6, abs_tol=1e-6)
    if sd == 0:
        assert got.ci_low == got.ci_high == got.mean
    else:
        low, high = scipy_stats.t.interval(0.95, len(data) - 1, loc=array.mean(), scale=scipy_stats.sem(array))
        assert got.ci_low is not None and math.isclose(got.ci_low, low, rel_tol=1e-6, abs_tol=1e-6)
        assert got.ci_high is not None and math.isclose(got.ci_high, high, rel_tol=1e-6, abs_tol=1e-6)


def test_edge_cases() -> None:
    assert summarise(0, 0, 0, None, None).mean is None
    single = summarise(1, 4.0, 16.0, 4.0, 4.0)
    assert (single.mean, single.sd, single.ci_low) == (4.0, None, None)
    flat = summarise(1000, 4000.0 + 1e-9, 16000.0, 4.0, 4.0)  # sums with rounding noise, all values equal
    assert (flat.sd, flat.ci_low, flat.ci_high) == (0.0, flat.mean, flat.mean)
