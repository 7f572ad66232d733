"""Did the machine change under a run? Judged from its reference case and from each case's round-time trend.

Pure functions of round times (no I/O):

- **Reference drift.** bench times a fixed single-threaded numpy case at the start and at the end of
  every complete run (results_format `Drift`). The run *drifted* when the end/start ratio of medians has a
  seeded 99 % bootstrap interval that lies wholly outside ±``DRIFT_THRESHOLD`` (5 %) and the Mann-Whitney
  U test agrees (p < 0.01): a machine that got faster or slower during the run. Its size is the interval's
  bound nearest to 1 (the least drift the data can vouch for).
- **Trend inside a case.** A case's rounds should be exchangeable; a monotone trend (Kendall's tau of time
  against round index, p < ``TREND_ALPHA``) whose Theil-Sen slope changes the time by more than
  ``TREND_THRESHOLD`` (10 %) from the first round to the last means the machine drifted while that case ran
  (clocks ramping, a neighbour starting). It is a note, not a verdict. Kendall's tau takes every round
  (O(n log n)); Theil-Sen, which needs every pair of points, is fitted on at most ``MAX_SLOPE_ROUNDS``
  evenly spaced rounds, so a case of millions of rounds costs memory linear in its rounds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from reports.stats import bootstrap_ratio_ci, mann_whitney_p

DRIFT_THRESHOLD = 0.05
DRIFT_ALPHA = 0.01
TREND_ALPHA = 0.001
TREND_THRESHOLD = 0.10
MIN_TREND_ROUNDS = 10
#: Theil-Sen compares every pair of points (n² memory): longer cases are fitted on this many evenly spaced rounds.
MAX_SLOPE_ROUNDS = 1000


@dataclass(frozen=True)
class DriftFinding:
    """The reference case's end/start ratio, its interval, and whether the run drifted (and by how much)."""

    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    drifted: bool
    size: float  # the least drift the interval vouches for (0 when it did not drift), as a fraction

    def text(self, label: str) -> str:
        """One sentence for the report and the gate."""
        change = f"{self.ratio - 1:+.1%} (interval {self.ci_low - 1:+.1%} … {self.ci_high - 1:+.1%})"
        if self.drifted:
            slower = "slower" if self.ratio > 1 else "faster"
            return (
                f"{label}: the machine drifted during the run: its reference case ran {slower} at the end than at "
                f"the start, {change}"
            )
        return f"{label}: no drift during the run (reference case end/start {change})"


def reference_drift(start: Sequence[float], end: Sequence[float] | None, seed: int = 0) -> DriftFinding | None:
    """Judge the reference case timed at a run's start and end; None when the end was not timed."""
    if not end or not start:
        return None
    low, high = bootstrap_ratio_ci(start, end, confidence=1 - DRIFT_ALPHA, seed=seed)
    ratio = float(np.median(end) / np.median(start))
    p = mann_whitney_p(start, end)
    band_low, band_high = 1 / (1 + DRIFT_THRESHOLD), 1 + DRIFT_THRESHOLD
    outside = low > band_high or high < band_low
    drifted = bool(outside and p < DRIFT_ALPHA)
    size = (low - 1 if ratio > 1 else 1 / high - 1) if drifted else 0.0
    return DriftFinding(ratio, low, high, p, drifted, size)


@dataclass(frozen=True)
class Trend:
    """A monotone trend of a case's round times: the change from first to last round, and its p-value."""

    change: float  # fitted time at the last round / at the first round - 1
    p_value: float

    @property
    def flagged(self) -> bool:
        """Whether the trend is both significant and large."""
        return self.p_value < TREND_ALPHA and abs(self.change) > TREND_THRESHOLD

    def text(self) -> str:
        """A note for the case."""
        return f"its round times drifted {self.change:+.0%} from the first round to the last (p {self.p_value:.1g})"


def slope_rounds(count: int) -> np.ndarray:
    """The rounds the Theil-Sen slope is fitted on: all, or MAX_SLOPE_ROUNDS evenly spaced (first and last kept)."""
    if count <= MAX_SLOPE_ROUNDS:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, MAX_SLOPE_ROUNDS).round().astype(np.int64))


def round_trend(times: Sequence[float]) -> Trend | None:
    """Kendall's tau (every round) and the Theil-Sen slope (at most MAX_SLOPE_ROUNDS) of time against round."""
    values = np.asarray(times, dtype=float)
    if values.size < MIN_TREND_ROUNDS or not np.all(np.isfinite(values)):
        return None
    index = np.arange(values.size)
    tau = sps.kendalltau(index, values)
    if not math.isfinite(tau.pvalue):
        return None
    kept = slope_rounds(values.size)
    slope, intercept, *_ = sps.theilslopes(values[kept], index[kept])
    first, last = intercept, intercept + slope * (values.size - 1)
    if first <= 0 or last <= 0:
        return None
    return Trend(change=float(last / first - 1), p_value=float(tau.pvalue))
