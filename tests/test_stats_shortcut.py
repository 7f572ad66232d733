"""reports.stats: when the interval resamples rounds or takes the order-statistics shortcut, and that both agree."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from reports import stats
from reports.median_bootstrap import ratio_of_medians_interval


def _refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("resampled every round")


@pytest.mark.parametrize(("n_base", "n_cur"), [(9, 9), (30, 30), (100, 100), (400, 30)])
def test_shortcut_interval_matches_resampling_within_monte_carlo_error(n_base: int, n_cur: int) -> None:
    """Each shortcut bound sits at its tail level of scipy's resampled replicates, within 4 Monte-Carlo errors.

    The bound's level in the resampled distribution is off by sqrt(p(1-p)/R) from each side's finite replicates
    (p the tail, R each side's replicates); the tolerance is 4 of the combined errors (about 0.3 % of pairs
    would miss it by chance). Its range [F(x-), F(x)] is used because a median of few rounds has atoms.
    """
    rng = np.random.default_rng(n_base * 1000 + n_cur)
    base = rng.lognormal(0.0, 0.1, n_base)
    cur = 1.05 * rng.lognormal(0.0, 0.1, n_cur)
    confidence, r_resampled, r_shortcut = 0.95, 10_000, 40_000
    resampled = sps.bootstrap(
        (base, cur),
        lambda b, c, axis=-1: np.median(c, axis=axis) / np.median(b, axis=axis),
        n_resamples=r_resampled,
        vectorized=True,
        paired=False,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(1),
    ).bootstrap_distribution
    low, high = ratio_of_medians_interval(base, cur, confidence=confidence, n_resamples=r_shortcut, seed=2)
    ordered = np.sort(resampled)
    tail = (1 - confidence) / 2
    tolerance = 4 * math.sqrt(tail * (1 - tail) * (1 / r_resampled + 1 / r_shortcut))
    for bound, level in ((low, tail), (high, 1 - tail)):
        below = np.searchsorted(ordered, bound, side="left") / ordered.size
        at_or_below = np.searchsorted(ordered, bound, side="right") / ordered.size
        assert below - tolerance <= level <= at_or_below + tolerance, (bound, below, at_or_below, level)


def test_a_pooled_window_never_resamples_every_round(monkeypatch: pytest.MonkeyPatch) -> None:
    """900 pooled baseline rounds at 84 000 replicates (a 30-run window of 21 cases, α = 0.01) take the shortcut."""
    monkeypatch.setattr(stats.sps, "bootstrap", _refuse)
    rng = np.random.default_rng(0)
    base, cur = rng.lognormal(0.0, 0.05, 900), 1.2 * rng.lognormal(0.0, 0.05, 30)
    low, high = stats.bootstrap_ratio_ci(base, cur, confidence=1 - 0.01 / 21, n_resamples=84_000)
    assert 1.1 < low < 1.2 < high < 1.3


def test_literal_samples_are_still_resampled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Below RESAMPLE_MAX_DRAWS the rounds are resampled as before, so literal samples keep their seeded intervals."""
    calls: list[int] = []
    bootstrap = sps.bootstrap

    def spy(data: tuple[np.ndarray, ...], *args: object, **kwargs: object) -> object:
        calls.append(max(len(d) for d in data))
        return bootstrap(data, *args, **kwargs)

    monkeypatch.setattr(stats.sps, "bootstrap", spy)
    base = np.linspace(1.0, 1.1, 100)
    stats.bootstrap_ratio_ci(base, 1.5 * base, n_resamples=stats.RESAMPLE_MAX_DRAWS // 100)
    stats.bootstrap_ratio_ci(base, 1.5 * base, n_resamples=stats.RESAMPLE_MAX_DRAWS // 100 + 1)
    assert calls == [100]
