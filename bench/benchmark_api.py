"""The one place devicebench reaches into pytest-benchmark's fixture beyond its public API.

pytest-benchmark's public `benchmark(...)` and `benchmark.pedantic(...)` time a fixed number of rounds of a
function; devicebench needs rounds of K calls with one sync, stopped by a precision target and filtered for
throttling, so it times them itself and hands pytest-benchmark the per-call times to keep, in the same statistics
object `pedantic` fills (so `--benchmark-json`, its tables and devicebench's results see the same rounds).
That takes three private attributes (`_timer`, `_mode`, `_make_stats`); tests/test_benchmark_api.py pins them to
the supported pytest-benchmark versions, so an upgrade that moves them fails there, not mid-run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from time import perf_counter
from typing import Any

#: the pytest-benchmark releases this adapter is checked against (pyproject.toml asks for >= 5.3.1)
SUPPORTED = (">=5.1", "<6")
MODE = "devicebench rounds"


def clock_of(benchmark: Any) -> Callable[[], float]:
    """The timer pytest-benchmark times rounds with (`--benchmark-timer`), so warm-up uses the same clock."""
    return getattr(benchmark, "_timer", perf_counter)


def claim(benchmark: Any) -> None:
    """Mark the fixture used, as benchmark(...) does; a second use of it for one case is an error."""
    if getattr(benchmark, "_mode", None):
        raise RuntimeError("the benchmark fixture was already used for this case")
    benchmark._mode = MODE


def keep_rounds(benchmark: Any, round_s: Sequence[float], calls_per_round: int) -> Any:
    """Give pytest-benchmark each kept round's time with `iterations` = calls per round; its statistics object.

    Its `update` divides each round's time by `iterations`, so `stats.data` holds per-call times, as `pedantic`'s do.
    """
    stats = benchmark._make_stats(calls_per_round)
    for value in round_s:
        stats.update(value)
    return stats
