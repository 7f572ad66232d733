"""A scripted GPU host for the "how close to the limit" tests: an H100 SXM and a CPU behind the real plugin.

The backend (`HardwareFakeBackend`, registered as `fake` by the tests) runs matmul, membw, transfer and sustained
cases whose calls sleep for scripted times, so pytest-benchmark and the NVML sampler see real durations; while a
GPU case runs it scripts the fake NVML GPU (bench/nvml_fake.py): power (and the energy counter with it), SM clock,
temperature and clock-event reasons. Nothing is measured: the numbers are made to look like an H100's.

    gpu = h100()                                 # a FakeGpu with the H100 SXM identity
    SCRIPT.gpu = gpu                             # the backend drives it
    FakeNvml([gpu]).install(monkeypatch.setattr)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from bench.backends.base import Backend, Builder, Prepared
from bench.cases import Case
from bench.devices import Device
from bench.nvml_fake import FakeGpu
from bench.workloads.membw import ARRAYS_MOVED
from bench.workloads.sustained import RoundChecker

LAUNCH_S = 2e-5
# dense peaks of an H100 SXM (TFLOP/s) with TF32 on, and the share of them a large matmul reaches
GPU_PEAK_TFLOPS = {"float32": 494.5, "float16": 989.5, "bfloat16": 989.5}
GPU_EFFICIENCY = 0.78
CPU_PEAK_GFLOPS = 60.0
GPU_MEMBW_GBS = {"copy": 3000.0, "triad": 3050.0}
CPU_MEMBW_GBS = {"copy": 15.0, "triad": 18.0}
GPU_COPY_GBS = {("h2d", "pageable"): 26.0, ("d2h", "pageable"): 22.0, ("h2d", "pinned"): 55.0}
GPU_COPY_GBS |= {("d2h", "pinned"): 53.0, ("both", "pinned"): 101.0}
IDLE_W, BUSY_W = 70.0, 690.0
POWER_CAP = 0x4  # sw_power_cap
THERMAL = 0x20  # sw_thermal_slowdown


def h100(**overrides: Any) -> FakeGpu:
    """A fake NVML GPU with the H100 SXM identity at idle (bus 3B, as the backend's GPU:0)."""
    return FakeGpu(**{"power_mw": int(IDLE_W * 1000), **overrides})


@dataclass
class Script:
    """What the fake host does: its NVML GPU, and faults the tests switch on."""

    gpu: FakeGpu | None = None
    corrupt_round: int | None = None  # the GPU's sustained checksum goes wrong after this many rounds
    throttle_from_n: int = 8192  # matmuls this large hit the power cap
    events: list[str] = field(default_factory=list)


SCRIPT = Script()


def efficiency(n: int) -> float:
    """The share of the peak an n x n matmul reaches: small ones are launch-bound."""
    return GPU_EFFICIENCY * min(1.0, (n / 8192) ** 1.5)


def _drive(power_w: float, clocks: int = 1980, events: int = 0, temp_c: int | None = None) -> None:
    """Set the fake GPU's power (and the energy counter's pace), SM clock, clock-event reasons and temperature."""
    gpu = SCRIPT.gpu
    if gpu is None:
        return
    gpu.power_mw = int(power_w * 1000)
    gpu.sm_clock_mhz = clocks
    gpu.clock_events = events
    if temp_c is not None:
        gpu.temp_c = temp_c


def _busy(seconds: float) -> None:
    """Sleep `seconds`, then advance the GPU's energy counter by its power over the time that really passed."""
    start = time.perf_counter()
    time.sleep(seconds)
    gpu = SCRIPT.gpu
    if gpu is not None:
        gpu.energy_mj += int(gpu.power_mw * (time.perf_counter() - start))


def _sleeping(seconds: float, device: str, power_w: float | None = None, events: int = 0) -> Any:
    """A call that takes `seconds` of wall time on `device`, with the GPU drawing `power_w` meanwhile."""

    def call() -> Any:
        if power_w is not None:
            _drive(power_w, clocks=1755 if events else 1980, events=events)
        _busy(seconds)
        return (None, device)

    return call


def build_matmul(case: Case, backend: Backend) -> Prepared:
    """n x n matmul at the scripted share of the H100's (or the CPU's) peak."""
    n, dtype = int(case.params["n"]), str(case.params["dtype"])
    flops = 2.0 * n**3
    if case.device.kind == "gpu":
        seconds = LAUNCH_S + flops / (GPU_PEAK_TFLOPS[dtype] * 1e12 * efficiency(n))
        power = IDLE_W + (BUSY_W - IDLE_W) * efficiency(n) / GPU_EFFICIENCY
        events = POWER_CAP if n >= SCRIPT.throttle_from_n and dtype != "float32" else 0
        return Prepared(_sleeping(seconds, case.device.name, power, events))
    seconds = LAUNCH_S + flops / (CPU_PEAK_GFLOPS * 1e9 * min(1.0, (n / 1024) ** 0.5))
    return Prepared(_sleeping(seconds, case.device.name))


def build_membw(case: Case, backend: Backend) -> Prepared:
    """copy and triad at the scripted GB/s."""
    kernel = str(case.params["kernel"])
    moved = ARRAYS_MOVED[kernel] * int(case.params["bytes"])
    gpu = case.device.kind == "gpu"
    rate = (GPU_MEMBW_GBS if gpu else CPU_MEMBW_GBS)[kernel]
    call = _sleeping(LAUNCH_S + moved / (rate * 1e9), case.device.name, 420.0 if gpu else None)
    return Prepared(call, lambda median_s: {"verified": True, "fresh_buffer": True})


def build_transfer(case: Case, backend: Backend) -> Prepared:
    """Copies at the scripted GB/s (the CPU's hand the buffer over: zero-copy, a latency)."""
    direction, memory = str(case.params["direction"]), str(case.params["host_memory"])
    moved = int(case.params["bytes"]) * (2 if direction == "both" else 1)
    if case.device.kind == "cpu":
        return Prepared(_sleeping(5e-6, "CPU:0"), lambda median_s: {"zero_copy": True})
    seconds = 1e-5 + moved / (GPU_COPY_GBS[(direction, memory)] * 1e9)
    return Prepared(_sleeping(seconds, case.device.name, 110.0), lambda median_s: {"zero_copy": False})


def build_sustained(case: Case, backend: Backend) -> Prepared:
    """Rounds of a large matmul; on the GPU it heats up, hits its power cap at 40 % of the time and slows down."""
    n, seconds = int(case.params["n"]), float(case.params["seconds"])
    gpu = case.device.kind == "gpu"
    base = 2.0 * n**3 / ((GPU_PEAK_TFLOPS["float32"] * 1e12 * GPU_EFFICIENCY) if gpu else CPU_PEAK_GFLOPS * 1e9)
    state = {"start": None, "round": 0}

    def call() -> Any:
        start = state["start"] = state["start"] or time.perf_counter()
        share = (time.perf_counter() - start) / max(seconds, 1e-9)
        slow = gpu and share > 0.4
        if gpu:
            _drive(700.0 if not slow else 640.0, clocks=1980 if not slow else 1650,
                   events=POWER_CAP | THERMAL if slow else 0, temp_c=int(45 + 40 * min(share, 1.0)))  # fmt: skip
        _busy(base * (1.2 if slow else 1.0))
        return (n, case.device.name)

    def checksum(out: Any) -> float:
        state["round"] += 1
        bad = gpu and SCRIPT.corrupt_round is not None and state["round"] > SCRIPT.corrupt_round
        return 1.0e12 * (1.0 + (1e-6 if bad else 0.0))

    checker = RoundChecker(checksum)
    return Prepared(call, checker.facts, check_round=checker)


class HardwareFakeBackend(Backend):
    """CPU:0 and GPU:0 (an H100 SXM at bus 3B); calls sleep for scripted times."""

    name = "fake"
    sync_method = "fake.sync"

    def version(self) -> str:
        """A fixed version."""
        return "0.0-fake"

    def devices(self) -> list[Device]:
        """CPU:0 and GPU:0."""
        return [
            Device(self.name, "CPU:0", "cpu", "AMD EPYC (fake)"),
            Device(
                self.name,
                "GPU:0",
                "gpu",
                "NVIDIA H100 80GB HBM3",
                memory_bytes=80 * 2**30,
                compute_capability="9.0",
                pci_bus_id="0000:3b:00.0",
            ),
        ]

    def gpu_absence_reason(self) -> str | None:
        """There is always a GPU."""
        return None

    def sync(self) -> None:
        """Nothing is asynchronous here."""

    def placement(self, value: Any) -> str:
        """The device name the output carries."""
        return value[1]

    def device_name_of(self, placement: str) -> str:
        """Placements are already suite names."""
        return placement

    def builders(self) -> dict[str, Builder]:
        """matmul, membw, transfer and sustained."""
        return {
            "matmul": build_matmul,
            "membw": build_membw,
            "transfer": build_transfer,
            "sustained": build_sustained,
        }

    def is_out_of_memory(self, error: BaseException) -> bool:
        """Never."""
        return False

    def machine_info(self) -> dict[str, Any]:
        """Fixed facts."""
        return {"version": "0.0-fake", "built_with_cuda": True}

    def case_facts(self, case: Case) -> dict[str, Any]:
        """float32 on the GPU runs with TF32 on (TensorFlow's default)."""
        dtype = case.params.get("dtype", "float32")
        return {
            "precision": {"dtype": dtype, "tf32": case.device.kind == "gpu"},
            "threads": {"intra_op": 0, "cpu_count": 2, "usable_cores": 2},
        }

    def set_tf32(self, enabled: bool) -> None:
        """Fixed policy."""

    def memory_reset(self, device: Device) -> None:
        """Back to idle between cases (the warm-up and the timed rounds set the power again)."""
        _drive(IDLE_W)
