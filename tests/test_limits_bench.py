"""The measuring side of "how close to the limit": case energy and throttle records, the sustained checksum check,
the new workloads' cases, duration-based rounds, idle power and the hardware records of a GPU (pure or faked)."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from bench.case_limits import GpuContext, energy_record, throttle_record
from bench.cases import make_cases
from bench.devices import Device
from bench.nvml import Telemetry, nvml_available
from bench.nvml_summary import Sample, summarize
from bench.profiles import PROFILES, get_profile
from bench.rounds import RoundPolicy
from bench.runner import CaseFailed, round_timer, time_rounds
from bench.workloads import WORKLOADS
from bench.workloads.membw import MEMBW, membw_check, membw_params, verify
from bench.workloads.sustained import CHECKSUM_RTOL, SUSTAINED, RoundChecker, sustained_params
from bench.workloads.transfer import CPU_ONLY_HOST, TRANSFER, transfer_params
from results_format import CaseEnergy, CaseThrottle, SustainedCheck
from tests.fake_nvml import FakeGpu, FakeNvml

CPU = Device("tensorflow", "CPU:0", "cpu", "cpu")
GPU = Device("torch", "GPU:0", "gpu", "NVIDIA H100 80GB HBM3")
TORCH_CPU = Device("torch", "CPU:0", "cpu", "cpu")

# --- energy and throttling of one case ---------------------------------------------------------------------------


def summary(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {"samples": 40, "duration_s": 2.0, "energy_j": 1300.0, "mean_power_w": 655.0}
    return {**base, **kw}


def test_energy_is_the_counter_delta_net_of_idle_per_call() -> None:
    record = energy_record(summary(), GpuContext(nvml_index=1, idle_power_w=70.0), calls=100)
    assert record is not None
    energy = CaseEnergy.model_validate(record)
    assert (energy.nvml_index, energy.method) == (1, "energy counter")
    assert energy.gross_joules == pytest.approx(1300.0)
    assert energy.idle_joules == pytest.approx(140.0)
    assert energy.joules == pytest.approx(1160.0)
    assert energy.joules_per_call == pytest.approx(11.6)
    assert (energy.window_s, energy.calls, energy.mean_power_w) == (2.0, 100, 655.0)
    assert energy.note == "idle 70 W x 2 s subtracted"


def test_energy_without_a_counter_is_mean_power_times_time_and_says_so() -> None:
    record = energy_record(summary(energy_j=None), GpuContext(0, idle_power_w=None), calls=4)
    energy = CaseEnergy.model_validate(record)
    assert energy.method == "mean power x time (no energy counter)"
    assert energy.joules == energy.gross_joules == pytest.approx(1310.0)
    assert "idle power unknown" in energy.note


def test_a_window_too_short_for_the_counter_gets_no_figure_and_no_samples_no_record() -> None:
    # as an H200 smoke case: 2 samples over 5 ms, and a counter step of 12 J inside them (2.5 kW)
    record = energy_record(summary(duration_s=0.0048, samples=2, energy_j=12.254), GpuContext(0, 82.9), calls=30)
    energy = CaseEnergy.model_validate(record)
    assert (energy.joules, energy.gross_joules, energy.joules_per_call, energy.method) == (None, None, None, "none")
    assert energy.note == (
        "no energy figure: 2 NVML samples over 0.005 s, shorter than the 0.25 s the energy counter needs "
        "(a longer case: --precision or --profile full)"
    )
    assert energy.mean_power_w == 655.0  # the sampled power is still a reading
    assert CaseEnergy.model_validate(energy_record(summary(duration_s=0.25), GpuContext(0, 70.0), 5)).joules
    assert energy_record(summary(samples=0), GpuContext(0, 70.0), calls=5) is None


def test_throttle_record_counts_every_reason_but_idle() -> None:
    hot = throttle_record(
        {"throttled": True, "throttle_reasons": ["sw_power_cap", "hw_thermal_slowdown"], "first_throttle_s": 4.2},
        GpuContext(0),
    )
    flag = CaseThrottle.model_validate(hot)
    assert flag.throttled and flag.reasons == ["sw_power_cap", "hw_thermal_slowdown"]
    assert flag.text == "throttled: software power cap, hardware thermal slowdown"
    assert flag.first_s == 4.2
    calm = throttle_record({"throttled": False, "throttle_reasons": []}, GpuContext(0))
    assert calm is not None and calm["text"] == "not throttled"
    assert throttle_record({"throttled": None}, GpuContext(0)) is None  # NVML gave no clock-event reasons


def _sample(t: float, mask: int | None) -> Sample:
    return Sample(t, "c", 0, "GPU-x", 1.0, None, None, None, None, None, None, None, mask)


def test_the_nvml_summary_says_when_the_first_throttle_reason_appeared() -> None:
    rows = [_sample(10.0, 0x1), _sample(10.5, 0x0), _sample(11.25, 0x4), _sample(12.0, 0x4)]
    gpu = summarize(rows, {0: {"name": "G"}}, pid=1)["0"]
    assert gpu["first_throttle_s"] == 1.25 and gpu["throttle_reasons"] == ["sw_power_cap"]
    idle_only = summarize(rows[:2], {0: {"name": "G"}}, pid=1)["0"]
    assert idle_only["first_throttle_s"] is None


# --- the sustained check -----------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_identical_checksums_pass_and_record_when_each_round_ended() -> None:
    clock = Clock()
    checker = RoundChecker(lambda out: out, clock=clock)
    for index, elapsed in enumerate((0.5, 0.5, 0.6)):
        clock.now += elapsed + 0.1  # each round, then 0.1 s of untimed checksum before the next
        assert checker(1234.5, index, elapsed) is None
    facts = SustainedCheck.model_validate(checker.facts(0.5)["sustained"])
    assert facts.round_end_s == pytest.approx([0.5, 1.1, 1.8])
    assert (facts.checksum, facts.rounds_checked, facts.differing_rounds, facts.max_deviation) == (1234.5, 3, 0, 0.0)
    assert facts.rtol == CHECKSUM_RTOL


def test_a_checksum_within_the_tolerance_is_counted_one_beyond_it_fails_with_its_round() -> None:
    values = iter([1e12, 1e12 * (1 + 1e-12), 1e12, 1e12 * (1 + 1e-6)])
    checker = RoundChecker(lambda out: next(values), clock=Clock())
    assert checker(None, 0, 1.0) is None
    assert checker(None, 1, 1.0) is None  # a reordered float64 sum: allowed, but counted
    assert checker(None, 2, 1.0) is None
    failure = checker(None, 3, 1.0)
    assert failure is not None and failure.startswith("round 3: the result's checksum")
    assert "by 1e-06 (relative), above the tolerance 1e-09: silent data corruption" in failure
    assert checker.differing == 2 and checker.max_deviation == pytest.approx(1e-6)


@pytest.mark.parametrize("bad", [math.nan, math.inf, 0.0, -5.0])
def test_a_first_checksum_that_is_not_positive_fails_at_round_0(bad) -> None:
    checker = RoundChecker(lambda out: bad, clock=Clock())
    assert checker(None, 0, 1.0).startswith("round 0: the result's checksum is")
    assert checker.facts(1.0) == {}


def test_a_nan_in_a_later_round_fails() -> None:
    values = iter([5.0, math.nan])
    checker = RoundChecker(lambda out: next(values), clock=Clock())
    assert checker(None, 0, 1.0) is None
    assert checker(None, 1, 1.0).startswith("round 1:")


def ticking(step: float):
    state = {"t": 0.0}

    def clock() -> float:
        state["t"] += step  # each read is `step` after the last: a round (two reads) takes `step`
        return state["t"]

    return clock


def test_a_duration_policy_times_rounds_until_that_many_timed_seconds() -> None:
    marks: list[int] = []
    rounds = time_rounds(
        round_timer(lambda: None, lambda: None, ticking(0.25)),
        RoundPolicy(rounds=1, duration_s=1.0),
        after_round=lambda: marks.append(1),
    )
    assert rounds.stopped_by == "duration" and rounds.host_s == [0.25] * 4 and len(marks) == 4


def test_a_round_check_gets_each_output_and_its_failure_fails_the_case() -> None:
    seen: list[tuple[object, int]] = []

    def check(out: object, index: int, elapsed: float) -> str | None:
        seen.append((out, index))
        return "round 2: wrong" if index == 2 else None

    with pytest.raises(CaseFailed, match="round 2: wrong"):
        time_rounds(round_timer(lambda: "out", lambda: None, ticking(0.1)), RoundPolicy(rounds=10), check)
    assert seen == [("out", 0), ("out", 1), ("out", 2)]


# --- the workloads' cases ----------------------------------------------------------------------------------------


def test_membw_cases_and_their_bytes() -> None:
    params = membw_params(get_profile("standard"), CPU)
    assert [(p["kernel"], p["bytes"] // 2**20) for p, _ in params] == [
        ("copy", 64), ("copy", 256), ("copy", 1024), ("triad", 64), ("triad", 256), ("triad", 1024),
    ]  # fmt: skip
    assert all(why is None for _, why in params)
    full_cpu = dict(((p["kernel"], p["bytes"] // 2**20), why) for p, why in membw_params(get_profile("full"), CPU))
    assert full_cpu[("copy", 4096)] == "profile full: 4096 MiB arrays are above the CPU limit of 1024 MiB"
    assert all(why is None for _, why in membw_params(get_profile("full"), GPU))
    assert MEMBW.work_per_call({"kernel": "copy", "bytes": 2**30, "dtype": "float32"}) == 2 * 2**30
    assert MEMBW.throughput({"kernel": "triad", "bytes": 10**9, "dtype": "float32"}, 1.0) == pytest.approx(3.0)


def test_membw_fails_a_wrong_result_or_a_handed_back_buffer() -> None:
    assert verify("triad", 3.5, 3.5) == {"verified": True, "verify_note": ""}
    assert membw_check({"kernel": "triad", **verify("triad", 3.5, 0.0)}) == (
        "the triad result is wrong: expected 3.5, got 3.5 and 0"
    )
    assert membw_check({"verified": True, "fresh_buffer": False}) == (
        "the output shares the input's buffer: nothing was copied"
    )
    assert membw_check({"verified": True, "fresh_buffer": True}) is None


def test_transfer_cases_per_backend_and_device() -> None:
    smoke = get_profile("smoke")
    tf = {(p["direction"], p["host_memory"]) for p, _ in transfer_params(smoke, CPU)}
    assert tf == {("h2d", "pageable"), ("d2h", "pageable"), ("d2h-view", "pageable")}
    on_gpu = {(p["direction"], p["host_memory"]): why for p, why in transfer_params(smoke, GPU)}
    assert set(on_gpu) == {
        ("h2d", "pageable"), ("d2h", "pageable"), ("h2d", "pinned"), ("d2h", "pinned"), ("both", "pinned"),
    }  # fmt: skip
    assert set(on_gpu.values()) == {None}
    on_cpu = {(p["direction"], p["host_memory"]): why for p, why in transfer_params(smoke, TORCH_CPU)}
    assert on_cpu[("both", "pinned")] == on_cpu[("h2d", "pinned")] == CPU_ONLY_HOST
    assert on_cpu[("h2d", "pageable")] is None
    both = {"direction": "both", "bytes": 2**20, "host_memory": "pinned"}
    assert TRANSFER.work_per_call(both) == 2 * 2**20  # both directions count
    assert TRANSFER.label(both) == "both-pinned-1MiB"


def test_sustained_is_opt_in_and_the_sustained_profile_runs_nothing_else() -> None:
    for name in ("smoke", "standard", "full"):
        assert make_cases(SUSTAINED, get_profile(name), [CPU, GPU]) == []
    sustained = get_profile("sustained")
    cases = make_cases(SUSTAINED, sustained, [CPU, GPU])
    assert [(c.device.name, dict(c.params)) for c in cases] == [
        ("CPU:0", {"n": 1024, "dtype": "float32", "seconds": 300.0}),
        ("GPU:0", {"n": 16384, "dtype": "float32", "seconds": 300.0}),
    ]
    assert cases[1].id == "torch-GPU:0-n16384-float32-300s"
    for name, workload in WORKLOADS.items():
        if name != "sustained":
            assert make_cases(workload, sustained, [CPU, GPU]) == [], name
    assert SUSTAINED.duration({"seconds": 12.5}) == 12.5
    assert sustained_params(PROFILES["sustained"], CPU)[0][1] is None


def test_sustained_minutes_must_be_positive(pytester) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest("-p", "bench.plugin", "--profile", "sustained", "--sustained-minutes", "0", "--no-nvml")
    result.stderr.fnmatch_lines(["*--sustained-minutes must be above 0, got 0*"])
    result = pytester.runpytest("-p", "bench.plugin", "--profile", "smoke", "--sustained-minutes", "2", "--no-nvml")
    result.stderr.fnmatch_lines(["*--sustained-minutes needs --profile sustained (profile smoke runs none)*"])


# --- NVML: idle power and a GPU's hardware records ---------------------------------------------------------------


@pytest.fixture
def fake(monkeypatch):
    nvml_available.cache_clear()

    def install(gpus: list[FakeGpu]) -> FakeNvml:
        fake_nvml = FakeNvml(gpus)
        fake_nvml.install(monkeypatch.setattr)
        return fake_nvml

    yield install
    nvml_available.cache_clear()


def test_idle_power_is_the_median_of_readings_before_the_run(fake) -> None:
    fake([FakeGpu(power_mw=71_500), FakeGpu(uuid="GPU-b", pci_bus_id="00000000:3C:00.0")])
    tel = Telemetry.start(interval_s=0.01)
    tel._gpus[1].readers["power"] = None  # a board whose driver reports no power
    sleeps: list[float] = []
    idle = tel.measure_idle(seconds=0.05, sleep=sleeps.append)
    assert sleeps == [0.01] * 4  # five readings, no sleep after the last
    assert idle["0"]["power_w"] == 71.5 and idle["0"]["readings"] == 5
    assert idle["0"]["method"].startswith("median of 5 power readings over ")
    assert (idle["1"]["power_w"], idle["1"]["method"]) == (None, "none")
    assert idle["1"]["note"] == "NVML reports no power for this GPU"
    assert tel.samples == []  # not part of the nvml.csv timeline


def test_a_gpu_s_hardware_records_validate(fake) -> None:
    from results_format import DeviceRecord

    fake([FakeGpu()])
    tel = Telemetry.start()
    record = DeviceRecord.model_validate(
        {"backend": "torch", "name": "GPU:0", "kind": "gpu", "model": "H100", **tel.gpu_hardware(0)}
    )
    assert record.sku is not None and record.sku.id == "h100-sxm"
    assert record.spec is not None and record.spec.peak("float32", tf32=True).tflops == 494.5
    assert record.host_link is not None and record.host_link.gbs_per_direction == pytest.approx(63.02)
    assert tel.gpu_hardware(7) == {} and tel.gpu_hardware(None) == {}


def test_an_unknown_sku_is_recorded_with_its_reason_and_no_spec(fake) -> None:
    from results_format import DeviceRecord

    fake([FakeGpu(name="NVIDIA B200", pci_device_id=0x2901, memory_total_mib=183000)])
    record = DeviceRecord.model_validate(
        {"backend": "torch", "name": "GPU:0", "kind": "gpu", "model": "B200", **Telemetry.start().gpu_hardware(0)}
    )
    assert record.spec is None and record.sku is not None and not record.sku.known
    assert record.sku.reason.startswith("unknown SKU: no % shown")
    with pytest.raises(ValidationError, match="a known SKU has an id"):
        DeviceRecord.model_validate(
            {"backend": "t", "name": "GPU:0", "kind": "gpu", "model": "x", "sku": {"known": True, "reason": ""}}
        )
