"""The NVML sampler against nvidia-ml-py's real `pynvml` module with its functions patched to fake GPUs."""

from __future__ import annotations

import csv
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pynvml
import pytest

from bench import nvml
from bench.nvml import Telemetry, map_tf_gpus, nvml_available
from bench.nvml_ids import bus_id_from_tf_description, normalise_bus_id, normalise_uuid
from bench.nvml_summary import CSV_COLUMNS, Sample, reason_names, summarize
from tests.fake_nvml import FakeGpu, FakeNvml

PID = os.getpid()
MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test sees an unchecked NVML and no DEVICEBENCH_NVML switch."""
    monkeypatch.delenv(nvml.ENV_SWITCH, raising=False)
    nvml_available.cache_clear()
    yield
    nvml_available.cache_clear()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeNvml]:
    """Install a FakeNvml on the real pynvml module (restored after the test)."""

    def make(gpus: list[FakeGpu], **kwargs: object) -> FakeNvml:
        fake_nvml = FakeNvml(gpus, **kwargs)  # type: ignore[arg-type]
        fake_nvml.install(monkeypatch.setattr)
        return fake_nvml

    return make


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of an nvml.csv."""
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        return list(reader)


# --- NVML unavailable ---------------------------------------------------------------------------------


def test_no_library_gives_a_disabled_sampler_with_its_reason(fake, tmp_path: Path) -> None:
    calls = fake([], init_error=pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND))
    tel = Telemetry.start()
    assert not tel.enabled
    assert tel.reason == "NVML library not found (no NVIDIA driver)"
    assert tel.header_line() == "NVML off: NVML library not found (no NVIDIA driver)"
    assert tel.machine_info() == {"enabled": False, "reason": "NVML library not found (no NVIDIA driver)"}
    with tel.sample("test_matmul[tensorflow-CPU:0-n1024-float32]") as rec:
        pass
    assert rec.summary == {}
    assert tel.write_csv(tmp_path / "nvml.csv") == 0
    assert not (tmp_path / "nvml.csv").exists()
    assert calls.calls["nvmlDeviceGetCount"] == 0
    tel.close()


def test_availability_is_checked_once(fake) -> None:
    calls = fake([], init_error=pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND))
    assert nvml_available() == (False, "NVML library not found (no NVIDIA driver)")
    Telemetry.start()
    Telemetry.start()
    assert calls.calls["nvmlInit"] == 1


@pytest.mark.parametrize(
    ("gpus", "error", "reason"),
    [
        ([], pynvml.NVMLError(pynvml.NVML_ERROR_DRIVER_NOT_LOADED), "nvmlInit failed: Driver Not Loaded"),
        ([], None, "no GPU visible to NVML"),
    ],
)
def test_other_reasons_to_be_off(fake, gpus, error, reason) -> None:
    fake(gpus, init_error=error)
    assert Telemetry.start().header_line() == f"NVML off: {reason}"


def test_environment_switch_turns_it_off(fake, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake([FakeGpu()])
    monkeypatch.setenv("DEVICEBENCH_NVML", "0")
    tel = Telemetry.start()
    assert tel.reason == "turned off by DEVICEBENCH_NVML=0"
    assert calls.calls["nvmlInit"] == 0


def test_a_bad_interval_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="interval must be above 0 s"):
        Telemetry.start(interval_s=0)


# --- one GPU ------------------------------------------------------------------------------------------


def test_one_gpu_summary_machine_info_and_csv(fake, tmp_path: Path) -> None:
    gpu = FakeGpu(
        uuid="GPU-11111111-2222-3333-4444-555555555555",
        pci_bus_id="00000000:3B:00.0",
        mem_used_mib=1000,
        processes=[(PID, 600 * MIB), (99999, 100 * MIB)],
        util_gpu=10,
        util_mem=4,
        power_mw=100_000,
        energy_mj=5_000_000,
        temp_c=40,
        sm_clock_mhz=1980,
        clock_events=0x1,  # idle: a clock event, not a throttle
    )
    fake([gpu])
    tel = Telemetry.start(interval_s=0.01)
    assert tel.enabled and tel.error is None
    assert tel.header_line() == "NVML on: 1 GPU, driver 550.54.15, sampling every 10 ms"
    info = tel.machine_info()
    assert info["driver_version"] == "550.54.15"
    assert info["nvml_version"] == "12.550.54.15"
    assert info["cuda_driver_version"] == "12.4"
    assert info["gpus"] == [
        {
            "index": 0,
            "name": "NVIDIA H100 80GB HBM3",
            "uuid": "GPU-11111111-2222-3333-4444-555555555555",
            "pci_bus_id": "0000:3b:00.0",
            "pci_device_id": "10de:2330",
            "board_part_number": "965-2G520-0100-0R1",
            "compute_capability": "9.0",
            "memory_total_mib": 81559.0,
            "power_limit_w": 700.0,
            "power_default_limit_w": 700.0,
            "max_sm_clock_mhz": 1980,
            "max_mem_clock_mhz": 2619,
            "pcie_gpu_max_gen": 5,
            "pcie_link_max_gen": 5,
            "pcie_link_max_width": 16,
            "pcie_gen_at_start": 5,
            "pcie_width_at_start": 16,
            "sources": {
                "memory": "v2",
                "processes": "v3",
                "utilization": "rates",
                "power": "instant",
                "energy": "total_energy_consumption",
                "sm_clock": "clock_info",
                "temperature": "temperature",
                "clock_events": "clocks_event_reasons",
            },
            "sku": {
                "known": True,
                "id": "h100-sxm",
                "name": "NVIDIA H100 SXM5 80GB",
                "reason": "",
                "evidence": [
                    "NVML name 'NVIDIA H100 80GB HBM3'",
                    "PCI device 10de:2330",
                    "memory 81559 MiB",
                    "default power limit 700 W",
                ],
                "notes": [],
            },
            "host_link": {
                "kind": "pcie",
                "gbs_per_direction": 63.02,
                "source": "NVML link maximum: PCIe gen5 x16",
                "current_gbs_per_direction": 63.02,
                "note": "",
            },
        }
    ]

    with tel.sample("test_matmul[tensorflow-GPU:0-n4096-float32]", background=False) as rec:
        # poll 1 happened on entry with the values above
        gpu.mem_used_mib, gpu.processes = 3000, [(PID, 2600 * MIB)]
        gpu.util_gpu, gpu.util_mem, gpu.power_mw, gpu.energy_mj = 90, 60, 300_000, 5_100_000
        gpu.temp_c, gpu.sm_clock_mhz, gpu.clock_events = 55, 1755, 0x4  # software power cap
        assert tel.poll_once()
        gpu.mem_used_mib, gpu.processes = 2000, [(PID, 1600 * MIB)]
        gpu.util_gpu, gpu.util_mem, gpu.power_mw, gpu.energy_mj = 80, 50, 200_000, 5_400_000
        gpu.temp_c, gpu.sm_clock_mhz, gpu.clock_events = 50, 1980, 0x0
        assert tel.poll_once()
        # poll 4 happens on exit with these values
    summary = rec.summary["0"]
    assert set(rec.summary) == {"0"}
    assert summary["samples"] == 4
    assert summary["name"] == "NVIDIA H100 80GB HBM3"
    assert summary["peak_mem_mib"] == 3000.0
    assert summary["mean_mem_mib"] == 2000.0  # (1000 + 3000 + 2000 + 2000) / 4
    assert summary["peak_proc_mem_mib"] == 2600.0
    assert summary["mean_proc_mem_mib"] == 1600.0  # (600 + 2600 + 1600 + 1600) / 4
    assert summary["process_memory_attributed"] is True
    assert summary["process_memory_reason"] == ""
    assert summary["mean_util_gpu_pct"] == 65.0  # (10 + 90 + 80 + 80) / 4
    assert summary["mean_util_mem_pct"] == 41.0
    assert summary["mean_power_w"] == 200.0  # (100 + 300 + 200 + 200) / 4
    assert summary["max_power_w"] == 300.0
    assert summary["energy_j"] == 400.0  # 5_400_000 - 5_000_000 mJ
    assert summary["max_temp_c"] == 55
    assert summary["max_sm_clock_mhz"] == 1980
    assert summary["min_sm_clock_mhz"] == 1755
    assert summary["throttled"] is True
    assert summary["throttle_reasons"] == ["sw_power_cap"]
    assert summary["clock_event_reasons"] == ["gpu_idle", "sw_power_cap"]
    assert summary["error"] is None

    assert tel.write_csv(tmp_path / "nvml.csv") == 4
    rows = read_csv(tmp_path / "nvml.csv")
    assert [r["mem_used_mib"] for r in rows] == ["1000", "3000", "2000", "2000"]
    assert [r["proc_mem_mib"] for r in rows] == ["600", "2600", "1600", "1600"]
    assert [r["power_w"] for r in rows] == ["100", "300", "200", "200"]
    assert [r["energy_mj"] for r in rows] == ["5000000", "5100000", "5400000", "5400000"]
    assert [r["throttle_reasons"] for r in rows] == ["gpu_idle", "sw_power_cap", "none", "none"]
    assert {r["case"] for r in rows} == {"test_matmul[tensorflow-GPU:0-n4096-float32]"}
    assert {r["gpu_index"] for r in rows} == {"0"}
    assert {r["gpu_uuid"] for r in rows} == {"GPU-11111111-2222-3333-4444-555555555555"}
    times = [float(r["t_s"]) for r in rows]
    assert times == sorted(times)
    tel.close()


def test_background_thread_samples_until_the_case_ends(fake) -> None:
    gpu = FakeGpu(processes=[(PID, 1 * MIB)], energy_step_mj=10)
    fake([gpu])
    tel = Telemetry.start(interval_s=0.001)
    enough = threading.Event()
    with tel.sample("busy case") as rec:
        while not enough.wait(0.001):  # wait for the sampler, not for a fixed time
            if len(tel.samples) >= 4:
                enough.set()
    assert tel.error is None
    assert rec.summary["0"]["samples"] == len(rec.samples) >= 5  # + the poll on exit
    assert rec.summary["0"]["energy_j"] > 0
    # the thread has stopped: no samples arrive after the case
    count = len(tel.samples)
    assert not tel.poll_once()
    assert len(tel.samples) == count
    tel.close()


def test_cases_are_kept_apart_and_nesting_is_refused(fake, tmp_path: Path) -> None:
    fake([FakeGpu()])
    tel = Telemetry.start()
    with tel.sample("a", background=False) as first:
        assert tel.poll_once()
        with pytest.raises(RuntimeError, match="already sampling case 'a'"), tel.sample("b"):
            pass
    with tel.sample("b", background=False) as second:
        pass
    assert first.summary["0"]["samples"] == 3
    assert second.summary["0"]["samples"] == 2
    tel.write_csv(tmp_path / "nvml.csv")
    assert [r["case"] for r in read_csv(tmp_path / "nvml.csv")] == ["a", "a", "a", "b", "b"]


def test_close_shuts_nvml_down_and_later_cases_sample_nothing(fake) -> None:
    calls = fake([FakeGpu()])
    with Telemetry.start() as tel:
        pass
    assert calls.calls["nvmlShutdown"] >= 2  # the availability check's and the sampler's
    with tel.sample("after close") as rec:
        pass
    assert rec.summary == {}
    assert tel.machine_info()["enabled"] is True  # still describes the machine


def test_the_timeline_can_be_written_after_close(fake, tmp_path: Path) -> None:
    fake([FakeGpu()])
    tel = Telemetry.start()
    with tel.sample("c", background=False):
        pass
    tel.close()
    assert tel.write_csv(tmp_path / "nvml.csv") == 2


# --- two GPUs, reordered CUDA_VISIBLE_DEVICES ---------------------------------------------------------


def test_two_gpus_reordered_cuda_visible_devices_map_by_bus_id(fake, monkeypatch) -> None:
    # NVML numbers GPUs by PCI bus; CUDA_VISIBLE_DEVICES=1,0 makes TensorFlow's GPU:0 the second one.
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,0")
    a100 = FakeGpu(
        name="NVIDIA A100-SXM4-40GB",
        uuid="GPU-aaaaaaaa-0000-0000-0000-000000000000",
        pci_bus_id="00000000:3B:00.0",
        mem_used_mib=100,
        processes=[(PID, 50 * MIB)],
    )
    h100 = FakeGpu(
        name="NVIDIA H100 80GB HBM3",
        uuid="GPU-bbbbbbbb-0000-0000-0000-000000000000",
        pci_bus_id="00000000:86:00.0",
        mem_used_mib=9000,
        processes=[(4242, 8000 * MIB)],
    )
    fake([a100, h100])
    tel = Telemetry.start()
    assert tel.header_line().startswith("NVML on: 2 GPUs, driver 550.54.15")
    # TensorFlow's physical_device_desc, in CUDA's (visible) order
    tf_gpus = [
        {
            "device": "GPU:0",
            "pci_bus_id": bus_id_from_tf_description(
                "device: 0, name: NVIDIA H100 80GB HBM3, pci bus id: 0000:86:00.0, compute capability: 9.0"
            ),
        },
        {
            "device": "GPU:1",
            "pci_bus_id": bus_id_from_tf_description(
                "device: 1, name: NVIDIA A100-SXM4-40GB, pci bus id: 0000:3b:00.0, compute capability: 8.0"
            ),
        },
    ]
    assert map_tf_gpus(tf_gpus, tel.gpus) == {"GPU:0": 1, "GPU:1": 0}
    # torch-style UUIDs (no "GPU-" prefix) when there is no bus id; an unknown GPU is left out
    by_uuid = [
        {"name": "GPU:0", "uuid": "BBBBBBBB-0000-0000-0000-000000000000"},
        {"name": "GPU:1", "uuid": "aaaaaaaa-0000-0000-0000-000000000000"},
        {"name": "GPU:2", "uuid": "cccccccc-0000-0000-0000-000000000000"},
    ]
    assert map_tf_gpus(by_uuid, tel.gpus) == {"GPU:0": 1, "GPU:1": 0}

    # a CPU case samples both GPUs
    with tel.sample("test_matmul[tensorflow-CPU:0-n1024-float32]", background=False) as rec:
        pass
    assert set(rec.summary) == {"0", "1"}
    assert rec.summary["0"]["name"] == "NVIDIA A100-SXM4-40GB"
    assert rec.summary["0"]["peak_mem_mib"] == 100.0
    assert rec.summary["0"]["peak_proc_mem_mib"] == 50.0
    assert rec.summary["1"]["peak_mem_mib"] == 9000.0
    # on GPU 1 only a foreign (host) PID holds memory: say so instead of guessing
    assert rec.summary["1"]["process_memory_attributed"] is False
    assert rec.summary["1"]["peak_proc_mem_mib"] is None
    assert "pids 4242" in rec.summary["1"]["process_memory_reason"]
    assert "--pid=host" in rec.summary["1"]["process_memory_reason"]
    tel.close()


# --- an error mid-run ---------------------------------------------------------------------------------


def test_gpu_lost_mid_run_keeps_samples_and_records_the_reason(fake, tmp_path: Path) -> None:
    gpu = FakeGpu(mem_used_mib=700)
    fake([gpu])
    tel = Telemetry.start()
    with tel.sample("case-1", background=False) as rec:
        assert tel.poll_once()
        assert tel.poll_once()
        gpu.lost = True
        assert not tel.poll_once()  # never raises into the benchmark
    assert rec.summary["0"]["samples"] == 3
    assert rec.summary["0"]["peak_mem_mib"] == 700.0
    assert tel.error == ("sampling stopped in case 'case-1' on GPU 0 after 3 samples: NVMLError_GpuIsLost: GPU is lost")
    assert rec.error == tel.error
    assert rec.summary["0"]["error"] == tel.error
    assert tel.header_line().endswith(f"(stopped: {tel.error})")
    assert tel.machine_info()["error"] == tel.error
    with tel.sample("case-2") as later:  # the run goes on, unsampled
        pass
    assert later.summary["0"]["samples"] == 0
    assert later.summary["0"]["error"] == tel.error
    assert tel.write_csv(tmp_path / "nvml.csv") == 3
    assert len(read_csv(tmp_path / "nvml.csv")) == 3
    tel.close()


def test_gpu_lost_in_the_background_thread(fake) -> None:
    # utilization reads: 1 probe at start, 1 on entry, then the thread's polls; the 7th read fails
    gpu = FakeGpu(lose_after_reads=6)
    fake([gpu])
    tel = Telemetry.start(interval_s=0.001)
    stopped = threading.Event()
    with tel.sample("case-lost") as rec:
        while not stopped.wait(0.001):
            if tel.error is not None:
                stopped.set()
    assert rec.summary["0"]["samples"] == 5
    assert "NVMLError_GpuIsLost" in (tel.error or "")
    tel.close()


def test_gpu_lost_at_start_disables_with_the_reason(fake) -> None:
    fake([FakeGpu(lost=True)])
    tel = Telemetry.start()
    assert not tel.enabled
    assert tel.reason == "NVML query failed at start: NVMLError_GpuIsLost: GPU is lost"


# --- an old driver ------------------------------------------------------------------------------------


def test_old_driver_falls_back_to_v1_memory_and_reports_missing_metrics_as_none(fake, tmp_path) -> None:
    gpu = FakeGpu(
        name="Tesla K80",
        mem_used_mib=1000,
        reserved_mib=24,
        power_mw=150_000,
        has_memory_v2=False,
        has_energy=False,
        has_instant_power=False,
        has_processes_v3=False,
        has_clock_events=False,
        processes=[(PID, 900 * MIB)],
        clock_events=0x40,
    )
    fake([gpu])
    tel = Telemetry.start()
    assert tel.machine_info()["gpus"][0]["sources"] == {
        "memory": "v1",
        "processes": "v2",
        "utilization": "rates",
        "power": "power_usage",
        "energy": None,
        "sm_clock": "clock_info",
        "temperature": "temperature",
        "clock_events": "clocks_throttle_reasons",
    }
    with tel.sample("old", background=False) as rec:
        assert tel.poll_once()
    summary = rec.summary["0"]
    assert summary["peak_mem_mib"] == 1024.0  # v1 "used" includes the reserved memory
    assert summary["peak_proc_mem_mib"] == 900.0
    assert summary["mean_power_w"] == 150.0
    assert summary["energy_j"] is None
    assert summary["throttled"] is True
    assert summary["throttle_reasons"] == ["hw_thermal_slowdown"]
    tel.write_csv(tmp_path / "nvml.csv")
    rows = read_csv(tmp_path / "nvml.csv")
    assert [r["energy_mj"] for r in rows] == ["", "", ""]
    assert [r["mem_used_mib"] for r in rows] == ["1024", "1024", "1024"]


def test_a_metric_that_stops_being_supported_becomes_none_not_an_error(fake) -> None:
    gpu = FakeGpu(energy_mj=1000)
    fake([gpu])
    tel = Telemetry.start()
    with tel.sample("c", background=False) as rec:
        gpu.has_energy = False
        assert tel.poll_once()
    assert tel.error is None
    assert [s.energy_mj for s in rec.samples] == [1000, None, None]
    assert rec.summary["0"]["energy_j"] is None  # one reading is not a delta


# --- pure helpers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("00000000:3B:00.0", "0000:3b:00.0"),
        ("0000:3b:00.0", "0000:3b:00.0"),
        (b"00000000:86:00.0\x00", "0000:86:00.0"),
        ("3b:00.0", "0000:3b:00.0"),
        ("0001:c1:00.1", "0001:c1:00.1"),
        ("not a bus id", None),
        (None, None),
    ],
)
def test_normalise_bus_id(raw, expected) -> None:
    assert normalise_bus_id(raw) == expected


def test_normalise_uuid_and_desc_without_bus_id() -> None:
    assert normalise_uuid("GPU-AbC") == normalise_uuid("abc") == "abc"
    assert normalise_uuid("") is None
    assert bus_id_from_tf_description("device: 0, name: METAL") is None


def test_every_clock_event_but_idle_flags_the_case_as_throttled() -> None:
    gpus = {0: {"name": "G", "uuid": "GPU-x"}}
    app_clocks = summarize([_sample(0.0, throttle_mask=0x1), _sample(0.1, throttle_mask=0x2)], gpus, pid=1)["0"]
    assert app_clocks["throttled"] is True
    assert app_clocks["throttle_reasons"] == ["applications_clocks_setting"]
    assert app_clocks["clock_event_reasons"] == ["gpu_idle", "applications_clocks_setting"]
    idle = summarize([_sample(0.0, throttle_mask=0x1), _sample(0.1, throttle_mask=0x0)], gpus, pid=1)["0"]
    assert (idle["throttled"], idle["throttle_reasons"]) == (False, [])


def test_reason_names_and_unknown_bits() -> None:
    assert reason_names(0) == []
    assert reason_names(0x4 | 0x40) == ["sw_power_cap", "hw_thermal_slowdown"]
    assert reason_names(0x1000) == ["0x1000"]


def _sample(t: float, **kw: object) -> Sample:
    base: dict[str, object] = dict(
        t_s=t,
        case="c",
        gpu_index=0,
        gpu_uuid="GPU-x",
        mem_used_mib=1.0,
        proc_mem_mib=None,
        util_gpu_pct=None,
        util_mem_pct=None,
        power_w=None,
        energy_mj=None,
        sm_clock_mhz=None,
        temp_c=None,
        throttle_mask=None,
        proc_pids=None,
    )
    base.update(kw)
    return Sample(**base)  # type: ignore[arg-type]


def test_summarize_literal_samples() -> None:
    gpus = {0: {"name": "G", "uuid": "GPU-x"}}
    reset = [_sample(0.0, energy_mj=500), _sample(0.5, energy_mj=100)]  # counter went back: no delta
    assert summarize(reset, gpus, pid=1)["0"]["energy_j"] is None
    unlisted = summarize([_sample(0.0)], gpus, pid=1)["0"]
    assert unlisted["process_memory_reason"] == "the driver does not list compute processes on this GPU"
    assert unlisted["throttled"] is None
    idle = summarize([_sample(0.0, proc_pids=())], gpus, pid=1)["0"]
    assert idle["process_memory_reason"] == "no compute process on this GPU while the case ran"
    wddm = summarize([_sample(0.0, proc_pids=(1,))], gpus, pid=1)["0"]
    assert "does not report per-process memory" in wddm["process_memory_reason"]
    empty = summarize([], gpus, pid=1)["0"]
    assert empty["samples"] == 0 and empty["peak_mem_mib"] is None and empty["duration_s"] == 0.0


def test_an_exception_in_the_case_propagates_and_the_sampler_stops(fake) -> None:
    fake([FakeGpu()])
    tel = Telemetry.start(interval_s=0.001)
    with pytest.raises(MemoryError), tel.sample("oom case") as rec:
        raise MemoryError("out of memory")
    assert rec.summary["0"]["samples"] >= 2
    assert tel.error is None
    with tel.sample("next case", background=False) as nxt:  # the sampler is free again
        pass
    assert nxt.summary["0"]["samples"] == 2


def test_each_marked_round_gets_the_clock_events_sampled_while_it_ran(fake) -> None:
    gpu = FakeGpu(sm_clock_mhz=1980, clock_events=0)
    fake([gpu])
    tel = Telemetry.start(interval_s=0.01)
    with tel.sample("case", background=False) as rec:  # entering takes one sample (round 0 owns it)
        rec.mark_round()
        gpu.clock_events, gpu.sm_clock_mhz = 0x4, 1500  # a power cap from here on
        tel.poll_once()
        rec.mark_round()
        rec.mark_round()  # no sample of its own: the state in effect (the last sample) holds
        gpu.clock_events, gpu.sm_clock_mhz = 0x1, 1980
        tel.poll_once()
        rec.mark_round()
    clocks = rec.round_clocks(0)
    assert [(c.reasons, c.sm_clock_mhz, c.throttled) for c in clocks] == [
        ((), 1980, False),
        (("sw_power_cap",), 1500, True),
        (("sw_power_cap",), 1500, True),
        (("gpu_idle",), 1980, False),
    ]
    tel.close()
