"""Runs one case under pytest-benchmark: warm up, check placement, time rounds with a device sync, record facts.

A round is K back-to-back calls and one sync (K from bench.batching; 1 for latency workloads and cold rounds),
timed on the host and, where the backend has a device timer (torch on CUDA), on the device too; with `cache`
"cold" a buffer twice the device's last cache level is written before every call, outside the timed region.
pytest-benchmark keeps each kept round's time / K; rounds that ran under a power or thermal clock event are left
out of that headline (bench.round_clocks) and kept in the case's timing record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Protocol

from pydantic import ValidationError

from bench.backends.base import Backend, CacheFlush, CaseSkipped, DeviceTimer, one_line
from bench.batching import PROBE_CALLS, TARGET_ROUND_S, Batch, choose_batch, single_calls
from bench.benchmark_api import claim, clock_of, keep_rounds
from bench.case_limits import GpuContext, energy_record, throttle_record
from bench.cases import Case
from bench.profiles import Profile
from bench.round_clocks import Headline, RoundClock, headline
from bench.rounds import RoundPolicy, relative_half_width
from results_format import CaseInfo

CACHE_MODES = ("hot", "cold")


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
    return clock_of(benchmark)


@dataclass
class Rounds:
    """The timed rounds: each round's host seconds (K calls and one sync), device seconds where timed, why it ended."""

    host_s: list[float]
    device_s: list[float]
    stopped_by: str


def round_timer(
    call: Callable[[], Any],
    sync: Callable[[], None],
    clock: Callable[[], float],
    calls: int = 1,
    device_timer: DeviceTimer | None = None,
    flush: CacheFlush | None = None,
) -> Callable[[], tuple[Any, float, float | None]]:
    """One timed round: (the last call's output, host seconds, device seconds or None).

    A cold round first writes the flush buffer and waits for it, untimed.
    """

    def one_round() -> tuple[Any, float, float | None]:
        if flush is not None:
            flush.write()
            sync()
        if device_timer is not None:
            device_timer.start()
        start = clock()
        for _ in range(calls - 1):
            call()
        out = call()
        if device_timer is not None:
            device_timer.stop()
        sync()
        elapsed = clock() - start
        return out, elapsed, device_timer.elapsed_s() if device_timer is not None else None

    return one_round


def time_rounds(
    one_round: Callable[[], tuple[Any, float, float | None]],
    policy: RoundPolicy,
    check: Callable[[Any, int, float], str | None] | None = None,
    after_round: Callable[[], None] | None = None,
) -> Rounds:
    """Time rounds until the policy says stop.

    `check`, where given, runs untimed after each round with its output, index and time; a message it returns
    fails the case (CaseFailed) at that round. `after_round` runs untimed after each (NVML notes the round's end).
    """
    host: list[float] = []
    device: list[float] = []
    while True:
        out, elapsed, on_device = one_round()
        if after_round is not None:
            after_round()
        host.append(elapsed)
        if on_device is not None:
            device.append(on_device)
        if check is not None:
            failure = check(out, len(host) - 1, elapsed)
            if failure:
                raise CaseFailed(failure)
        stopped_by = policy.stop(host)
        if stopped_by:
            return Rounds(host, device, stopped_by)


def plan_batch(
    timed: Callable[[], Any],
    call: Callable[[], Any],
    sync: Callable[[], None],
    clock: Callable[[], float],
    warm: Warmup,
    why_single: str | None,
) -> Batch:
    """Calls per round: one where `why_single` says so or one call is long, else K from a warm-up probe."""
    if why_single is not None:
        return single_calls(why_single)
    if warm.last_call_s >= TARGET_ROUND_S:
        return choose_batch(warm.last_call_s, None)
    singles, batches = [warm.last_call_s], []
    probe = round_timer(call, sync, clock, PROBE_CALLS)
    for _ in range(2):  # the fastest of a few of each: the overhead estimate is a difference of two times
        start = clock()
        timed()
        singles.append(clock() - start)
        batches.append(probe()[1])
    return choose_batch(min(singles), min(batches), PROBE_CALLS)


def single_call_reason(case: Case, schedule: Any, cold: bool, checked: bool) -> str | None:
    """Why this case's rounds are one call each (None: it may batch short calls)."""
    if not case.workload.batched or schedule is not None:
        return "the workload times every call on its own (per-request figures)"
    if checked:
        return "every round's result is checked"
    if cold:
        return "cold cache: the flush buffer is written before every call"
    return None


def median(values: list[float]) -> float:
    """The median of a non-empty list."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def timing_facts(
    rounds: Rounds,
    policy: RoundPolicy,
    batch: Batch | None = None,
    kept: Headline | None = None,
    cache: tuple[str, int | None] | None = None,
    device_method: str | None = None,
) -> dict[str, Any]:
    """The `timing` record: rounds, what ended them, how well the median is known, K, cache and what was left out."""
    times = rounds.host_s
    reached = relative_half_width(times, policy.confidence)
    facts: dict[str, Any] = {
        "rounds": len(times),
        "stopped_by": rounds.stopped_by,
        "precision_target": policy.precision,
        "precision_reached": reached if reached != float("inf") else None,
        "budget_s": policy.budget_s if policy.precision is not None else None,
    }
    calls = batch.calls if batch is not None else 1
    if batch is not None:
        facts.update(batch.record())
    if cache is not None:
        facts["cache"], facts["flush_bytes"] = cache
    if rounds.device_s and len(rounds.device_s) == len(times):
        chosen = kept.kept if kept is not None else range(len(times))
        facts["device_median_s"] = median([rounds.device_s[i] / calls for i in chosen])
        facts["device_timer"] = device_method
    if kept is not None:
        facts["rounds_left_out"] = kept.left_out
        facts["left_out_share"] = round(kept.left_out / len(times), 4)
        facts["every_round_throttled"] = kept.every_round_throttled
        facts["headline"] = kept.text
        if kept.left_out:
            facts["all_round_times_s"] = [t / calls for t in times]
    return facts


def run_case(
    benchmark: Any,
    case: Case,
    backend: Backend,
    profile: Profile,
    sampler: Sampler | None = None,
    precision: float | None = None,
    gpu: GpuContext | None = None,
    cache: str = "hot",
) -> dict[str, Any]:
    """Time `case` with the pytest-benchmark fixture and fill its extra_info; returns the extra_info.

    `gpu` is the NVML GPU the case runs on (with its idle power): its energy and throttling are recorded, and
    rounds under a power or thermal clock event leave the headline. `cache` "cold" flushes the device's cache
    before every call of the workloads that support it (matmul, membw); the others, and "hot", run as they are.
    """
    if cache not in CACHE_MODES:
        raise ValueError(f"cache must be one of {', '.join(CACHE_MODES)}, got {cache!r}")
    clock = benchmark_clock(benchmark)
    claim(benchmark)
    sync = backend.sync
    params = dict(case.params)
    clocks: list[RoundClock] = []
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
            rounds = 0
        cold = cache == "cold" and "cold" in case.workload.cache_modes
        flush = backend.cache_flush(case.device) if cold else None
        why_single = single_call_reason(case, schedule, flush is not None, prepared.check_round is not None)
        batch = plan_batch(timed, call, sync, clock, warm, why_single)
        if schedule is None:
            round_s = batch.calls * batch.call_s if batch.calls > 1 and batch.call_s else warm.last_call_s
            rounds = profile.rounds_for(round_s)
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
        device_timer = backend.device_timer(case.device)
        one_round = round_timer(call, sync, clock, batch.calls, device_timer, flush)
        with sampler.sample(case.id) if sampler is not None else nullcontext() as record:
            timed_rounds = time_rounds(one_round, policy, prepared.check_round, getattr(record, "mark_round", None))
        if gpu is not None and getattr(record, "summary", None) and hasattr(record, "round_clocks"):
            clocks = record.round_clocks(gpu.nvml_index)
        per_call = [t / batch.calls for t in timed_rounds.host_s]
        keep_all = case.workload.keep_throttled_rounds or len(clocks) != len(per_call)
        kept = None if keep_all else headline(clocks, len(per_call))
        host = timed_rounds.host_s
        keep_rounds(benchmark, [host[i] for i in kept.kept] if kept else host, batch.calls)
        peak = backend.memory_peak(case.device)
        median_s = float(benchmark.stats.stats.median)
        facts = prepared.facts(median_s)
        cache_record = None
        if "cold" in case.workload.cache_modes:
            cache_record = ("cold", flush.bytes) if flush is not None else ("hot", None)
    times = per_call
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
        "case_label": case.workload.case_text(params),
        "work_per_call": case.workload.work_per_call(params),
        "work_unit": case.workload.work_unit,
        "measure": "latency" if latency else "throughput",
        "throughput": None if latency else case.workload.throughput(params, median_s),
        "throughput_unit": None if latency else case.workload.throughput_unit,
        "sync": backend.sync_method,
        "placement": warm.placement,
        "warmup": {"calls": warm.calls, "first_call_s": warm.first_call_s, "last_call_s": warm.last_call_s},
        # what the first call cost beyond a steady one: tracing, compilation, allocator growth, cache fill
        "timing": timing_facts(timed_rounds, policy, batch, kept, cache_record, getattr(device_timer, "method", None)),
        "one_time_cost_s": max(0.0, warm.first_call_s - median_s),
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
            extra["energy"] = energy_record(mine, gpu, len(times) * batch.calls)
            extra["throttle"] = throttle_record(mine, gpu, clocks)
    if peak is not None:
        extra["allocator_memory"] = {"allocator": backend.allocator_name, "peak_bytes": peak}
    try:
        CaseInfo.model_validate(extra)
    except ValidationError as exc:
        raise CaseFailed(f"the case's record does not fit the results format: {validation_line(exc)}") from None
    benchmark.extra_info.update(extra)
    return extra
