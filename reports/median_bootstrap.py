"""The bootstrap distribution of a median drawn from order statistics: O(n log n) once, then O(1) per replicate.

The ordinary bootstrap draws n of the n rounds with replacement and takes the median, n draws per
replicate: 2.5 M rounds × thousands of replicates is billions of draws. For the median there is an
exact shortcut. With the rounds sorted (s_0 ≤ … ≤ s_{n-1}), a resample is s at n indices drawn
uniformly from 0 … n-1, and since s is non-decreasing its median is s at the median of those indices.
The k-th smallest of n such indices is floor(n·U_(k)), where U_(k) is the k-th smallest of n uniform
numbers on [0, 1), and U_(k) ~ Beta(k, n - k + 1). For even n the next one is
U_(k+1) = U_(k) + (1 - U_(k))·Beta(1, n - k) (the smallest of the n - k uniforms above U_(k)).
So one replicate's median is one or two Beta draws and an index into s: the same distribution as the
ordinary bootstrap of the median (tests/test_compare_scale.py checks it against resampling), at a
cost that does not grow with the number of rounds.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bootstrap_medians", "ratio_of_medians_interval"]


def bootstrap_medians(values: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """`n_resamples` bootstrap replicates of the median of `values` (finite, non-empty), from order statistics."""
    ordered = np.sort(np.asarray(values, dtype=float))
    n = ordered.size
    k = (n + 1) // 2  # 1-based rank of the lower middle order statistic
    low = rng.beta(k, n - k + 1, size=n_resamples)
    high = low if n % 2 else low + (1 - low) * rng.beta(1, n - k, size=n_resamples)
    i_low = np.minimum((low * n).astype(np.int64), n - 1)
    i_high = np.minimum((high * n).astype(np.int64), n - 1)
    return (ordered[i_low] + ordered[i_high]) / 2


def ratio_of_medians_interval(
    base: np.ndarray, cur: np.ndarray, *, confidence: float, n_resamples: int, seed: int
) -> tuple[float, float]:
    """Percentile-bootstrap interval of median(cur)/median(base), both sides resampled independently."""
    rng = np.random.default_rng(seed)
    ratios = bootstrap_medians(cur, n_resamples, rng) / bootstrap_medians(base, n_resamples, rng)
    tail = (1 - confidence) / 2
    low, high = np.quantile(ratios, [tail, 1 - tail])
    return (float(low), float(high))
