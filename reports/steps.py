"""Change points in a short series (pure, numpy only; the history pages and the gate's baseline window use it).

Detection follows the idea of asv's ``step_detect``: fit a piecewise-constant
function to the series with an L1 (median) cost, and pick the number of steps with a
Schwarz-like information criterion ``beta * k + log(floor + cost_k)`` where
``beta = 4 ln(n) / n``. The fit is an exact dynamic programme in numpy instead of asv's approximate
solver; its cost is cubic in the series' length, so a series longer than MAX_POINTS (a year of nightly
runs) is fitted on the medians of consecutive bins, which places each step to within one bin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["MAX_POINTS", "detect_steps", "segment"]

#: a longer series is fitted on the medians of consecutive bins (the fit is cubic in its length)
MAX_POINTS = 120


def _l1_cost_matrix(y: np.ndarray) -> np.ndarray:
    """cost[i, j] = sum |y[i:j] - median(y[i:j])| for i < j, inf elsewhere (one numpy pass per piece length)."""
    n = y.size
    cost = np.full((n + 1, n + 1), np.inf)
    for length in range(1, n + 1):
        windows = sliding_window_view(y, length)  # every piece of this length, one per row
        medians = np.median(windows, axis=1)
        starts = np.arange(n - length + 1)
        cost[starts, starts + length] = np.abs(windows - medians[:, None]).sum(axis=1)
    return cost


def segment(y: Sequence[float], k: int, cost: np.ndarray | None = None) -> tuple[list[int], float]:
    """Best split of `y` into `k` constant pieces (L1): start indices of pieces 2..k and total cost."""
    arr = np.asarray(y, dtype=float)
    n = arr.size
    if not 1 <= k <= n:
        raise ValueError(f"k={k} pieces do not fit {n} points")
    c = _l1_cost_matrix(arr) if cost is None else cost
    best = c[0].copy()  # best[j]: cost of y[:j] in one piece
    back: list[np.ndarray] = []
    for _ in range(1, k):
        total = best[:, None] + c  # total[i, j]: best of y[:i] plus one piece y[i:j]
        arg = np.argmin(total, axis=0)
        best = total[arg, np.arange(n + 1)]
        back.append(arg)
    starts: list[int] = []
    j = n
    for arg in reversed(back):
        j = int(arg[j])
        starts.append(j)
    return sorted(starts), float(best[n])


def _medians(y: np.ndarray, starts: Sequence[int]) -> list[float]:
    """The median of each piece of `y` cut at `starts`."""
    edges = [0, *starts, y.size]
    return [float(np.median(y[a:b])) for a, b in pairwise(edges)]


def _noise_floor(y: np.ndarray, starts: Sequence[int]) -> float:
    """asv's measurement floor: a tenth of the smallest step between levels, or 0.1 % of the level."""
    levels = _medians(y, starts)
    scale = 1e-3 * float(np.median(np.abs(y)))
    if len(levels) > 1:
        scale = max(scale, 0.1 * min(abs(b - a) for a, b in pairwise(levels)))
    return max(scale, 1e-300)


def _finite_or_zero(value: float | None) -> float:
    """A finite float, or 0.0 for None/nan/inf."""
    return float(value) if value is not None and math.isfinite(value) else 0.0


def detect_steps(
    values: Sequence[float | None],
    *,
    noise: Sequence[float | None] | None = None,
    min_change: float = 0.05,
    beta: float | None = None,
    max_steps: int = 10,
) -> list[int]:
    """Indices where a new level starts in a noisy piecewise-constant series (nan/None skipped).

    A step is reported only when it is at least `min_change` of the level before it and larger
    than the scatter on either side: the mean absolute deviation of each piece, and `noise`
    (each point's own uncertainty, e.g. its run's IQR in the same unit) where given.
    """
    raw = [math.nan if v is None else float(v) for v in values]
    index = [i for i, v in enumerate(raw) if math.isfinite(v)]
    y = np.array([raw[i] for i in index])
    u = np.array([_finite_or_zero(noise[i]) if noise is not None else 0.0 for i in index])
    if y.size > MAX_POINTS:  # a year of nightly runs: a step is placed to within one bin (n / MAX_POINTS runs)
        size = math.ceil(y.size / MAX_POINTS)
        cuts = range(0, y.size, size)
        y = np.array([np.median(y[a : a + size]) for a in cuts])
        u = np.array([np.median(u[a : a + size]) for a in cuts])
        index = [index[a] for a in cuts]
    n = y.size
    if n < 2:
        return []
    beta = 4.0 * math.log(n) / n if beta is None else beta
    cost = _l1_cost_matrix(y)
    best_starts: list[int] = []
    best_obj = math.inf
    for k in range(1, min(n, max_steps + 1) + 1):
        starts, total = segment(y, k, cost)
        # The floor keeps a perfect fit (cost 0, one piece per point) from always winning.
        obj = beta * k + math.log(_noise_floor(y, starts) + total)
        if obj < best_obj - 1e-12:
            best_obj, best_starts = obj, starts
    # Point-to-point scatter: robust to a few steps, it keeps short noisy series from "stepping" at every point.
    jitter = float(np.median(np.abs(np.diff(y))))
    starts = list(best_starts)
    while starts:
        pieces = list(pairwise([0, *starts, n]))
        levels = [float(np.median(y[a:b])) for a, b in pieces]
        spread = [
            max(float(np.mean(np.abs(y[a:b] - level))), float(np.median(u[a:b])), jitter)
            for (a, b), level in zip(pieces, levels, strict=True)
        ]

        def needed(j: int, k: int, levels: list[float] = levels, spread: list[float] = spread) -> float:
            """The smallest convincing difference between the levels of pieces j and k."""
            return max(min_change * abs(levels[j]), spread[j], spread[k])

        # A single run in the middle that the series comes back from is an outlier, not two steps.
        outlier = next(
            (
                j
                for j in range(1, len(pieces) - 1)
                if pieces[j][1] - pieces[j][0] == 1 and abs(levels[j + 1] - levels[j - 1]) < needed(j - 1, j + 1)
            ),
            None,
        )
        if outlier is not None:
            del starts[outlier - 1 : outlier + 1]
            continue
        # Merge steps too small to matter, the least convincing first, re-fitting the levels each time.
        margins = [abs(levels[j + 1] - levels[j]) / (needed(j, j + 1) or math.inf) for j in range(len(starts))]
        weakest = int(np.argmin(margins))
        if margins[weakest] >= 1.0:
            break
        del starts[weakest]
    return [index[s] for s in starts]
