"""A reference case timed at the start and the end of a run: did the machine change under the run?

The reference is a fixed, single-threaded numpy computation (no framework and no BLAS threads, so it means
the same in every backend's run and does not fight the framework's thread pools for the cores).
Its round times go into the results file; `reports` judges them (drift is a verdict, and verdicts are its job).
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter

import numpy as np

REFERENCE = "numpy (a * b).sum() over 2**20 float64, single-threaded (50 rounds)"
ROUNDS = 50
WARMUP = 3
SIZE = 2**20


def time_reference(clock: Callable[[], float] = perf_counter, rounds: int = ROUNDS) -> list[float]:
    """Round times of the reference case (a few untimed calls first)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal(SIZE)
    b = rng.standard_normal(SIZE)
    for _ in range(WARMUP):
        (a * b).sum()
    times = []
    for _ in range(rounds):
        start = clock()
        (a * b).sum()
        times.append(clock() - start)
    return times


def median(times: list[float]) -> float:
    """The median of round times."""
    return float(np.median(times))
