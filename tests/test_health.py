"""The health check (bench.health) on the scripted NVML: each fault scenario gives its verdict and its message."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pynvml
import pytest

from bench import nvml
from bench.health import HealthCheck, judge, read_counters
from bench.nvml import Telemetry, nvml_available
from results_format import GpuHealth, HealthRecord, XidEvent
from tests.fake_nvml import FakeGpu, FakeNvml

CORRECTED_VOLATILE = (pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED, pynvml.NVML_VOLATILE_ECC)


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(nvml.ENV_SWITCH, raising=False)
    nvml_available.cache_clear()
    yield
    nvml_available.cache_clear()


def run_check(
    monkeypatch: pytest.MonkeyPatch, gpus: list[FakeGpu], during: Callable[[], None] = lambda: None
) -> HealthRecord:
    """Begin the check on fake GPUs, let `during` script the run, end it; the record the results file gets."""
    FakeNvml(gpus).install(monkeypatch.setattr)
    telemetry = Telemetry.start()
    check = HealthCheck.begin(telemetry)
    during()
    check.end()
    telemetry.close()
    return check.record()


def test_a_clean_gpu_is_healthy_with_every_counter_read(monkeypatch: pytest.MonkeyPatch) -> None:
    record = run_check(monkeypatch, [FakeGpu()])
    assert record.verdict == "healthy"
    assert record.reason == "1 GPU: no error counters, links and power limits at their maximum"
    gpu = record.gpus[0]
    assert gpu.before["ecc_volatile_uncorrected"] == 0
    assert gpu.after == {}  # nothing changed during the run
    assert gpu.before["power_limit_w"] == 700.0
    assert gpu.before["hbm_temp_c"] == 40
    assert gpu.unsupported == {"nvlink": "Not Supported"}  # a PCIe board without NVLink
    assert record.xid_watch == "critical XIDs watched on 1 GPU"


def test_rising_corrected_ecc_is_degraded(monkeypatch: pytest.MonkeyPatch) -> None:
    gpu = FakeGpu(ecc={CORRECTED_VOLATILE: 3})
    record = run_check(monkeypatch, [gpu], lambda: gpu.ecc.update({CORRECTED_VOLATILE: 40}))  # type: ignore[union-attr]
    assert record.verdict == "degraded"
    assert record.reason == "GPU 0: corrected ECC errors rose from 3 to 40 during the run"


def test_a_pending_row_remap_is_unhealthy(monkeypatch: pytest.MonkeyPatch) -> None:
    record = run_check(monkeypatch, [FakeGpu(), FakeGpu(remapped_rows=(2, 1, 1, 0))])
    assert record.verdict == "unhealthy"
    assert record.reason == "GPU 1: a row remap is pending: reset the GPU before trusting its numbers"
    assert [(f.gpu, f.check) for f in record.facts] == [(1, "remap_pending")]


def test_a_gen4_x8_link_on_a_gen5_x16_board_is_degraded(monkeypatch: pytest.MonkeyPatch) -> None:
    record = run_check(monkeypatch, [FakeGpu(pcie_gen=4, pcie_width=8)])
    assert record.verdict == "degraded"
    assert record.reason == "GPU 0: PCIe link at Gen4 x8, below the Gen5 x16 it supports (25% of its bandwidth)"


def test_an_idle_gpu_at_gen1_is_not_degraded_but_a_slow_link_under_load_is() -> None:
    idle = GpuHealth(index=0, before={"pcie_gen": 1, "pcie_width": 16, "pcie_max_gen": 5, "pcie_max_width": 16})
    assert judge([idle])[0] == "healthy"  # GPUs drop to Gen1 when idle: no case ran on it
    assert judge([idle], link_seen={0: (5, 16)})[0] == "healthy"
    verdict, reason, _ = judge([idle], link_seen={0: (4, 16)})
    assert (verdict, reason) == (
        "degraded",
        "GPU 0: PCIe link at Gen4 x16, below the Gen5 x16 it supports (50% of its bandwidth)",
    )


def test_an_xid_79_during_the_run_is_unhealthy(monkeypatch: pytest.MonkeyPatch) -> None:
    gpus = [FakeGpu(uuid="GPU-a"), FakeGpu(uuid="GPU-b")]
    record = run_check(monkeypatch, gpus, lambda: gpus[1].xids.append(79))
    assert record.verdict == "unhealthy"
    assert record.reason == "GPU 1: XID 79 (GPU has fallen off the bus) during the run"
    assert record.xids == [XidEvent(gpu=1, xid=79)]


def test_a_500_w_limit_on_a_700_w_sku_is_degraded(monkeypatch: pytest.MonkeyPatch) -> None:
    record = run_check(monkeypatch, [FakeGpu(power_limit_mw=500_000, default_power_limit_mw=700_000)])
    assert record.verdict == "degraded"
    assert record.reason == "GPU 0: power limit 500 W, below its default 700 W (heavy cases are capped)"


def test_an_error_counter_that_rises_during_the_run_is_unhealthy(monkeypatch: pytest.MonkeyPatch) -> None:
    gpu = FakeGpu(pcie_replay=10)
    record = run_check(monkeypatch, [gpu], lambda: setattr(gpu, "pcie_replay", 250))
    assert record.verdict == "unhealthy"
    assert record.reason == "GPU 0: PCIe replays rose from 10 to 250 during the run"


def test_nvlink_links_down_and_their_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    gpu = FakeGpu(nvlink_links=[True] * 16 + [False] * 2)
    record = run_check(monkeypatch, [gpu])
    assert record.verdict == "degraded"
    assert record.reason == "GPU 0: 2 of 18 NVLink links down"
    assert record.gpus[0].before["nvlink_links"] == 18


def test_nvlink_states_count_where_the_error_counters_are_not_supported(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeNvml([]).install(monkeypatch.setattr)
    counters, unsupported = read_counters(FakeGpu(nvlink_links=[True] * 18, nvlink_errors=None))
    assert (counters["nvlink_active"], counters["nvlink_errors"], unsupported) == (18, None, {})


def test_what_the_driver_does_not_support_is_recorded_with_its_reason_never_a_crash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gpu = FakeGpu(ecc=None, remapped_rows=None, retired_pages=None, pcie_replay=None, hbm_temp_c=None)
    gpu.has_events = False
    record = run_check(monkeypatch, [gpu])
    assert record.verdict == "healthy"
    assert set(record.gpus[0].unsupported) == {
        "ecc",
        "remapped_rows",
        "retired_pages",
        "pcie_replay",
        "nvlink",
        "hbm_temp",
    }
    assert record.gpus[0].unsupported["ecc"] == "Not Supported"
    assert record.xid_watch == "critical XIDs not watched: GPU 0: Not Supported"


def test_a_gpu_lost_during_the_run_is_unhealthy_and_nothing_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    gpu = FakeGpu()
    record = run_check(monkeypatch, [gpu], lambda: setattr(gpu, "lost", True))
    assert record.verdict == "unhealthy"
    assert "GPU 0: NVML lost the GPU reading ecc" in record.reason


def test_without_nvml_the_check_is_unchecked_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeNvml([], init_error=pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)).install(monkeypatch.setattr)
    check = HealthCheck.begin(Telemetry.start())
    check.end()
    record = check.record()
    assert (record.verdict, record.reason) == ("unchecked", "NVML off: NVML library not found (no NVIDIA driver)")


def test_read_counters_names_every_counter(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeNvml([]).install(monkeypatch.setattr)
    counters, unsupported = read_counters(FakeGpu(nvlink_links=[True, True], nvlink_errors=1))
    assert unsupported == {}
    assert counters["nvlink_errors"] == 8  # 4 counters on 2 links
    assert set(counters) >= {
        "ecc_volatile_corrected",
        "ecc_aggregate_uncorrected",
        "retired_pages_sbe",
        "retired_pages_pending",
        "remapped_rows_failure",
        "pcie_replay",
        "pcie_max_width",
        "power_default_limit_w",
        "nvlink_active",
        "hbm_temp_c",
    }
