"""Scripted fake GPUs behind the real `pynvml` module: its functions are swapped, its types kept.

For tests (with pytest's `monkeypatch.setattr`) and for the sampler's overhead benchmark on
machines without a GPU. Each fake function returns the same structures nvidia-ml-py returns
(`c_nvmlMemory_v2_t`, `c_nvmlUtilization_t`, `nvmlPciInfo_t`, field-value arrays, ...) and raises
nvidia-ml-py's own `NVMLError_*` classes, so the code under test runs its real paths.

    gpu = FakeGpu(uuid="GPU-aaaa", pci_bus_id="00000000:3B:00.0")
    fake = FakeNvml([gpu])
    fake.install(monkeypatch.setattr)      # or: with fake.patched(): ...
    gpu.mem_used_mib = 2048                 # the next reads see the new value
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pynvml

MIB = 1024 * 1024
_NA = 0xFFFFFFFF


def _reported(value: Any) -> Any:
    """The scripted value, or NVML's "not supported" error for None."""
    if value is None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
    return value


@dataclass
class FakeGpu:
    """One scripted GPU; change its attributes between polls to script a timeline."""

    name: str = "NVIDIA H100 80GB HBM3"
    uuid: str = "GPU-00000000-0000-0000-0000-000000000000"
    pci_bus_id: str = "00000000:3B:00.0"
    memory_total_mib: int = 81559
    mem_used_mib: float = 512.0
    reserved_mib: float = 0.0  # v1 memory info counts reserved memory as used, v2 does not
    processes: list[tuple[int, int | None]] = field(default_factory=list)  # (pid, bytes or None)
    util_gpu: int = 0
    util_mem: int = 0
    power_mw: int = 70_000
    energy_mj: int = 1_000_000
    energy_step_mj: int = 0  # added to the counter after every read
    sm_clock_mhz: int = 1980
    temp_c: int = 35
    clock_events: int = 0
    power_limit_mw: int = 700_000
    max_sm_clock_mhz: int = 1980
    max_mem_clock_mhz: int = 2619
    # identity for SKU detection and the link ceiling (None: the driver does not report it)
    default_power_limit_mw: int | None = 700_000
    pci_device_id: int | None = 0x2330  # 16-bit device id; NVML reports (id << 16) | 0x10de
    pci_subsystem_id: int = 0x16C110DE
    board_part_number: str | None = "965-2G520-0100-0R1"
    compute_capability: tuple[int, int] | None = (9, 0)
    pcie_gpu_max_gen: int | None = 5  # what the GPU supports
    pcie_link_max_gen: int | None = 5  # what the GPU and the slot together support
    pcie_max_width: int | None = 16
    pcie_gen: int | None = 5  # the link's current state (GPUs drop to gen1 when idle)
    pcie_width: int | None = 16
    # what the driver supports
    has_memory_v2: bool = True
    has_processes_v3: bool = True
    has_instant_power: bool = True
    has_energy: bool = True
    has_clock_events: bool = True
    # failures: `lost` makes every call raise NVMLError_GpuIsLost; `lose_after_reads` sets it
    # after that many utilization reads (the probe in Telemetry.start is one of them)
    lost: bool = False
    lose_after_reads: int | None = None
    reads: int = 0
    # health counters (bench.health); None: the driver does not report it
    ecc: dict[tuple[int, int], int] | None = field(default_factory=dict)  # (error type, counter type) -> count
    retired_pages: dict[int, int] | None = field(default_factory=dict)  # cause -> pages retired
    retired_pending: int | None = 0
    remapped_rows: tuple[int, int, int, int] | None = (0, 0, 0, 0)  # correctable, uncorrectable, pending, failure
    pcie_replay: int | None = 0
    nvlink_links: list[bool] | None = None  # each link's state (None: no NVLink)
    nvlink_errors: int | None = 0  # every error counter of every link reads this (None: not supported)
    hbm_temp_c: int | None = 40
    has_events: bool = True  # the driver supports critical-XID events on this GPU
    xids: list[int] = field(default_factory=list)  # critical XIDs waiting to be delivered to an event set
    # a counter that moves while the GPU is in use: every read of ecc/replay adds these
    ecc_corrected_step: int = 0


@dataclass
class FakeEventSet:
    """An NVML event set: the GPUs registered on it and the event types each listens to."""

    gpus: list[FakeGpu] = field(default_factory=list)
    freed: bool = False


class FakeNvml:
    """The patched pynvml functions for a list of FakeGpu; `calls` counts each function's calls."""

    def __init__(
        self,
        gpus: Sequence[FakeGpu],
        *,
        init_error: BaseException | None = None,
        driver_version: str = "550.54.15",
        nvml_version: str = "12.550.54.15",
        cuda_driver_version: int = 12040,
    ) -> None:
        self.gpus = list(gpus)
        self.init_error = init_error
        self.driver_version = driver_version
        self.nvml_version = nvml_version
        self.cuda_driver_version = cuda_driver_version
        self.calls: Counter[str] = Counter()

    # --- installing -----------------------------------------------------------------------------------

    def functions(self) -> dict[str, Callable[..., Any]]:
        """The pynvml attribute names this fake replaces, with their replacements."""
        names = [n for n in dir(type(self)) if n.startswith("nvml") and callable(getattr(type(self), n))]
        return {n: self._counted(n, getattr(self, n)) for n in names}

    def install(self, setattr_fn: Callable[[Any, str, Any], None]) -> None:
        """Patch pynvml through `setattr_fn` (e.g. pytest's `monkeypatch.setattr`)."""
        for name, fn in self.functions().items():
            setattr_fn(pynvml, name, fn)

    @contextlib.contextmanager
    def patched(self) -> Iterator[FakeNvml]:
        """Patch pynvml for the duration of a with-block, then restore the originals."""
        saved = {name: getattr(pynvml, name, None) for name in self.functions()}
        self.install(setattr)
        try:
            yield self
        finally:
            for name, fn in saved.items():
                setattr(pynvml, name, fn)

    def _counted(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn`, counting its calls in `self.calls`."""

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return fn(*args, **kwargs)

        wrapper.__name__ = name
        return wrapper

    @staticmethod
    def _gpu(handle: Any) -> FakeGpu:
        """The FakeGpu behind a handle, raising GpuIsLost for a lost one."""
        if not isinstance(handle, FakeGpu):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        if handle.lost:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)
        return handle

    # --- system ---------------------------------------------------------------------------------------

    def nvmlInit(self) -> None:
        """pynvml.nvmlInit, scripted."""
        if self.init_error is not None:
            raise self.init_error

    def nvmlShutdown(self) -> None:
        """pynvml.nvmlShutdown, scripted."""
        return None

    def nvmlSystemGetDriverVersion(self) -> str:
        """pynvml.nvmlSystemGetDriverVersion, scripted."""
        return self.driver_version

    def nvmlSystemGetNVMLVersion(self) -> str:
        """pynvml.nvmlSystemGetNVMLVersion, scripted."""
        return self.nvml_version

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        """pynvml.nvmlSystemGetCudaDriverVersion, scripted."""
        return self.cuda_driver_version

    def nvmlDeviceGetCount(self) -> int:
        """pynvml.nvmlDeviceGetCount, scripted."""
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        """pynvml.nvmlDeviceGetHandleByIndex, scripted."""
        if not 0 <= index < len(self.gpus):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return self.gpus[index]

    # --- static facts ---------------------------------------------------------------------------------

    def nvmlDeviceGetName(self, handle: Any) -> str:
        """pynvml.nvmlDeviceGetName, scripted."""
        return self._gpu(handle).name

    def nvmlDeviceGetUUID(self, handle: Any) -> str:
        """pynvml.nvmlDeviceGetUUID, scripted."""
        return self._gpu(handle).uuid

    def nvmlDeviceGetPciInfo(self, handle: Any) -> pynvml.nvmlPciInfo_t:
        """pynvml.nvmlDeviceGetPciInfo, scripted."""
        gpu = self._gpu(handle)
        info = pynvml.nvmlPciInfo_t()
        info.busId = gpu.pci_bus_id.encode()
        info.busIdLegacy = gpu.pci_bus_id.encode()[:15]
        info.pciDeviceId = (gpu.pci_device_id << 16) | 0x10DE if gpu.pci_device_id is not None else 0
        info.pciSubSystemId = gpu.pci_subsystem_id
        return info

    def nvmlDeviceGetPowerManagementDefaultLimit(self, handle: Any) -> int:
        """pynvml.nvmlDeviceGetPowerManagementDefaultLimit, scripted."""
        return _reported(self._gpu(handle).default_power_limit_mw)

    def nvmlDeviceGetBoardPartNumber(self, handle: Any) -> str:
        """pynvml.nvmlDeviceGetBoardPartNumber, scripted."""
        return _reported(self._gpu(handle).board_part_number)

    def nvmlDeviceGetCudaComputeCapability(self, handle: Any) -> tuple[int, int]:
        """pynvml.nvmlDeviceGetCudaComputeCapability, scripted."""
        return _reported(self._gpu(handle).compute_capability)

    def nvmlDeviceGetGpuMaxPcieLinkGeneration(self, handle: Any) -> int:
        """pynvml.nvmlDeviceGetGpuMaxPcieLinkGeneration, scripted."""
        return _reported(self._gpu(handle).pcie_gpu_max_gen)

    def nvmlDeviceGetMaxPcieLinkGeneration(self, handle: Any) -> int:
        """pynvml.nvmlDeviceGetMaxPcieLinkGeneration, scripted."""
        return _reported(self._gpu(handle).pcie_link_max_gen)

    def nvmlDeviceGetMaxPcieLinkWidth(self, handle: Any) -> int:
        """pynvml.nvmlDeviceGetMaxPcieLinkWidth, scripted."""
        return _reported(self._gpu(handle).pcie_max_width)

    def nvmlDeviceGetCurrPcieLinkGeneration(self, handle: Any) -> int:
        """pynvml.nvmlDeviceGetCurrPcieLinkGeneration, scripted."""
        return _reported(self._gpu(handle).pcie_gen)

    def nvmlDeviceGetCurrPcieLinkWidth(self, handle: Any) -> int:
        """pynvml.nvmlDeviceGetCurrPcieLinkWidth, scripted."""
        return _reported(self._gpu(handle).pcie_width)

    def nvmlDeviceGetPowerManagementLimit(self, handle: Any) -> int:
        """pynvml.nvmlDeviceGetPowerManagementLimit, scripted."""
        return self._gpu(handle).power_limit_mw

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: Any) -> int:
        """pynvml.nvmlDeviceGetEnforcedPowerLimit, scripted."""
        return self._gpu(handle).power_limit_mw

    def nvmlDeviceGetMaxClockInfo(self, handle: Any, clock: int) -> int:
        """pynvml.nvmlDeviceGetMaxClockInfo, scripted."""
        gpu = self._gpu(handle)
        return gpu.max_sm_clock_mhz if clock == pynvml.NVML_CLOCK_SM else gpu.max_mem_clock_mhz

    # --- sampled metrics ------------------------------------------------------------------------------

    def nvmlDeviceGetMemoryInfo(self, handle: Any, version: int | None = None) -> Any:
        """pynvml.nvmlDeviceGetMemoryInfo, scripted."""
        gpu = self._gpu(handle)
        total = gpu.memory_total_mib * MIB
        used = int(gpu.mem_used_mib * MIB)
        reserved = int(gpu.reserved_mib * MIB)
        if version:
            if not gpu.has_memory_v2:  # an old driver: nvmlDeviceGetMemoryInfo_v2 is not exported
                raise pynvml.NVMLError(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
            mem = pynvml.c_nvmlMemory_v2_t()
            mem.version = version
            mem.total, mem.reserved, mem.used = total, reserved, used
            mem.free = total - reserved - used
            return mem
        mem = pynvml.c_nvmlMemory_t()
        mem.total, mem.used, mem.free = total, used + reserved, total - used - reserved
        return mem

    def _processes(self, gpu: FakeGpu) -> list[Any]:
        return [
            pynvml.nvmlFriendlyObject(
                {"pid": pid, "usedGpuMemory": used, "gpuInstanceId": _NA, "computeInstanceId": _NA}
            )
            for pid, used in gpu.processes
        ]

    def nvmlDeviceGetComputeRunningProcesses(self, handle: Any) -> list[Any]:
        """pynvml.nvmlDeviceGetComputeRunningProcesses, scripted."""
        gpu = self._gpu(handle)
        if not gpu.has_processes_v3:  # what nvidia-ml-py raises when the _v3 symbol is missing
            raise pynvml.NVMLLibraryMismatchError("use nvmlDeviceGetComputeRunningProcesses_v2")
        return self._processes(gpu)

    def nvmlDeviceGetComputeRunningProcesses_v2(self, handle: Any) -> list[Any]:
        """pynvml.nvmlDeviceGetComputeRunningProcesses_v2, scripted."""
        return self._processes(self._gpu(handle))

    def nvmlDeviceGetUtilizationRates(self, handle: Any) -> Any:
        """pynvml.nvmlDeviceGetUtilizationRates, scripted."""
        gpu = self._gpu(handle)
        gpu.reads += 1
        if gpu.lose_after_reads is not None and gpu.reads > gpu.lose_after_reads:
            gpu.lost = True
            raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)
        rates = pynvml.c_nvmlUtilization_t()
        rates.gpu, rates.memory = gpu.util_gpu, gpu.util_mem
        return rates

    def nvmlDeviceGetFieldValues(self, handle: Any, field_ids: Sequence[int]) -> Any:
        """pynvml.nvmlDeviceGetFieldValues, scripted."""
        gpu = self._gpu(handle)
        values = (pynvml.c_nvmlFieldValue_t * len(field_ids))()
        for slot, field_id in zip(values, field_ids, strict=True):
            slot.fieldId = field_id
            if field_id == pynvml.NVML_FI_DEV_POWER_INSTANT and gpu.has_instant_power:
                slot.nvmlReturn = pynvml.NVML_SUCCESS
                slot.valueType = pynvml.NVML_VALUE_TYPE_UNSIGNED_INT
                slot.value.uiVal = gpu.power_mw
            elif field_id == pynvml.NVML_FI_DEV_MEMORY_TEMP and gpu.hbm_temp_c is not None:
                slot.nvmlReturn = pynvml.NVML_SUCCESS
                slot.valueType = pynvml.NVML_VALUE_TYPE_UNSIGNED_INT
                slot.value.uiVal = gpu.hbm_temp_c
            else:
                slot.nvmlReturn = pynvml.NVML_ERROR_NOT_SUPPORTED
        return values

    def nvmlDeviceGetPowerUsage(self, handle: Any) -> int:
        """pynvml.nvmlDeviceGetPowerUsage, scripted."""
        return self._gpu(handle).power_mw

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: Any) -> int:
        """pynvml.nvmlDeviceGetTotalEnergyConsumption, scripted."""
        gpu = self._gpu(handle)
        if not gpu.has_energy:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        value = gpu.energy_mj
        gpu.energy_mj += gpu.energy_step_mj
        return value

    def nvmlDeviceGetClockInfo(self, handle: Any, clock: int) -> int:
        """pynvml.nvmlDeviceGetClockInfo, scripted."""
        gpu = self._gpu(handle)
        return gpu.sm_clock_mhz if clock == pynvml.NVML_CLOCK_SM else gpu.max_mem_clock_mhz

    def nvmlDeviceGetTemperature(self, handle: Any, sensor: int) -> int:
        """pynvml.nvmlDeviceGetTemperature, scripted."""
        return self._gpu(handle).temp_c

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: Any) -> int:
        """pynvml.nvmlDeviceGetCurrentClocksEventReasons, scripted."""
        gpu = self._gpu(handle)
        if not gpu.has_clock_events:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
        return gpu.clock_events

    def nvmlDeviceGetCurrentClocksThrottleReasons(self, handle: Any) -> int:
        """pynvml.nvmlDeviceGetCurrentClocksThrottleReasons, scripted."""
        return self._gpu(handle).clock_events

    # --- health counters ----------------------------------------------------------------------------------

    def nvmlDeviceGetTotalEccErrors(self, handle: Any, error_type: int, counter_type: int) -> int:
        """pynvml.nvmlDeviceGetTotalEccErrors, scripted (corrected counts grow by ecc_corrected_step per read)."""
        gpu = self._gpu(handle)
        counts = _reported(gpu.ecc)
        key = (error_type, counter_type)
        if error_type == pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED and gpu.ecc_corrected_step:
            counts[key] = counts.get(key, 0) + gpu.ecc_corrected_step
        return counts.get(key, 0)

    def nvmlDeviceGetRetiredPages(self, handle: Any, cause: int) -> list[int]:
        """pynvml.nvmlDeviceGetRetiredPages, scripted (page addresses)."""
        pages = _reported(self._gpu(handle).retired_pages)
        return [0x1000 * (i + 1) for i in range(pages.get(cause, 0))]

    def nvmlDeviceGetRetiredPagesPendingStatus(self, handle: Any) -> int:
        """pynvml.nvmlDeviceGetRetiredPagesPendingStatus, scripted."""
        return _reported(self._gpu(handle).retired_pending)

    def nvmlDeviceGetRemappedRows(self, handle: Any) -> tuple[int, int, int, int]:
        """pynvml.nvmlDeviceGetRemappedRows, scripted."""
        return _reported(self._gpu(handle).remapped_rows)

    def nvmlDeviceGetPcieReplayCounter(self, handle: Any) -> int:
        """pynvml.nvmlDeviceGetPcieReplayCounter, scripted."""
        return _reported(self._gpu(handle).pcie_replay)

    def nvmlDeviceGetNvLinkState(self, handle: Any, link: int) -> int:
        """pynvml.nvmlDeviceGetNvLinkState, scripted (links past the last raise INVALID_ARGUMENT, as the driver)."""
        gpu = self._gpu(handle)
        links = _reported(gpu.nvlink_links)
        if link >= len(links):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return int(links[link])

    def nvmlDeviceGetNvLinkErrorCounter(self, handle: Any, link: int, counter: int) -> int:
        """pynvml.nvmlDeviceGetNvLinkErrorCounter, scripted."""
        gpu = self._gpu(handle)
        if link >= len(_reported(gpu.nvlink_links)):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return _reported(gpu.nvlink_errors)

    # --- events --------------------------------------------------------------------------------------------

    def nvmlEventSetCreate(self) -> FakeEventSet:
        """pynvml.nvmlEventSetCreate, scripted."""
        return FakeEventSet()

    def nvmlDeviceRegisterEvents(self, handle: Any, event_types: int, event_set: FakeEventSet) -> None:
        """pynvml.nvmlDeviceRegisterEvents, scripted (NOT_SUPPORTED where the GPU has no events)."""
        gpu = self._gpu(handle)
        if not gpu.has_events:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        event_set.gpus.append(gpu)

    def nvmlEventSetWait_v2(self, event_set: FakeEventSet, timeout_ms: int) -> Any:
        """pynvml.nvmlEventSetWait_v2, scripted: the next queued XID, else TIMEOUT at once (nobody waits)."""
        for gpu in event_set.gpus:
            if gpu.xids:
                data = pynvml.c_nvmlEventData_t()
                data.eventType = pynvml.nvmlEventTypeXidCriticalError
                data.eventData = gpu.xids.pop(0)
                return _EventData(gpu, data)
        time.sleep(min(timeout_ms, 2) / 1000)  # a listener thread polling an empty set must not spin a core
        raise pynvml.NVMLError(pynvml.NVML_ERROR_TIMEOUT)

    def nvmlEventSetFree(self, event_set: FakeEventSet) -> None:
        """pynvml.nvmlEventSetFree, scripted."""
        event_set.freed = True


@dataclass
class _EventData:
    """c_nvmlEventData_t with a FakeGpu as its device (ctypes cannot hold a Python object)."""

    device: FakeGpu
    data: Any

    @property
    def eventType(self) -> int:
        """The event type bits."""
        return int(self.data.eventType)

    @property
    def eventData(self) -> int:
        """The XID."""
        return int(self.data.eventData)
