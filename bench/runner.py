"""Runs one case under pytest-benchmark: warm up, check placement, time with a device sync, record facts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Protocol

from pydantic import ValidationError

from bench.backends.base import Backend, CaseSkipped, one_line
from bench.case_limits import GpuContext, energy_record, throttle_record
from bench.cases import Case
from bench.profiles import Profile
from bench.rounds import RoundPolicy, relative_half_width
from results_format import CaseInfo


class CaseFailed(Exception):
    """A case that ran but must not count: its facts say it went wrong (e.g. a NaN loss); no number is kept."""


class Sampler(Protocol):
    """What the runner needs of a telemetry sampler (see bench.nvml)."""

    def sample(self, case_name: str) -> Any:
        """A context manager sampling while one case is timed."""


@dataclass
class Warmup:
    """What the untimed warm-up learned: one-time costs and the steady per-call time."""

    calls: int
    first_call_s: float
    last_call_s: float
    placement: str


def warm_up(backend: Backend, case: Case, timed: Any, calls: int, clock: Callable[[], float] = perf_counter) -> Warmup:
    """Call `timed` `calls` times untimed by pytest-benchmark, checking the first output's device."""
    start = clock()
    out = timed()
    first = last = clock() - start
    placement = backend.check_placement(out, case.device)
    for _ in range(calls - 1):
        start = clock()
        timed()
        last = clock() - start
    return Warmup(max(calls, 1), first, last, placement)


def validation_line(exc: ValidationError) -> str:
    """A pydantic error as one line: the first problem and where it is."""
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"])
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {error['msg'].removeprefix('Value error, ')}{more}"


@contextmanager
def _out_of_memory_as_skip(backend: Backend, case: Case) -> Iterator[None]:
    try:
        yield
    except CaseSkipped:
        raise
    except Exception as exc:
        if backend.is_out_of_memory(exc):
            raise CaseSkipped("oom", f"out of memory on {case.device.name}: {one_line(exc)}") from exc
        raise


def benchmark_clock(benchmark: Any) -> Callable[[], float]:
    """The timer pytest-benchmark times rounds with (`--benchmark-timer`), so warm-up uses the same clock."""
    return getattr(benchmark, "_timer", perf_counter)  # pytest-benchmark keeps it there; perf_counter otherwise


def time_rounds(
    benchmark: Any,
    timed: Callable[[], Any],
    clock: Callable[[], float],
    policy: RoundPolicy,
    check: Callable[[Any, int, float], str | None] | None = None,
) -> tuple[list[float], str]:
    """Time rounds of `timed` into pytest-benchmark's statistics until the policy says stop; (times, why).

    `check`, where given, runs untimed after each round with its output, index and time; a message it returns
    fails the case (CaseFailed) at that round.
    """
    # The same per-case statistics object benchmark.pedantic() fills (pytest-benchmark's own _make_stats),
    # so its tables and our results see the same rounds; pedantic itself cannot stop on a precision target.
    if getattr(benchmark, "_mode", None):
        raise RuntimeError("the benchmark fixture was already used for this case")
    benchmark._mode = "devicebench rounds"
    stats = benchmark._make_stats(1)
    times: list[float] = []
    while True:
        start = clock()
        out = timed()
        elapsed = clock() - start
        stats.update(elapsed)
        times.append(elapsed)
        if check is not None:
            failure = check(out, len(times) - 1, elapsed)
            if failure:
                raise CaseFailed(failure)
        stopped_by = policy.stop(times)
        if stopped_by:
            return times, stopped_by


def timing_facts(times: list[float], stopped_by: str, policy: RoundPolicy) -> dict[str, Any]:
    """The `timing` record: rounds, what ended them, and how well the median is known."""
    reached = relative_half_width(times, policy.confidence)
    return {
        "rounds": len(times),
        "stopped_by": stopped_by,
        "precision_target": policy.precision,
        "precision_reached": reached if reached != float("inf") else None,
        "budget_s": policy.budget_s if policy.precision is not None else None,
    }


def run_case(
    benchmark: Any,
    case: Case,
    backend: Backend,
    profile: Profile,
    sampler: Sampler | None = None,
    precision: float | None = None,
    gpu: GpuContext | None = None,
) -> dict[str, Any]:
    """Time `case` with the pytest-benchmark fixture and fill its extra_info; returns the extra_info.

    `gpu` is the NVML GPU the case runs on (with its idle power): its energy and throttling are recorded.
    """
    clock = benchmark_clock(benchmark)
    sync = backend.sync
    params = dict(case.params)
    with _out_of_memory_as_skip(backend, case):
        prepared = backend.build(case)
        call = prepared.call

        def timed() -> Any:
            out = call()
            sync()
            return out

        schedule = case.workload.schedule(profile, params) if case.workload.schedule is not None else None
        if schedule is not None:
            warmup_calls, rounds = schedule
            warm = warm_up(backend, case, timed, warmup_calls, clock)
        else:
            warm = warm_up(backend, case, timed, profile.warmup_calls, clock)
            rounds = profile.rounds_for(warm.last_call_s)
        benchmark.group = case.group
        backend.memory_reset(case.device)
        duration = case.workload.duration
        policy = RoundPolicy(
            rounds=rounds,
            precision=precision if schedule is None and duration is None else None,  # fixed schedules stay fixed
            min_rounds=profile.min_rounds,
            budget_s=profile.precision_budget_s,
            duration_s=duration(params) if duration is not None else None,
        )
        with sampler.sample(case.id) if sampler is not None else nullcontext() as record:
            times, stopped_by = time_rounds(benchmark, timed, clock, policy, prepared.check_round)
        peak = backend.memory_peak(case.device)
        median = float(benchmark.stats.stats.median)
        facts = prepared.facts(median)
    failure = case.workload.check({**params, **facts})  # a check may depend on the case (e.g. its batch)
    if failure:
        raise CaseFailed(failure)
    # A view that shares the buffer moves no bytes: it is a latency, never a bandwidth (see results_format).
    latency = facts.get("zero_copy") is True

    extra: dict[str, Any] = {
        "workload": case.workload.name,
        "workload_version": case.workload.version,
        "backend": backend.name,
        "backend_version": backend.version(),
        "device": case.device.name,
        "device_kind": case.device.kind,
        "device_name": case.device.model,
        "params": params,
        "work_per_call": case.workload.work_per_call(params),
        "work_unit": case.workload.work_unit,
        "measure": "latency" if latency else "throughput",
        "throughput": None if latency else case.workload.throughput(params, median),
        "throughput_unit": None if latency else case.workload.throughput_unit,
        "sync": backend.sync_method,
        "placement": warm.placement,
        "warmup": {"calls": warm.calls, "first_call_s": warm.first_call_s, "last_call_s": warm.last_call_s},
        # what the first call cost beyond a steady one: tracing, compilation, allocator growth, cache fill
        "timing": timing_facts(times, stopped_by, policy),
        "one_time_cost_s": max(0.0, warm.first_call_s - median),
        "profile": profile.name,
        **backend.case_facts(case),
        **facts,
        **case.workload.round_facts(params, times),
    }
    summary = getattr(record, "summary", None)
    if summary:
        extra["nvml"] = summary
        mine = summary.get(str(gpu.nvml_index)) if gpu is not None else None
        if gpu is not None and mine:
            extra["energy"] = energy_record(mine, gpu, len(times))
            extra["throttle"] = throttle_record(mine, gpu)
    if peak is not None:
        extra["allocator_memory"] = {"allocator": backend.allocator_name, "peak_bytes": peak}
    try:
        CaseInfo.model_validate(extra)
    except ValidationError as exc:
        raise CaseFailed(f"the case's record does not fit the results format: {validation_line(exc)}") from None
    benchmark.extra_info.update(extra)
    return extra
