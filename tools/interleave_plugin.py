"""pytest plugin for the round-interleaved confirmation (loaded by tools/confirm.py with -p; no devicebench import
at module level, so it works with any checkout's bench package).

Every timed round waits for a `go` line on the FIFO named by DEVICEBENCH_INTERLEAVE_IN and answers with its time
on the FIFO named by DEVICEBENCH_INTERLEAVE_OUT; `stop` ends the case's rounds. The driver sends `go` to the base
and the head process in turn, so their rounds alternate A B A B … within milliseconds of each other.
"""

from __future__ import annotations

import os
from typing import Any, TextIO

_pipes: list[TextIO] = []


def _open() -> tuple[TextIO, TextIO]:
    """The (in, out) FIFOs, opened once: in before out, as the driver opens them."""
    if not _pipes:
        _pipes.append(open(os.environ["DEVICEBENCH_INTERLEAVE_IN"], encoding="ascii"))  # noqa: SIM115
        _pipes.append(open(os.environ["DEVICEBENCH_INTERLEAVE_OUT"], "w", encoding="ascii", buffering=1))  # noqa: SIM115
    return _pipes[0], _pipes[1]


def time_rounds(benchmark: Any, timed: Any, clock: Any, policy: Any, check: Any = None) -> tuple[list[float], str]:
    """bench.runner.time_rounds, with each round started by the driver; (times, 'rounds')."""
    benchmark._mode = "devicebench interleaved rounds"
    stats = benchmark._make_stats(1)
    times: list[float] = []
    pipe_in, pipe_out = _open()
    pipe_out.write("ready\n")
    while pipe_in.readline().strip() == "go":
        start = clock()
        out = timed()
        elapsed = clock() - start
        stats.update(elapsed)
        times.append(elapsed)
        pipe_out.write(f"{elapsed!r}\n")
        if check is not None:
            failure = check(out, len(times) - 1, elapsed)
            if failure:
                raise RuntimeError(failure)
    return times, "rounds"  # a fixed count (the driver's), in the results format's terms


def pytest_configure(config: Any) -> None:
    """Replace the round loop of the checkout's runner."""
    import bench.runner

    bench.runner.time_rounds = time_rounds  # type: ignore[assignment]
