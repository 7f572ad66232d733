"""GPU telemetry through NVML (nvidia-ml-py): a background sampler around each benchmark case.

    telemetry = Telemetry.start(interval_s=0.01)   # never raises; disabled with .reason without NVML
    print(telemetry.header_line())
    with telemetry.sample("test_matmul[...]") as rec:
        run_the_case()
    rec.summary            # {"0": {"peak_mem_mib": ..., "energy_j": ..., ...}} or {} when disabled
    telemetry.write_csv(run_dir / "nvml.csv")
    telemetry.close()

Every GPU NVML sees is sampled, whatever device the case runs on. A metric the driver does not
report is None (an empty CSV cell), never an exception; an NVML error mid-run stops the sampler,
keeps the samples so far and records the reason in `telemetry.error`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from bench.hardware.energy import idle_power_w
from bench.hardware.links import LinkCeiling, link_ceiling, pcie_gbs_per_direction
from bench.hardware.reference import reference_for
from bench.hardware.sku import GpuIdentity, SkuMatch, detect_sku
from bench.nvml_ids import map_tf_gpus, normalise_bus_id
from bench.nvml_summary import MIB, Sample, append_csv, summarize, write_csv
from bench.round_clocks import RoundClock, round_clocks

try:
    import pynvml  # the nvidia-ml-py distribution (never the unofficial `pynvml` one)
except ImportError:  # pragma: no cover - nvidia-ml-py is a dependency
    pynvml = None

__all__ = ["DEFAULT_INTERVAL_S", "ENV_SWITCH", "Recording", "Telemetry", "map_tf_gpus", "nvml_available"]

IDLE_SECONDS = 0.5  # idle power before the first case: 25 readings at the default interval
DEFAULT_INTERVAL_S = 0.02  # catches a 100 ms case 5 times; 10 ms cost ~1.5 % of a CPU case here
ENV_SWITCH = "DEVICEBENCH_NVML"  # DEVICEBENCH_NVML=0 turns the sampler off
_OFF_WORDS = {"0", "off", "false", "no"}

Reader = Callable[[Any], Any]


@functools.cache
def nvml_available() -> tuple[bool, str]:
    """Whether NVML can be initialised and sees a GPU, and if not, why (checked once per process)."""
    if pynvml is None:
        return False, "nvidia-ml-py is not installed"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError_LibraryNotFound:
        return False, "NVML library not found (no NVIDIA driver)"
    except pynvml.NVMLError as err:
        return False, f"nvmlInit failed: {err}"
    except OSError as err:
        return False, f"nvmlInit failed: {err}"
    try:
        count = pynvml.nvmlDeviceGetCount()
    except pynvml.NVMLError as err:
        return False, f"nvmlDeviceGetCount failed: {err}"
    finally:
        _shutdown_quietly()
    if count == 0:
        return False, "no GPU visible to NVML"
    return True, ""


def _shutdown_quietly() -> None:
    """nvmlShutdown, ignoring errors (the library may already be gone)."""
    with contextlib.suppress(Exception):
        pynvml.nvmlShutdown()


def _is_unsupported(err: BaseException) -> bool:
    """Whether `err` means "this driver/GPU does not report that", not "something broke"."""
    if isinstance(err, AttributeError):  # an older nvidia-ml-py without the wrapper
        return True
    if isinstance(err, pynvml.NVMLLibraryMismatchError):
        return True
    if not isinstance(err, pynvml.NVMLError):
        return False
    codes = {
        pynvml.NVML_ERROR_NOT_SUPPORTED,
        pynvml.NVML_ERROR_FUNCTION_NOT_FOUND,
        pynvml.NVML_ERROR_NO_PERMISSION,
        pynvml.NVML_ERROR_INVALID_ARGUMENT,
        getattr(pynvml, "NVML_ERROR_ARGUMENT_VERSION_MISMATCH", 25),
    }
    return err.value in codes


# --- metric readers: for each metric, the ways to read it, best first --------------------------------


def _mem_v2(h: Any) -> float:
    return pynvml.nvmlDeviceGetMemoryInfo(h, version=pynvml.nvmlMemory_v2).used / MIB


def _mem_v1(h: Any) -> float:
    return pynvml.nvmlDeviceGetMemoryInfo(h).used / MIB


def _procs_v3(h: Any) -> list[Any]:
    return pynvml.nvmlDeviceGetComputeRunningProcesses(h)


def _procs_v2(h: Any) -> list[Any]:
    return pynvml.nvmlDeviceGetComputeRunningProcesses_v2(h)


def _util(h: Any) -> tuple[int, int]:
    rates = pynvml.nvmlDeviceGetUtilizationRates(h)
    return int(rates.gpu), int(rates.memory)


_FIELD_VALUE_ATTR = {0: "dVal", 1: "uiVal", 2: "ulVal", 3: "ullVal", 4: "sllVal", 5: "siVal", 6: "usVal"}


def _power_instant(h: Any) -> float:
    value = pynvml.nvmlDeviceGetFieldValues(h, [pynvml.NVML_FI_DEV_POWER_INSTANT])[0]
    if value.nvmlReturn != pynvml.NVML_SUCCESS:
        raise pynvml.NVMLError(value.nvmlReturn)
    return float(getattr(value.value, _FIELD_VALUE_ATTR.get(int(value.valueType), "uiVal"))) / 1000.0


def _power_usage(h: Any) -> float:
    return pynvml.nvmlDeviceGetPowerUsage(h) / 1000.0


def _energy(h: Any) -> int:
    return int(pynvml.nvmlDeviceGetTotalEnergyConsumption(h))


def _sm_clock(h: Any) -> int:
    return int(pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM))


def _temp(h: Any) -> int:
    return int(pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU))


def _temp_v(h: Any) -> int:
    return int(pynvml.nvmlDeviceGetTemperatureV(h, pynvml.NVML_TEMPERATURE_GPU))


def _clock_events(h: Any) -> int:
    return int(pynvml.nvmlDeviceGetCurrentClocksEventReasons(h))


def _clock_throttle(h: Any) -> int:
    return int(pynvml.nvmlDeviceGetCurrentClocksThrottleReasons(h))


METRIC_READERS: dict[str, tuple[tuple[str, Reader], ...]] = {
    "memory": (("v2", _mem_v2), ("v1", _mem_v1)),
    "processes": (("v3", _procs_v3), ("v2", _procs_v2)),
    "utilization": (("rates", _util),),
    "power": (("instant", _power_instant), ("power_usage", _power_usage)),
    "energy": (("total_energy_consumption", _energy),),
    "sm_clock": (("clock_info", _sm_clock),),
    "temperature": (("temperature", _temp), ("temperature_v", _temp_v)),
    "clock_events": (("clocks_event_reasons", _clock_events), ("clocks_throttle_reasons", _clock_throttle)),
}


@dataclass
class _Gpu:
    """One NVML device: its handle, static facts, detected SKU, link ceiling and the reader for each metric."""

    index: int
    handle: Any
    info: dict[str, Any]
    sku: SkuMatch | None = None
    link: LinkCeiling | None = None
    readers: dict[str, Reader | None] = field(default_factory=dict)
    sources: dict[str, str | None] = field(default_factory=dict)


def _query(fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args), or None when the driver does not support it."""
    try:
        return fn(*args)
    except Exception as err:
        if _is_unsupported(err):
            return None
        raise


def _query_named(name: str, *args: Any) -> Any:
    """pynvml.<name>(*args), or None when this nvidia-ml-py lacks the wrapper or the driver does not support it."""
    fn = getattr(pynvml, name, None)
    return None if fn is None else _query(fn, *args)


def _pcie_now(handle: Any) -> tuple[int | None, int | None]:
    """The PCIe link's current generation and width (None where unsupported; never raises)."""
    try:
        return (
            _query_named("nvmlDeviceGetCurrPcieLinkGeneration", handle),
            _query_named("nvmlDeviceGetCurrPcieLinkWidth", handle),
        )
    except Exception:  # an auxiliary reading: a failing GPU is reported by the sampler, not here
        return None, None


def _identity(handle: Any, name: str | None, pci: Any, memory: Any, limit_mw: int | None) -> GpuIdentity:
    """What SKU detection needs, read from NVML (None for what the driver does not report)."""
    default_mw = _query_named("nvmlDeviceGetPowerManagementDefaultLimit", handle)
    device_word = getattr(pci, "pciDeviceId", None) if pci is not None else None
    subsystem = getattr(pci, "pciSubSystemId", None) if pci is not None else None
    cc = _query_named("nvmlDeviceGetCudaComputeCapability", handle)
    return GpuIdentity(
        name=name,
        memory_total_bytes=int(memory.total) if memory is not None else None,
        default_power_limit_w=default_mw / 1000.0 if default_mw is not None else None,
        enforced_power_limit_w=limit_mw / 1000.0 if limit_mw is not None else None,
        pcie_max_gen=_query_named("nvmlDeviceGetGpuMaxPcieLinkGeneration", handle),
        pcie_max_width=_query_named("nvmlDeviceGetMaxPcieLinkWidth", handle),
        pci_device_id=int(device_word) >> 16 if device_word else None,
        pci_subsystem_id=int(subsystem) if subsystem else None,
        board_part_number=_text(_query_named("nvmlDeviceGetBoardPartNumber", handle)) or None,
        compute_capability=(int(cc[0]), int(cc[1])) if cc is not None else None,
    )


def _round(value: float | None, digits: int) -> float | None:
    """`round` that passes None through."""
    return None if value is None else round(value, digits)


def _text(value: Any) -> str | None:
    """NVML strings arrive as str or bytes; None stays None."""
    if isinstance(value, bytes):
        return value.decode(errors="replace").rstrip("\x00")
    return None if value is None else str(value)


def _open_gpu(index: int) -> _Gpu:
    """Handle, static facts and probed metric readers of NVML device `index`."""
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    pci = _query(pynvml.nvmlDeviceGetPciInfo, handle)
    bus = normalise_bus_id(_text(getattr(pci, "busId", None))) if pci is not None else None
    memory = _query(pynvml.nvmlDeviceGetMemoryInfo, handle)
    limit_mw = _query(pynvml.nvmlDeviceGetEnforcedPowerLimit, handle)
    if limit_mw is None:
        limit_mw = _query(pynvml.nvmlDeviceGetPowerManagementLimit, handle)
    max_sm = _query(pynvml.nvmlDeviceGetMaxClockInfo, handle, pynvml.NVML_CLOCK_SM)
    max_mem = _query(pynvml.nvmlDeviceGetMaxClockInfo, handle, pynvml.NVML_CLOCK_MEM)
    name = _text(_query(pynvml.nvmlDeviceGetName, handle))
    identity = _identity(handle, name, pci, memory, limit_mw)
    # The link's maximum is the lower of what the GPU and the slot support; the GPU's own is in the identity.
    link_gen = _query_named("nvmlDeviceGetMaxPcieLinkGeneration", handle)
    gen_now, width_now = _pcie_now(handle)
    info = {
        "index": index,
        "name": name,
        "uuid": _text(_query(pynvml.nvmlDeviceGetUUID, handle)),
        "pci_bus_id": bus,
        "pci_device_id": f"10de:{identity.pci_device_id:04x}" if identity.pci_device_id is not None else None,
        "board_part_number": identity.board_part_number,
        "compute_capability": ".".join(map(str, identity.compute_capability)) if identity.compute_capability else None,
        "memory_total_mib": round(memory.total / MIB, 1) if memory is not None else None,
        "power_limit_w": round(limit_mw / 1000.0, 1) if limit_mw is not None else None,
        "power_default_limit_w": _round(identity.default_power_limit_w, 1),
        "max_sm_clock_mhz": max_sm,
        "max_mem_clock_mhz": max_mem,
        "pcie_gpu_max_gen": identity.pcie_max_gen,
        "pcie_link_max_gen": link_gen,
        "pcie_link_max_width": identity.pcie_max_width,
        "pcie_gen_at_start": gen_now,
        "pcie_width_at_start": width_now,
    }
    sku = detect_sku(identity)
    link = link_ceiling(sku.spec, link_gen, identity.pcie_max_width, gen_now, width_now)
    gpu = _Gpu(index=index, handle=handle, info=info, sku=sku, link=link)
    for metric, chain in METRIC_READERS.items():
        gpu.readers[metric] = None
        gpu.sources[metric] = None
        for label, reader in chain:
            try:
                reader(handle)
            except Exception as err:
                if _is_unsupported(err):
                    continue
                raise
            gpu.readers[metric] = reader
            gpu.sources[metric] = label
            break
    return gpu


class Recording:
    """One case's sampling window; a context manager whose `.summary` is filled in on exit."""

    def __init__(self, telemetry: Telemetry, case: str, background: bool) -> None:
        self.case = case
        self.summary: dict[str, dict[str, object]] = {}
        self.error: str | None = None
        self.sampler_cpu_s = 0.0  # CPU time the sampler thread used in this window
        self._telemetry = telemetry
        self._background = background
        self._first = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._links: dict[int, list[tuple[int | None, int | None]]] = {}
        self.round_marks: list[int] = []  # the sample count when each timed round ended

    def mark_round(self) -> None:
        """Note that a timed round just ended (the runner calls it outside the timed region; no NVML call)."""
        self.round_marks.append(len(self._telemetry.samples))

    def round_clocks(self, gpu_index: int) -> list[RoundClock]:
        """Each marked round's clock-event reasons and SM clock on NVML GPU `gpu_index` (bench.round_clocks)."""
        return round_clocks(self._telemetry.samples, self.round_marks, gpu_index, self._first)

    @property
    def samples(self) -> list[Sample]:
        """The samples taken in this window so far (every GPU)."""
        return [s for s in self._telemetry.samples[self._first :] if s.case == self.case]

    def __enter__(self) -> Recording:
        tel = self._telemetry
        if not tel.enabled or tel._closed:
            return self
        if tel._current is not None:
            raise RuntimeError(f"NVML is already sampling case {tel._current.case!r}")
        tel._current = self
        self._first = len(tel.samples)
        tel.poll_once()
        self._read_links()
        if self._background and tel.error is None:
            self._thread = threading.Thread(target=self._run, name="devicebench-nvml", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        """The sampler thread: poll every interval until stopped or an NVML error."""
        cpu_start = time.thread_time()
        try:
            while not self._stop.wait(self._telemetry.interval_s):
                if not self._telemetry.poll_once():
                    break
        finally:
            self.sampler_cpu_s = time.thread_time() - cpu_start

    def stop(self) -> None:
        """Stop the sampler thread (if any) and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tel = self._telemetry
        if not tel.enabled or tel._current is not self:
            return
        self.stop()
        tel.poll_once()
        self._read_links()
        tel._current = None
        self.error = tel.error
        self.summary = summarize(self.samples, tel.gpu_info, tel.pid, error=tel.error)
        for index, readings in self._links.items():
            if str(index) in self.summary:
                self.summary[str(index)].update(_link_summary(readings))

    def _read_links(self) -> None:
        """Note each GPU's current PCIe generation and width (GPUs lower them when idle, so read per case)."""
        for gpu in self._telemetry._gpus:
            self._links.setdefault(gpu.index, []).append(_pcie_now(gpu.handle))


def _idle(readings: list[float | None] | None, count: int, seconds: float, error: str = "") -> dict[str, Any]:
    """The idle-power record of one GPU (results_format IdlePower)."""
    power = idle_power_w(readings or [])
    present = sum(1 for r in readings or [] if r is not None)
    if error or power is None:
        why = error or "NVML reports no power for this GPU"
        return {"power_w": None, "readings": count, "duration_s": round(seconds, 3), "method": "none", "note": why}
    return {
        "power_w": round(power, 2),
        "readings": present,
        "duration_s": round(seconds, 3),
        "method": f"median of {present} power readings over {seconds:.2f} s before the first case",
        "note": "",
    }


def _link_summary(readings: list[tuple[int | None, int | None]]) -> dict[str, object]:
    """The fastest PCIe link state seen in a case (at its start and end) and its theoretical GB/s."""
    seen = [(gen, width) for gen, width in readings if gen is not None and width is not None]
    if not seen:
        return {"pcie_link_gen": None, "pcie_link_width": None, "pcie_link_gbs_per_direction": None}
    gen, width = max(seen, key=lambda gw: pcie_gbs_per_direction(*gw) or 0.0)
    gbs = pcie_gbs_per_direction(gen, width)
    return {
        "pcie_link_gen": gen,
        "pcie_link_width": width,
        "pcie_link_gbs_per_direction": round(gbs, 2) if gbs is not None else None,
    }


class Telemetry:
    """The NVML sampler for a whole run: machine facts, one Recording per case, the CSV timeline."""

    def __init__(self, interval_s: float = DEFAULT_INTERVAL_S, reason: str = "") -> None:
        self.interval_s = interval_s
        self.enabled = False
        self.reason = reason
        self.error: str | None = None
        self.pid = os.getpid()
        self.samples: list[Sample] = []
        self.driver_version: str | None = None
        self.nvml_version: str | None = None
        self.cuda_driver_version: str | None = None
        self._gpus: list[_Gpu] = []
        self._current: Recording | None = None
        self._appended = 0  # samples already appended to nvml.csv
        self._closed = False
        self._t0 = time.perf_counter()
        self._lock = threading.Lock()

    # --- lifecycle ------------------------------------------------------------------------------------

    @classmethod
    def disabled(cls, reason: str, interval_s: float = DEFAULT_INTERVAL_S) -> Telemetry:
        """A sampler that samples nothing, saying why (e.g. "turned off by --no-nvml")."""
        return cls(interval_s=interval_s, reason=reason)

    @classmethod
    def start(cls, interval_s: float = DEFAULT_INTERVAL_S) -> Telemetry:
        """Initialise NVML and read each GPU's facts; a disabled instance with `.reason` when that fails."""
        if not interval_s > 0:
            raise ValueError(f"NVML sampling interval must be above 0 s, got {interval_s}")
        if os.environ.get(ENV_SWITCH, "").strip().lower() in _OFF_WORDS:
            return cls.disabled(f"turned off by {ENV_SWITCH}={os.environ[ENV_SWITCH]}", interval_s)
        ok, reason = nvml_available()
        if not ok:
            return cls.disabled(reason, interval_s)
        tel = cls(interval_s=interval_s)
        try:
            pynvml.nvmlInit()
        except Exception as err:
            return cls.disabled(f"nvmlInit failed: {err}", interval_s)
        try:
            tel.driver_version = _text(_query(pynvml.nvmlSystemGetDriverVersion))
            tel.nvml_version = _text(_query(pynvml.nvmlSystemGetNVMLVersion))
            cuda = _query(pynvml.nvmlSystemGetCudaDriverVersion)
            tel.cuda_driver_version = f"{cuda // 1000}.{cuda % 1000 // 10}" if isinstance(cuda, int) else None
            tel._gpus = [_open_gpu(i) for i in range(pynvml.nvmlDeviceGetCount())]
        except Exception as err:
            _shutdown_quietly()
            return cls.disabled(f"NVML query failed at start: {type(err).__name__}: {err}", interval_s)
        if not tel._gpus:
            _shutdown_quietly()
            return cls.disabled("no GPU visible to NVML", interval_s)
        tel.enabled = True
        tel._t0 = time.perf_counter()
        return tel

    def close(self) -> None:
        """Stop any running sampler and shut NVML down (idempotent)."""
        if self._current is not None:
            self._current.stop()
            self._current = None
        if self.enabled and not self._closed:
            self._closed = True
            _shutdown_quietly()

    def __enter__(self) -> Telemetry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- what the run header, machine_info and map_tf_gpus need ---------------------------------------

    @property
    def gpus(self) -> list[dict[str, Any]]:
        """Each NVML GPU's static facts (index, name, uuid, pci_bus_id, memory, power limit, max clocks)."""
        return [dict(g.info) for g in self._gpus]

    def handles(self) -> list[tuple[int, Any]]:
        """(NVML index, handle) of every GPU, for the health check's own reads (bench.health)."""
        return [(g.index, g.handle) for g in self._gpus]

    @property
    def gpu_info(self) -> dict[int, dict[str, Any]]:
        """The same facts keyed by NVML index."""
        return {g.index: g.info for g in self._gpus}

    def header_line(self) -> str:
        """The run header line: "NVML on: 2 GPUs, driver 550.54, sampling every 20 ms" or "NVML off: why"."""
        if not self.enabled:
            return f"NVML off: {self.reason}"
        n = len(self._gpus)
        line = (
            f"NVML on: {n} GPU{'s' if n != 1 else ''}, driver {self.driver_version or 'unknown'}, "
            f"sampling every {self.interval_s * 1000:g} ms"
        )
        return line + (f" (stopped: {self.error})" if self.error else "")

    def machine_info(self) -> dict[str, Any]:
        """Driver and NVML versions and each GPU's facts, SKU and host-link ceiling, or {"enabled": False, ...}."""
        if not self.enabled:
            return {"enabled": False, "reason": self.reason}
        return {
            "enabled": True,
            "driver_version": self.driver_version,
            "nvml_version": self.nvml_version,
            "cuda_driver_version": self.cuda_driver_version,
            "interval_s": self.interval_s,
            "error": self.error,
            "gpus": [
                {
                    **g.info,
                    "sources": dict(g.sources),
                    "sku": g.sku.as_dict() if g.sku else None,
                    "host_link": g.link.as_dict() if g.link else None,
                }
                for g in self._gpus
            ],
        }

    def gpu_hardware(self, index: int | None) -> dict[str, Any]:
        """The detected SKU, its spec and the host-link ceiling of NVML GPU `index`, as DeviceRecord fields."""
        gpu = next((g for g in self._gpus if g.index == index), None)
        if gpu is None:
            return {}
        spec = gpu.sku.spec if gpu.sku is not None else None
        return {
            "sku": gpu.sku.as_dict() if gpu.sku is not None else None,
            "spec": spec.record().model_dump(mode="json") if spec is not None else None,
            "host_link": gpu.link.as_dict() if gpu.link is not None else None,
            "reference": _reference(spec.id if spec is not None else None),
        }

    def measure_idle(self, seconds: float = IDLE_SECONDS, sleep: Callable[[float], None] = time.sleep) -> dict:
        """Each GPU's power with no work: the median of readings every interval for `seconds`, by NVML index.

        Taken before the first case, outside any case (the readings are not in nvml.csv). The GPU may still be
        leaving a higher power state after the framework initialised it, so this errs high rather than low,
        which makes the net energy of a case err low rather than high.
        """
        if not self.enabled or self._closed or self.error is not None:
            return {}
        readings: dict[int, list[float | None]] = {g.index: [] for g in self._gpus}
        polls = max(2, round(seconds / self.interval_s))
        start = time.perf_counter()
        try:
            for i in range(polls):
                for gpu in self._gpus:
                    readings[gpu.index].append(self._value(gpu, "power", gpu.handle))
                if i < polls - 1:
                    sleep(self.interval_s)
        except Exception as err:  # a GPU lost here is the sampler's business; the idle power is then unknown
            return {str(index): _idle(None, 0, 0.0, f"NVML failed: {type(err).__name__}: {err}") for index in readings}
        elapsed = time.perf_counter() - start
        return {str(index): _idle(values, len(values), elapsed) for index, values in readings.items()}

    # --- sampling -------------------------------------------------------------------------------------

    def sample(self, case: str, background: bool = True) -> Recording:
        """A context manager sampling every GPU while `case` runs (on entry, every interval, on exit)."""
        return Recording(self, case, background)

    def poll_once(self) -> bool:
        """Take one sample of every GPU for the current case; False once the sampler has stopped."""
        current = self._current
        if not self.enabled or self._closed or self.error is not None or current is None:
            return False
        with self._lock:
            t_s = time.perf_counter() - self._t0
            for gpu in self._gpus:
                try:
                    self.samples.append(self._read(gpu, t_s, current.case))
                except Exception as err:
                    taken = sum(1 for s in self.samples if s.case == current.case and s.gpu_index == gpu.index)
                    self.error = (
                        f"sampling stopped in case {current.case!r} on GPU {gpu.index} "
                        f"after {taken} samples: "
                        f"{type(err).__name__}: {err}"
                    )
                    return False
        return True

    def _read(self, gpu: _Gpu, t_s: float, case: str) -> Sample:
        """One Sample of `gpu`; unsupported metrics are None, other NVML errors propagate."""
        h = gpu.handle
        procs = self._value(gpu, "processes", h)
        pids: tuple[int, ...] | None = None
        proc_mem: float | None = None
        if procs is not None:
            pids = tuple(int(p.pid) for p in procs)
            mine = [p.usedGpuMemory for p in procs if int(p.pid) == self.pid]
            if mine and all(m is not None for m in mine):
                proc_mem = sum(mine) / MIB
        util = self._value(gpu, "utilization", h)
        return Sample(
            t_s=round(t_s, 6),
            case=case,
            gpu_index=gpu.index,
            gpu_uuid=gpu.info.get("uuid") or "",
            mem_used_mib=self._value(gpu, "memory", h),
            proc_mem_mib=proc_mem,
            util_gpu_pct=util[0] if util is not None else None,
            util_mem_pct=util[1] if util is not None else None,
            power_w=self._value(gpu, "power", h),
            energy_mj=self._value(gpu, "energy", h),
            sm_clock_mhz=self._value(gpu, "sm_clock", h),
            temp_c=self._value(gpu, "temperature", h),
            throttle_mask=self._value(gpu, "clock_events", h),
            proc_pids=pids,
        )

    @staticmethod
    def _value(gpu: _Gpu, metric: str, handle: Any) -> Any:
        """The metric through its probed reader; None when unsupported (now or from the start)."""
        reader = gpu.readers.get(metric)
        if reader is None:
            return None
        try:
            return reader(handle)
        except Exception as err:
            if _is_unsupported(err):
                return None
            raise

    # --- output ---------------------------------------------------------------------------------------

    def write_csv(self, path: str | Path) -> int:
        """Write the whole timeline (nvml.csv; nothing when NVML is off); returns the row count."""
        if not self.enabled:
            return 0
        return write_csv(path, list(self.samples))

    def append_csv(self, path: str | Path) -> int:
        """Append the samples taken since the last append to `path` (made with its header the first time).

        Called after every finished case, so a run that is killed keeps the timeline of its finished cases.
        Returns the rows appended (none when NVML is off).
        """
        if not self.enabled:
            return 0
        with self._lock:
            new = self.samples[self._appended :]
            self._appended = len(self.samples)
        return append_csv(path, new)


def _reference(sku_id: str | None) -> dict[str, Any] | None:
    """The published reference envelope of a detected SKU as a device record stores it (None: none listed)."""
    envelope = reference_for(sku_id)
    return envelope.model_dump(mode="json") if envelope is not None else None
