"""`compare` stays linear in rounds: the median bootstrap from order statistics, Theil-Sen on a bounded subsample."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from scipy import stats as sps

from reports import decide, drift, stats
from reports.compare import compare
from reports.median_bootstrap import bootstrap_medians
from tests.literal_runs import bench, run


def _cdf_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The largest gap between the empirical CDFs of `a` and `b` (the two-sample KS statistic)."""
    grid = np.union1d(a, b)
    cdf_a = np.searchsorted(np.sort(a), grid, side="right") / a.size
    cdf_b = np.searchsorted(np.sort(b), grid, side="right") / b.size
    return float(np.max(np.abs(cdf_a - cdf_b)))


@pytest.mark.parametrize("n", [1, 2, 7, 200, 201])
def test_order_statistic_medians_have_the_resampling_distribution(n: int) -> None:
    """The shortcut draws the same bootstrap distribution of the median as resampling the rounds does."""
    values = np.random.default_rng(n).lognormal(0.0, 0.3, n)
    draws = 40_000
    shortcut = bootstrap_medians(values, draws, np.random.default_rng(1))
    resampled = np.median(values[np.random.default_rng(2).integers(0, n, size=(draws, n))], axis=1)
    # Two samples of 40 000 from one distribution are 0.02 apart in CDF with probability about 2·exp(-16).
    assert _cdf_distance(shortcut, resampled) < 0.02
    assert set(np.unique(shortcut)) <= set(np.unique((values[:, None] + values[None, :]) / 2).tolist())


def test_large_cases_do_not_resample_every_round(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past RESAMPLE_MAX_DRAWS the interval never resamples rounds, and still covers the true ratio."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("resampled every round of a large case")

    monkeypatch.setattr(stats.sps, "bootstrap", refuse)
    rng = np.random.default_rng(0)
    base = rng.lognormal(0.0, 0.05, 200_000)
    cur = 1.03 * rng.lognormal(0.0, 0.05, 200_000)
    low, high = stats.bootstrap_ratio_ci(base, cur, confidence=0.99, n_resamples=20_000)
    assert 1.025 < low < 1.03 < high < 1.035


def test_theil_sen_is_fitted_on_a_bounded_subsample(monkeypatch: pytest.MonkeyPatch) -> None:
    """A million rounds: Kendall's tau over all of them, Theil-Sen over at most MAX_SLOPE_ROUNDS, the ramp found."""
    sizes: list[int] = []
    theilslopes = sps.theilslopes

    def spy(y: np.ndarray, x: np.ndarray) -> object:
        sizes.append(len(y))
        return theilslopes(y, x)

    monkeypatch.setattr(drift.sps, "theilslopes", spy)
    count = 1_000_000
    times = 0.01 * (1 + 0.2 * np.linspace(0, 1, count)) * np.random.default_rng(0).lognormal(0.0, 0.02, count)
    trend = drift.round_trend(times.tolist())
    assert sizes == [drift.MAX_SLOPE_ROUNDS]
    assert trend is not None and trend.flagged and trend.change == pytest.approx(0.2, abs=0.01)
    assert drift.slope_rounds(count)[[0, -1]].tolist() == [0, count - 1]
    assert drift.slope_rounds(50).tolist() == list(range(50))


def test_compare_memory_is_linear_in_rounds() -> None:
    """Comparing 200 000 rounds per side allocates a few times the rounds' own size, not rounds²."""
    rng = np.random.default_rng(0)
    count = 200_000
    base = run(bench("a", (0.01 * rng.lognormal(0.0, 0.05, count)).tolist()))
    ramp = 1 + 0.15 * np.linspace(0, 1, count)
    cur = run(bench("a", (0.0103 * ramp * rng.lognormal(0.0, 0.05, count)).tolist()))
    tracemalloc.start()
    try:
        result = compare(base, cur)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rounds_bytes = 2 * count * 8
    assert peak < 20 * rounds_bytes, f"peak {peak / 2**20:.0f} MiB"
    (case,) = result.cases
    assert case.stats is not None and case.stats.rounds_cur == count
    assert [note.split(":")[0] for note in case.notes] == ["current"]  # its ramp, as a round-trend note


def test_smallest_rank_p_of_millions_of_rounds_is_not_counted_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    """C(n+k, n) of millions of rounds has millions of digits: its logarithm is used instead, with the same value."""
    comb = decide.math.comb

    def small_comb(n: int, k: int) -> int:
        assert n <= 100_000, f"C({n}, {k}) counted exactly"
        return comb(n, k)

    monkeypatch.setattr(decide.math, "comb", small_comb)
    assert decide.min_two_sided_p(2_500_000, 2_500_000) == 0.0
    assert decide.min_two_sided_p(1000, 1) == pytest.approx(2 / 1001, rel=1e-12)
    assert decide.min_two_sided_p(5, 5) == 2 / 252
