"""Batched, throttle-aware and cold rounds on the scripted backend: a scripted sync cost and scripted clock events.

Each call of the scripted case takes 200 us of device work on the virtual clock, each sync 20 us more (the host's
overhead a round of one call pays every time); no wall-clock time is measured or asserted here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_benchmark.stats import Stats

from bench.backends.base import Prepared
from bench.batching import MAX_OVERHEAD, TARGET_ROUND_S, choose_batch
from bench.case_limits import GpuContext
from bench.cases import Case
from bench.nvml_summary import Sample
from bench.profiles import get_profile
from bench.round_clocks import RoundClock, headline, round_clocks
from bench.runner import run_case
from bench.workloads.matmul import MATMUL
from tests.fake_backend import CLOCK, FakeTorchBackend, now

CALL_S = 200e-6
SYNC_S = 20e-6
SW_POWER_CAP = 0x4
SMOKE = get_profile("smoke")


class Metadata:
    """The statistics object pytest-benchmark's _make_stats returns, as far as the runner reads it."""

    def __init__(self, iterations: int) -> None:
        self.stats = Stats()
        self.iterations = iterations

    def update(self, value: float) -> None:
        self.stats.update(value / self.iterations)  # as pytest-benchmark's Metadata: a round's time per call


class Bench:
    """The benchmark fixture's surface bench.benchmark_api uses, on the virtual clock."""

    def __init__(self) -> None:
        self._timer = now
        self._mode = None
        self.extra_info: dict[str, Any] = {}
        self.group = ""
        self.stats: Metadata | None = None

    def _make_stats(self, iterations: int) -> Metadata:
        self.stats = Metadata(iterations)
        return self.stats


@pytest.fixture
def gpu_backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTorchBackend]:
    monkeypatch.setenv("DEVICEBENCH_FAKE_HOST", "gpubox")
    monkeypatch.delenv("DEVICEBENCH_FAKE_NOISE", raising=False)
    backend = FakeTorchBackend()
    backend.sync_s = SYNC_S
    state = {"slow": 1.0}

    def build(case: Case, backend: FakeTorchBackend) -> Prepared:
        def call() -> Any:
            CLOCK.advance(CALL_S * state["slow"])
            return backend.output(case)

        return Prepared(call)

    monkeypatch.setattr(backend, "builders", lambda: {"matmul": build})
    backend.state = state  # type: ignore[attr-defined]
    yield backend


def gpu_case(backend: FakeTorchBackend, workload: Any = MATMUL) -> Case:
    return Case(workload, backend.devices()[1], {"n": 1024, "dtype": "bfloat16"})


def bias(bench: Bench) -> float:
    assert bench.stats is not None
    return float(bench.stats.stats.median) / CALL_S - 1


def test_a_20us_sync_biases_a_200us_call_by_10_percent_when_each_round_is_one_call(gpu_backend) -> None:
    # what every case did before batching, and what latency workloads still do: per-call rounds
    bench = Bench()
    one_call = dataclasses.replace(MATMUL, batched=False)
    extra = run_case(bench, gpu_case(gpu_backend, one_call), gpu_backend, SMOKE)
    assert extra["timing"]["calls_per_round"] == 1
    assert "every call on its own" in extra["timing"]["batch_reason"]
    assert bias(bench) == pytest.approx(SYNC_S / CALL_S, rel=0.05)


def test_batched_rounds_bring_that_bias_under_1_percent_and_record_k_why_and_device_time(gpu_backend) -> None:
    bench = Bench()
    extra = run_case(bench, gpu_case(gpu_backend), gpu_backend, SMOKE)
    timing = extra["timing"]
    calls = timing["calls_per_round"]
    assert calls > 1 and bench.stats is not None and bench.stats.iterations == calls
    assert 0 <= bias(bench) < MAX_OVERHEAD
    assert timing["round_overhead_s"] == pytest.approx(SYNC_S, rel=0.05)
    assert "sync and launch overhead" in timing["batch_reason"]
    # the device timer sees the calls without the host's sync
    assert timing["device_median_s"] == pytest.approx(CALL_S, rel=1e-6) and timing["device_timer"] == "fake events"
    assert extra["throughput"] == pytest.approx(MATMUL.throughput(extra["params"], CALL_S), rel=MAX_OVERHEAD)


def test_choose_batch_from_warm_up_times() -> None:
    batch = choose_batch(CALL_S + SYNC_S, 8 * CALL_S + SYNC_S, 8)
    assert batch.overhead_s == pytest.approx(SYNC_S) and batch.call_s == pytest.approx(CALL_S)
    assert SYNC_S / (batch.calls * CALL_S) < MAX_OVERHEAD
    long = choose_batch(0.05, None)
    assert long.calls == 1 and "round target" in long.reason
    # a tiny call with a large overhead stops at the round target instead
    tiny = choose_batch(2e-6 + 1e-3, 16e-6 + 1e-3, 8)
    assert tiny.calls == round(TARGET_ROUND_S / 2e-6) and "lasts the 10 ms target" in tiny.reason


class ScriptedRecording:
    """An NVML window whose GPU 0 reports a power cap during the rounds listed (their calls run 1.5x slower)."""

    def __init__(self, backend: FakeTorchBackend, throttled: set[int]) -> None:
        self.backend = backend
        self.throttled = throttled
        self.samples: list[Sample] = []
        self.round_marks: list[int] = []
        self.summary: dict[str, Any] = {}
        self._set(0)

    def _set(self, index: int) -> None:
        self.backend.state["slow"] = 1.5 if index in self.throttled else 1.0  # type: ignore[attr-defined]

    def mark_round(self) -> None:
        index = len(self.round_marks)
        mask = SW_POWER_CAP if index in self.throttled else 0
        clock = 1500 if mask else 1980
        self.samples.append(Sample(0.0, "case", 0, "GPU-0", None, None, None, None, None, None, clock, None, mask))
        self.round_marks.append(len(self.samples))
        self._set(index + 1)

    def round_clocks(self, gpu_index: int) -> list[RoundClock]:
        return round_clocks(self.samples, self.round_marks, gpu_index)

    def __enter__(self) -> ScriptedRecording:
        return self

    def __exit__(self, *exc: object) -> None:
        throttled = bool(self.throttled)
        reasons = ["sw_power_cap"] if throttled else []
        self.summary = {"0": {"samples": len(self.samples), "throttled": throttled, "throttle_reasons": reasons}}
        self.backend.state["slow"] = 1.0  # type: ignore[attr-defined]


class ScriptedSampler:
    def __init__(self, backend: FakeTorchBackend, throttled: set[int]) -> None:
        self.backend, self.throttled = backend, throttled

    def sample(self, case_name: str) -> ScriptedRecording:
        return ScriptedRecording(self.backend, self.throttled)


def test_rounds_under_a_power_cap_leave_the_headline_median_and_stay_in_the_record(gpu_backend) -> None:
    bench = Bench()
    throttled = set(range(0, 40, 2)) | {1, 3}  # 22 of the rounds, just over half: with them the median would be slow
    sampler = ScriptedSampler(gpu_backend, throttled)
    extra = run_case(bench, gpu_case(gpu_backend), gpu_backend, SMOKE, sampler, gpu=GpuContext(0))
    timing, throttle = extra["timing"], extra["throttle"]
    rounds = timing["rounds"]
    left_out = len([i for i in throttled if i < rounds])
    assert rounds > left_out > rounds / 2
    assert timing["rounds_left_out"] == left_out == throttle["rounds_throttled"]
    assert timing["left_out_share"] == pytest.approx(left_out / rounds, abs=1e-4)
    assert timing["every_round_throttled"] is False and "left out" in timing["headline"]
    assert bench.stats is not None and bench.stats.stats.rounds == rounds - left_out
    assert 0 <= bias(bench) < MAX_OVERHEAD  # the slow rounds would have made the median 1.5x
    assert len(timing["all_round_times_s"]) == rounds
    assert max(timing["all_round_times_s"]) > 1.4 * CALL_S
    runs = throttle["round_clocks"]
    assert sum(run["rounds"] for run in runs) == rounds
    per_round = [(run["reasons"], run["sm_clock_mhz"]) for run in runs for _ in range(run["rounds"])]
    assert [i for i, (reasons, _) in enumerate(per_round) if reasons] == sorted(i for i in throttled if i < rounds)
    assert per_round[0] == (["sw_power_cap"], 1500) and per_round[rounds - 1] == ([], 1980)


def test_when_every_round_was_throttled_all_are_kept_and_the_case_says_so(gpu_backend) -> None:
    bench = Bench()
    sampler = ScriptedSampler(gpu_backend, set(range(100_000)))
    extra = run_case(bench, gpu_case(gpu_backend), gpu_backend, SMOKE, sampler, gpu=GpuContext(0))
    timing = extra["timing"]
    assert timing["every_round_throttled"] is True and timing["rounds_left_out"] == 0
    assert "every round ran under a power or thermal clock event" in timing["headline"]
    assert bench.stats is not None and bench.stats.stats.rounds == timing["rounds"]
    assert bias(bench) == pytest.approx(0.5, abs=0.02)  # shown as it is, not hidden


def test_headline_without_per_round_clocks_keeps_every_round() -> None:
    assert headline([], 5).kept == (0, 1, 2, 3, 4)
    quiet, capped = RoundClock((), 1980), RoundClock(("sw_power_cap",), 1500)
    idle_only = RoundClock(("gpu_idle", "applications_clocks_setting"), 1980)
    assert headline([quiet, capped, idle_only], 3).kept == (0, 2)


def test_a_round_without_a_sample_of_its_own_takes_the_last_state_before_it() -> None:
    def sample(gpu: int, mask: int) -> Sample:
        return Sample(0.0, "c", gpu, "", None, None, None, None, None, None, 1800, None, mask)

    samples = [sample(0, SW_POWER_CAP), sample(1, 0), sample(0, 0)]
    clocks = round_clocks(samples, [1, 1, 2, 3], gpu_index=0)
    assert [c.throttled for c in clocks] == [True, True, True, False]


def test_cold_rounds_write_the_flush_buffer_untimed_one_call_each(gpu_backend) -> None:
    bench = Bench()
    extra = run_case(bench, gpu_case(gpu_backend), gpu_backend, SMOKE, cache="cold")
    timing = extra["timing"]
    assert timing["cache"] == "cold" and timing["flush_bytes"] == 100 * 2**20
    assert timing["calls_per_round"] == 1 and "cold cache" in timing["batch_reason"]
    assert bias(bench) == pytest.approx(SYNC_S / CALL_S, rel=0.05)  # the 100 us flush is outside the timed region


def test_hot_is_the_default_and_workloads_without_a_cold_mode_record_no_cache(gpu_backend) -> None:
    hot = run_case(Bench(), gpu_case(gpu_backend), gpu_backend, SMOKE)
    assert hot["timing"]["cache"] == "hot" and hot["timing"]["flush_bytes"] is None
    hot_only = dataclasses.replace(MATMUL, cache_modes=("hot",))
    other = run_case(Bench(), gpu_case(gpu_backend, hot_only), gpu_backend, SMOKE, cache="cold")
    assert "cache" not in other["timing"]
    with pytest.raises(ValueError, match="cache must be one of hot, cold"):
        run_case(Bench(), gpu_case(gpu_backend), gpu_backend, SMOKE, cache="warm")


def test_a_flush_buffer_is_twice_the_cache_at_least_64_mib_and_512_mib_when_unknown() -> None:
    from bench.backends.base import flush_bytes

    mib = 2**20
    assert (flush_bytes(60 * mib), flush_bytes(8 * mib), flush_bytes(None)) == (120 * mib, 64 * mib, 512 * mib)
