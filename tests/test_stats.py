"""reports.stats: spread, bootstrap interval, Mann-Whitney, Holm, with literal samples."""

from __future__ import annotations

import math

import pytest

from reports.stats import bootstrap_ratio_ci, case_stats, holm, mann_whitney_p, relative_iqr

# Timer readings rarely tie; these have no ties so that scipy's exact U distribution applies.
BASE = [1.000, 1.011, 0.992, 1.023, 0.984, 1.005, 1.014, 0.996, 1.002, 1.027, 0.981, 1.008]
DOUBLE = [2.001, 2.021, 1.983, 2.042, 1.962, 2.005, 2.024, 1.987, 2.009, 2.046, 1.965, 2.013]


def test_relative_iqr_of_literal_samples() -> None:
    assert relative_iqr([1, 2, 3, 4, 5]) == pytest.approx((4 - 2) / 3)
    assert relative_iqr([7, 7, 7]) == 0.0
    assert math.isnan(relative_iqr([]))
    assert math.isnan(relative_iqr([0, 0, 0]))


def test_bootstrap_interval_of_a_clear_doubling_excludes_one() -> None:
    low, high = bootstrap_ratio_ci(BASE, DOUBLE)
    assert 1.9 < low <= 2.0 <= high < 2.1


def test_bootstrap_interval_is_seeded_and_reproducible() -> None:
    assert bootstrap_ratio_ci(BASE, DOUBLE, seed=3) == bootstrap_ratio_ci(BASE, DOUBLE, seed=3)


def test_bootstrap_interval_of_identical_samples_contains_one() -> None:
    low, high = bootstrap_ratio_ci(BASE, BASE)
    assert low < 1.0 < high


def test_bootstrap_interval_of_constant_samples_is_a_point() -> None:
    assert bootstrap_ratio_ci([2.0] * 6, [3.0] * 6) == (1.5, 1.5)


def test_mann_whitney_separates_a_doubling_and_not_identical_samples() -> None:
    # 12 vs 12 with no overlap: the exact two-sided p is 2 / C(24, 12).
    assert mann_whitney_p(BASE, DOUBLE) == pytest.approx(2 / math.comb(24, 12))
    assert mann_whitney_p(BASE, BASE) > 0.9
    assert mann_whitney_p([1.0] * 5, [1.0] * 5) == 1.0
    assert math.isnan(mann_whitney_p([], [1.0]))


def test_holm_arithmetic() -> None:
    # sorted: 0.01*4=0.04, 0.02*3=0.06, 0.03*2=0.06, 0.04*1=0.04 -> running max 0.04, 0.06, 0.06, 0.06
    assert holm([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])


def test_holm_caps_at_one_and_skips_nan() -> None:
    assert holm([0.7, 0.9]) == [1.0, 1.0]  # 0.7 * 2 capped at 1; adjusted values never decrease
    adjusted = holm([0.5, math.nan, 0.01])  # m = 2: the nan is not a test
    assert adjusted[0] == pytest.approx(0.5)
    assert math.isnan(adjusted[1])
    assert adjusted[2] == pytest.approx(0.02)


def test_holm_of_nothing() -> None:
    assert holm([]) == []
    assert all(math.isnan(p) for p in holm([math.nan, math.nan]))


def test_case_stats_of_a_doubling() -> None:
    cs = case_stats(BASE, DOUBLE)
    assert cs.rounds_base == cs.rounds_cur == 12
    assert cs.median_base == pytest.approx(1.0035)
    assert cs.ratio == pytest.approx(2.007 / 1.0035)
    assert cs.ci_low > 1.9
    assert cs.p_value < 1e-5
    assert cs.noise_base < 0.05 and cs.noise_cur < 0.05


def test_case_stats_ignores_non_finite_rounds() -> None:
    cs = case_stats([1.0, math.nan, 1.0, math.inf], [1.0, 1.0])
    assert cs.rounds_base == 2
    assert cs.ratio == 1.0


def test_mann_whitney_with_ties_uses_the_tie_corrected_approximation() -> None:
    # Quantised timers tie: the exact distribution does not apply, the p-value is still sensible.
    p = mann_whitney_p([1, 1, 2, 2, 2, 3], [3, 3, 4, 4, 4, 5])
    assert 0.001 < p < 0.05
