"""The scripted host's GPUs as NVML reports them, kept in step with what the scripted cases do on them.

Each GPU is a FakeGpu (tools/fake_nvml.py) with its board's NVML identity (tools/gpu_identities.py: name, memory,
PCI device id, default power limit, PCIe generation), so SKU detection finds the spec an H100 SXM or an L4 has,
and a GPU the spec table lacks stays unknown. While a scripted call runs, its GPUs show its activity:

- utilisation, and power from the idle power up to the power limit by the call's load (its share of what the
  board draws at full clocks); a load above 1 hits the limit: NVML's sw_power_cap reason, clocks held down in
  proportion, and the call takes that much longer;
- the energy counter, which counts every second at the power shown (idle seconds included);
- heat, where the script says the cooling is poor (DEVICEBENCH_FAKE_HEAT): after that many seconds at full load
  the GPU reaches its thermal limit (sw_thermal_slowdown, clocks and power down by THERMAL_CLOCK, calls slower);
  it cools at half that pace while idle;
- a slot scripted `throttled` (fleet-hot) shows the thermal reason and lower clocks whenever it is busy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from bench.nvml_ids import normalise_bus_id
from tests.fake_hosts import GpuModel, GpuSlot, Script, gpu_uuid
from tests.fake_nvml import MIB, FakeGpu, FakeNvml
from tests.gpu_identities import IDENTITIES, FakeIdentity

CONTEXT_MIB = 480.0  # what a framework's CUDA context holds on every GPU it sees
GPU_IDLE, SW_POWER_CAP, SW_THERMAL = 0x001, 0x004, 0x020  # NVML's clock-event reason bits
THERMAL_CLOCK = 0.85  # the share of its clocks (and power) a GPU at its thermal limit keeps
THROTTLED_CLOCK = 0.8  # a slot scripted `throttled`
IDLE_SM_MHZ = 210
COOLING = 0.5  # heat lost per idle second, against one gained per second at full load
HOT_C = 11  # how much warmer than a cool GPU at the same load one at its thermal limit is (°C)


@dataclass(frozen=True)
class Activity:
    """What a call does to one GPU: utilisation (%) and load (its share of the board's power span at full clocks)."""

    util: float
    load: float


IDLE = Activity(0.0, 0.0)


def identity_of(model: GpuModel) -> FakeIdentity:
    """The NVML identity of a scripted GPU model: its board's row in tools/gpu_identities.py, else its own facts."""
    for row in IDENTITIES:
        if row.name == model.name and row.memory_mib == model.memory_mib:
            return row
    return FakeIdentity(model.name, None, model.name, model.memory_mib, model.max_w, None, model.pcie_gen)


@dataclass
class _Gpu:
    """One scripted GPU: its slot, its FakeGpu and its state."""

    slot: GpuSlot
    gpu: FakeGpu
    pool_mib: float = 0.0  # what the allocator holds (it grows, it never gives back)
    energy_mj: float = 0.0  # the counter to the microjoule (NVML shows whole millijoules)
    hot_s: float = 0.0  # seconds of full load not yet cooled off (only counted where the script sets heat_s)


class ScriptedGpus:
    """The fake NVML GPUs of a run, kept in step with what the scripted cases do on them."""

    def __init__(self) -> None:
        self.gpus: dict[str, _Gpu] = {}  # by normalised bus id
        self.heat_s: float | None = None
        self.pid = os.getpid()

    def attach(self, script: Script, name: str) -> FakeNvml:
        """FakeGpus for the script's GPUs (in NVML's bus order) behind a FakeNvml; this object scripts them from now."""
        host = script.host
        self.gpus.clear()
        self.heat_s = script.heat_s
        self.pid = os.getpid()
        for index, slot in enumerate(host.gpus):
            model = slot.model
            gpu = identity_of(model).fake_gpu(
                uuid=gpu_uuid(name, index),
                pci_bus_id=slot.pci_bus_id,
                power_limit_mw=int(model.max_w * 1000),
                max_sm_clock_mhz=model.max_sm_mhz,
                max_mem_clock_mhz=model.max_mem_mhz,
                energy_mj=1_000_000 + index * 250_000,
                compute_capability=tuple(int(part) for part in model.compute_capability.split(".")),
                board_part_number=None,
            )
            for fault in script.health.get(f"GPU:{index}", ()):
                break_health(gpu, fault)
            self.gpus[normalise_bus_id(slot.pci_bus_id) or slot.pci_bus_id] = _Gpu(slot, gpu, energy_mj=gpu.energy_mj)
        for bus, state in self.gpus.items():
            self._show_memory(bus)
            self._show(state, IDLE)
        in_bus_order = [state.gpu for _, state in sorted(self.gpus.items())]
        return FakeNvml(in_bus_order, driver_version=host.driver or "550.54.15")

    def allocate(self, bus: str | None, need_bytes: float) -> None:
        """The allocator's pool on a GPU grows to hold a case's inputs."""
        if bus in self.gpus:
            state = self.gpus[bus]
            state.pool_mib = max(state.pool_mib, need_bytes / MIB)
            self._show_memory(bus)

    def settle(self) -> None:
        """Every GPU idle, as between cases (no time passes)."""
        for state in self.gpus.values():
            self._show(state, IDLE)

    def slowdown(self, busy: Mapping[str, Activity]) -> float:
        """How much longer than at full clocks a call with this activity takes now (the slowest of its GPUs)."""
        return max((1.0 / self._clock(self.gpus[bus], a) for bus, a in busy.items() if bus in self.gpus), default=1.0)

    def run(self, busy: Mapping[str, Activity], seconds: float) -> None:
        """`seconds` pass with the `busy` GPUs at their activity and every other GPU idle (energy and heat count)."""
        for bus, state in self.gpus.items():
            activity = busy.get(bus, IDLE)
            self._show(state, activity)
            state.energy_mj += state.gpu.power_mw * seconds
            state.gpu.energy_mj = int(state.energy_mj)
            if self.heat_s is not None:
                gained = seconds * min(activity.load, 1.0) if activity.util > 0 else -seconds * COOLING
                state.hot_s = max(0.0, state.hot_s + gained)

    def idle(self, seconds: float) -> None:
        """`seconds` pass with every GPU idle."""
        self.run({}, seconds)

    def detach(self) -> None:
        """Stop scripting GPUs (the run that attached them is over)."""
        self.gpus.clear()
        self.heat_s = None

    def _hot(self, state: _Gpu) -> bool:
        return self.heat_s is not None and state.hot_s >= self.heat_s

    def _clock(self, state: _Gpu, activity: Activity) -> float:
        """The share of its maximum SM clock the GPU runs a call at: the power limit and heat hold it down."""
        if activity.util <= 0:
            return 1.0
        clock = 1.0 / activity.load if activity.load > 1.0 else 1.0
        return clock * THERMAL_CLOCK if self._hot(state) else clock

    def _show_memory(self, bus: str) -> None:
        state = self.gpus[bus]
        held = CONTEXT_MIB + state.pool_mib
        state.gpu.mem_used_mib = 1.0 + held
        state.gpu.processes = [(self.pid, int(held * MIB))]

    def _show(self, state: _Gpu, activity: Activity) -> None:
        """What NVML reads of a GPU while it runs at `activity`."""
        slot, gpu = state.slot, state.gpu
        model = slot.model
        util, busy = activity.util, activity.util > 0
        heat = min(1.0, state.hot_s / self.heat_s) if self.heat_s else 0.0
        gpu.util_gpu = round(util)
        gpu.util_mem = round(util * 0.6)
        gpu.temp_c = round(33 + 0.45 * util + (9 if slot.throttled and busy else 0) + HOT_C * heat)
        if not busy:
            gpu.power_mw = int(model.idle_w * 1000)
            gpu.sm_clock_mhz, gpu.clock_events = IDLE_SM_MHZ, GPU_IDLE
            return
        clock, events, draw = self._clock(state, activity), 0, min(activity.load, 1.0)
        if activity.load > 1.0:
            events |= SW_POWER_CAP
        if self._hot(state):
            events |= SW_THERMAL
            draw *= THERMAL_CLOCK
        if slot.throttled:
            clock, events = clock * THROTTLED_CLOCK, events | SW_THERMAL
        gpu.power_mw = int((model.idle_w + (model.max_w - model.idle_w) * draw) * 1000)
        gpu.sm_clock_mhz, gpu.clock_events = int(model.max_sm_mhz * clock), events


def break_health(gpu: FakeGpu, fault: str) -> None:
    """Give a scripted GPU one of the health faults of DEVICEBENCH_FAKE_HEALTH (tests/fake_hosts.py)."""
    if fault == "ecc_rising":
        gpu.ecc_corrected_step = 7  # every read of the corrected counters finds 7 more
    elif fault == "ecc_uncorrected":
        gpu.ecc = {(1, 0): 2, (1, 1): 2}
    elif fault == "remap_pending":
        gpu.remapped_rows = (3, 0, 1, 0)
    elif fault == "gen4_x8":
        gpu.pcie_gen, gpu.pcie_width = 4, 8
    elif fault == "xid79":
        gpu.xids.append(79)
    elif fault == "power500":
        gpu.power_limit_mw = 500_000


GPUS = ScriptedGpus()
