"""How many timed rounds a case gets: a fixed number, or rounds until the median is known well enough.

Pure functions of round times (no timing here), so the stopping rule is tested with literal samples.
With a precision target (`--precision 0.02`), a case keeps timing until the distribution-free
confidence interval of its median lies within +-2 % of the median, or its time budget is spent, in
the spirit of pyperf's calibration and MLPerf's early stopping; which of the two ended it is recorded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: the confidence of the median's interval that --precision refers to
CONFIDENCE = 0.95


def median_interval(times: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The order-statistic interval of the median (no distribution assumed), or None with too few rounds.

    For n sorted times it is [x(k), x(n+1-k)] with the largest k for which a Binomial(n, 1/2) count falls
    below k with probability at most (1 - confidence)/2 (so at 95 % it needs at least 6 rounds).
    """
    from scipy import stats  # imported on first use: most runs use fixed rounds and never need it

    n = len(times)
    alpha = 1.0 - confidence
    k = int(stats.binom.ppf(alpha / 2, n, 0.5))  # P(X <= k-1) <= alpha/2 < P(X <= k)
    if stats.binom.cdf(k, n, 0.5) <= alpha / 2:
        k += 1
    if k < 1:
        return None
    ordered = sorted(times)
    return ordered[k - 1], ordered[n - k]


def relative_half_width(times: Sequence[float], confidence: float = CONFIDENCE) -> float:
    """The median interval's larger half-width as a fraction of the median (inf when it is not defined)."""
    interval = median_interval(times, confidence)
    if interval is None:
        return math.inf
    ordered = sorted(times)
    mid = len(ordered) // 2
    median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    if median <= 0:
        return math.inf
    low, high = interval
    return max(median - low, high - median) / median


@dataclass(frozen=True)
class RoundPolicy:
    """When timing a case stops: after `rounds`, or (with `precision`) when the median is sure or time is up."""

    rounds: int  # the fixed number of rounds, or without a precision target, the rounds to time
    precision: float | None = None  # wanted half-width of the median's interval, as a fraction of the median
    min_rounds: int = 5
    max_rounds: int = 10_000
    budget_s: float = math.inf  # timed seconds a case may take while chasing the precision target
    confidence: float = CONFIDENCE
    check_every: int = 5  # test the interval every few rounds, not after each one
    duration_s: float | None = None  # time rounds until this many timed seconds (a sustained case), not a count

    def stop(self, times: Sequence[float]) -> str | None:
        """Why timing should stop after these rounds ("rounds", "precision", "budget", "duration"), or None."""
        n = len(times)
        if self.duration_s is not None:
            return "duration" if n >= 1 and sum(times) >= self.duration_s else None
        if self.precision is None:
            return "rounds" if n >= self.rounds else None
        if n < self.min_rounds:
            return None
        out_of_time = n >= self.max_rounds or sum(times) >= self.budget_s
        if (n % self.check_every == 0 or out_of_time) and relative_half_width(times, self.confidence) <= self.precision:
            return "precision"
        return "budget" if out_of_time else None
