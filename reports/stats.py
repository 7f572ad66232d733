"""Pure statistics for comparing two sets of per-round times (no I/O, no TensorFlow).

Everything here takes plain sequences of seconds and returns numbers, so each function
can be tested with literal samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from reports.median_bootstrap import ratio_of_medians_interval

__all__ = [
    "CaseStats",
    "bootstrap_ratio_ci",
    "case_stats",
    "holm",
    "mann_whitney_p",
    "relative_iqr",
]


def _array(samples: Sequence[float]) -> np.ndarray:
    """Return the finite values of `samples` as a float array."""
    arr = np.asarray(samples, dtype=float).ravel()
    return arr[np.isfinite(arr)]


def relative_iqr(samples: Sequence[float]) -> float:
    """Return the spread IQR/median of `samples` (nan when empty or the median is 0)."""
    arr = _array(samples)
    if arr.size == 0:
        return math.nan
    q1, med, q3 = np.percentile(arr, [25, 50, 75])
    if med == 0:
        return math.nan
    return float((q3 - q1) / abs(med))


def _ratio_of_medians(base: np.ndarray, cur: np.ndarray, axis: int = -1) -> np.ndarray:
    """Return median(cur)/median(base) along `axis` (the bootstrap statistic)."""
    return np.median(cur, axis=axis) / np.median(base, axis=axis)


#: Resampling costs rounds × replicates draws; above this many on the larger side, each replicate's median
#: comes from order statistics instead (reports.median_bootstrap: the same distribution, one or two Beta
#: draws per replicate). Literal samples of a few dozen rounds stay resampled, so their seeded intervals
#: are unchanged; a 30-run window, 900 pooled rounds at 84 000 replicates (76 M draws), takes the shortcut.
RESAMPLE_MAX_DRAWS = 1_000_000


def bootstrap_ratio_ci(
    base: Sequence[float],
    cur: Sequence[float],
    *,
    confidence: float = 0.99,
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Return a seeded percentile-bootstrap interval of median(cur)/median(base) (cost: see RESAMPLE_MAX_DRAWS)."""
    b, c = _array(base), _array(cur)
    if b.size == 0 or c.size == 0 or np.median(b) <= 0:
        return (math.nan, math.nan)
    if b.size == 1 and c.size == 1:
        point = float(c[0] / b[0])
        return (point, point)
    if max(b.size, c.size) * n_resamples > RESAMPLE_MAX_DRAWS:
        return ratio_of_medians_interval(b, c, confidence=confidence, n_resamples=n_resamples, seed=seed)
    res = sps.bootstrap(
        (b, c),
        _ratio_of_medians,
        n_resamples=n_resamples,
        vectorized=True,
        paired=False,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return (float(res.confidence_interval.low), float(res.confidence_interval.high))


#: Up to this many rounds per side, untied samples get the exact U distribution (fast enough).
EXACT_MAX_ROUNDS = 200


def mann_whitney_p(base: Sequence[float], cur: Sequence[float]) -> float:
    """Return the two-sided Mann-Whitney U p-value of `base` against `cur` (1.0 when all equal).

    Exact when neither side has ties and both are small (scipy's default switches to the normal
    approximation above 8 rounds, which overstates p in the tails and costs power after Holm);
    the tie-corrected normal approximation otherwise.
    """
    b, c = _array(base), _array(cur)
    if b.size == 0 or c.size == 0:
        return math.nan
    if np.all(b == b[0]) and np.all(c == b[0]):
        return 1.0
    tied = np.unique(np.concatenate([b, c])).size < b.size + c.size
    method = "exact" if not tied and max(b.size, c.size) <= EXACT_MAX_ROUNDS else "asymptotic"
    return float(sps.mannwhitneyu(b, c, alternative="two-sided", method=method).pvalue)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Return Holm-Bonferroni adjusted p-values in the input order (nan stays nan, not counted)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, math.nan)
    valid = np.flatnonzero(np.isfinite(p))
    m = valid.size
    if m == 0:
        return out.tolist()
    order = valid[np.argsort(p[valid], kind="stable")]
    # The i-th smallest p (0-based) is multiplied by m - i; adjusted values never decrease.
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out.tolist()


@dataclass(frozen=True)
class CaseStats:
    """Statistics of one case measured on both sides (times in seconds)."""

    rounds_base: int
    rounds_cur: int
    median_base: float
    median_cur: float
    ratio: float  # median(cur) / median(base): > 1 means slower
    ci_low: float
    ci_high: float
    p_value: float
    noise_base: float  # IQR / median
    noise_cur: float


def case_stats(
    base: Sequence[float],
    cur: Sequence[float],
    *,
    confidence: float = 0.99,
    n_resamples: int = 2000,
    seed: int = 0,
) -> CaseStats:
    """Return the ratio of medians, its bootstrap interval, the U-test p-value and both spreads."""
    b, c = _array(base), _array(cur)
    med_b = float(np.median(b)) if b.size else math.nan
    med_c = float(np.median(c)) if c.size else math.nan
    ratio = med_c / med_b if b.size and c.size and med_b > 0 else math.nan
    low, high = bootstrap_ratio_ci(b, c, confidence=confidence, n_resamples=n_resamples, seed=seed)
    return CaseStats(
        rounds_base=int(b.size),
        rounds_cur=int(c.size),
        median_base=med_b,
        median_cur=med_c,
        ratio=ratio,
        ci_low=low,
        ci_high=high,
        p_value=mann_whitney_p(b, c),
        noise_base=relative_iqr(b),
        noise_cur=relative_iqr(c),
    )
