"""pytest plugin for the round-interleaved confirmation (loaded by tools/confirm.py with -p; no devicebench import
at module level, so it works with any checkout's bench package).

Every timed round waits for a `go` line on the FIFO named by DEVICEBENCH_INTERLEAVE_IN and answers with its time
on the FIFO named by DEVICEBENCH_INTERLEAVE_OUT; `stop` ends the case's rounds. The driver sends `go` to the base
and the head process in turn, so their rounds alternate A B A B … within milliseconds of each other.

Two shapes of the checkout's round loop are replaced: ``time_rounds(one_round, policy, check, after_round)``
returning ``Rounds`` (batched rounds, since 399337b) and the older ``time_rounds(benchmark, timed, clock,
policy, check)`` returning ``(times, stopped_by)``; :func:`pytest_configure` picks by the first parameter's name.
Where the runner batches short calls, every round is one call on both sides: each process would otherwise pick
its own calls per round from its own warm-up, and per-call times of rounds of 1 and of 6 calls are not a pair
(an A/A confirmation of n = 512 paired K = 6 against K = 1 rounds and "confirmed" +82 %).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import Any, TextIO

_pipes: list[TextIO] = []


def _open() -> tuple[TextIO, TextIO]:
    """The (in, out) FIFOs, opened once: in before out, as the driver opens them."""
    if not _pipes:
        _pipes.append(open(os.environ["DEVICEBENCH_INTERLEAVE_IN"], encoding="ascii"))  # noqa: SIM115
        _pipes.append(open(os.environ["DEVICEBENCH_INTERLEAVE_OUT"], "w", encoding="ascii", buffering=1))  # noqa: SIM115
    return _pipes[0], _pipes[1]


def time_rounds(
    one_round: Callable[[], tuple[Any, float, float | None]],
    policy: Any,
    check: Callable[[Any, int, float], str | None] | None = None,
    after_round: Callable[[], None] | None = None,
) -> Any:
    """bench.runner.time_rounds (batched rounds), with each round started by the driver; a Rounds of the checkout."""
    import bench.runner

    host: list[float] = []
    device: list[float] = []
    pipe_in, pipe_out = _open()
    pipe_out.write("ready\n")
    while pipe_in.readline().strip() == "go":
        out, elapsed, on_device = one_round()
        if after_round is not None:
            after_round()
        host.append(elapsed)
        if on_device is not None:
            device.append(on_device)
        pipe_out.write(f"{elapsed!r}\n")
        if check is not None:
            failure = check(out, len(host) - 1, elapsed)
            if failure:
                raise bench.runner.CaseFailed(failure)
    return bench.runner.Rounds(host, device, "rounds")  # a fixed count (the driver's), in the results format's terms


def time_rounds_benchmark(
    benchmark: Any, timed: Any, clock: Any, policy: Any, check: Any = None
) -> tuple[list[float], str]:
    """The older bench.runner.time_rounds (pytest-benchmark's stats), with each round started by the driver."""
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
    """Replace the round loop of the checkout's runner, in the shape that checkout's runner has."""
    import bench.runner

    first = next(iter(inspect.signature(bench.runner.time_rounds).parameters), "")
    bench.runner.time_rounds = time_rounds if first == "one_round" else time_rounds_benchmark  # type: ignore[assignment]
    if hasattr(bench.runner, "single_call_reason"):
        bench.runner.single_call_reason = _one_call_per_round  # type: ignore[assignment]


def _one_call_per_round(*_: Any, **__: Any) -> str:
    """Why every round is one call here (bench.runner.single_call_reason's answer under interleaving)."""
    return "interleaved confirmation: one call per round on both sides, so that round i of each is a pair"
