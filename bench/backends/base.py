"""What every backend provides: its devices, inputs on a device, a device sync and its facts."""

from __future__ import annotations

import importlib
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bench.cases import Case, Workload
from bench.devices import Device


class BackendUnavailable(Exception):
    """A backend that cannot run here (its framework is not installed); the message says why."""


class PlacementError(RuntimeError):
    """A case's output landed on another device than the one it asked for."""


class UnknownWorkloadError(LookupError):
    """A backend asked to build a workload it has no builder for."""


@dataclass
class Prepared:
    """A case made ready on its device: the call to time, and the facts it learned while running.

    `facts` runs after the timed rounds and gets their median time in seconds. `check_round`, where given, runs
    after every timed round, untimed, with the round's output, its index and its time; a message it returns fails
    the case (a sustained case checks each result's checksum this way).
    """

    call: Callable[[], Any]
    facts: Callable[[float], dict[str, Any]] = field(default=lambda median_s: {})
    check_round: Callable[[Any, int, float], str | None] | None = None


class DeviceTimer(Protocol):
    """Times a round on the device itself (CUDA events): start before the first call, stop after the last."""

    method: str  # recorded with the case, e.g. "torch.cuda.Event"

    def start(self) -> None:
        """Mark the start of a round in the device's queue."""

    def stop(self) -> None:
        """Mark its end, after the last call was queued."""

    def elapsed_s(self) -> float:
        """Device seconds between the marks (after the host has synced)."""


@dataclass(frozen=True)
class CacheFlush:
    """A buffer at least twice the device's last cache level and the call that writes it (cold rounds)."""

    write: Callable[[], None]
    bytes: int


MIN_FLUSH_BYTES = 64 * 2**20
DEFAULT_FLUSH_BYTES = 512 * 2**20  # where the cache size is unknown: twice a large server L3


def flush_bytes(cache_bytes: int | None) -> int:
    """How large a flush buffer is for a cache of `cache_bytes`: twice it, at least 64 MiB (512 MiB unknown)."""
    if not cache_bytes or cache_bytes <= 0:
        return DEFAULT_FLUSH_BYTES
    return max(2 * int(cache_bytes), MIN_FLUSH_BYTES)


def cpu_cache_bytes() -> int | None:
    """This host's last-level CPU cache per socket as glibc reports it (None where it does not)."""
    for name in ("SC_LEVEL4_CACHE_SIZE", "SC_LEVEL3_CACHE_SIZE", "SC_LEVEL2_CACHE_SIZE"):
        try:
            size = os.sysconf(name)
        except (ValueError, OSError):
            continue
        if size and size > 0:
            return int(size)
    return None


class Backend(ABC):
    """One framework's way of running the workloads on its devices."""

    name: str
    sync_method: str  # recorded with every case: how a timed call waits for the device
    allocator_name: str = ""  # whose peak memory_peak() reports ("tensorflow", "torch.cuda")
    # Run-wide settings the session hands every backend, e.g. {"mnist": "/path/mnist.npz" or None}.
    settings: dict[str, Any] = {}  # noqa: RUF012 - replaced per instance by the session, never mutated
    module_prefix: str = ""  # builders live in bench.backends.{module_prefix}_{workload} by convention

    @abstractmethod
    def version(self) -> str:
        """The framework's version."""

    @abstractmethod
    def devices(self) -> list[Device]:
        """Every device the framework sees, CPU first."""

    @abstractmethod
    def gpu_absence_reason(self) -> str | None:
        """Why no GPU is usable (None when one is)."""

    @abstractmethod
    def sync(self) -> None:
        """Wait until all work queued on every device has finished."""

    @abstractmethod
    def placement(self, value: Any) -> str:
        """Where a workload's output lives, as the framework spells it."""

    @abstractmethod
    def device_name_of(self, placement: str) -> str:
        """A placement string as a suite device name (`CPU:0`, `GPU:1`)."""

    def builder_for(self, workload: Workload) -> Builder | None:
        """The builder of `workload` on this backend (its declared path or the module convention), or None."""
        found: dict[str, Builder | None] = self.__dict__.setdefault("_found_builders", {})
        if workload.name not in found:
            found[workload.name] = find_builder(workload, self.name, self.module_prefix)
        return found[workload.name]

    def build(self, case: Case) -> Prepared:
        """The call to time for `case`, with its inputs already made on the case's device."""
        builder = self.builder_for(case.workload)
        if builder is None:
            raise UnknownWorkloadError(f"the {self.name} backend has no {case.workload.name} workload")
        return builder(case, self)

    @abstractmethod
    def is_out_of_memory(self, error: BaseException) -> bool:
        """Whether `error` means the device ran out of memory."""

    @abstractmethod
    def machine_info(self) -> dict[str, Any]:
        """Version and build facts for machine_info."""

    @abstractmethod
    def case_facts(self, case: Case) -> dict[str, Any]:
        """Per-case facts for extra_info: precision policy and thread counts."""

    @abstractmethod
    def set_tf32(self, enabled: bool) -> None:
        """Allow or forbid TF32 for float32 matmuls and convolutions on GPUs (recorded per case)."""

    def memory_reset(self, device: Device) -> None:  # noqa: B027 - optional hook
        """Reset the allocator's peak-memory counter for `device`, where the backend has one."""

    def memory_peak(self, device: Device) -> int | None:
        """The allocator's peak bytes on `device` since the last reset, where the backend has one."""
        return None

    def device_timer(self, device: Device) -> DeviceTimer | None:
        """A timer of rounds on the device itself, where the backend has one (torch on CUDA: events)."""
        return None

    def cache_flush(self, device: Device) -> CacheFlush | None:
        """A buffer to write between calls of a cold round (twice the device's last cache level), where supported."""
        return None

    def check_placement(self, value: Any, device: Device) -> str:
        """The output's placement, or a PlacementError when it is not on `device`."""
        where = self.placement(value)
        if self.device_name_of(where) != device.name:
            raise PlacementError(
                f"asked for {device.name} but the output is on {where}: "
                f"a silent fallback is an error, not a {device.name} number"
            )
        return where


#: How every backend builds a workload's case: (case, the backend running it) -> the call to time.
Builder = Callable[[Case, Backend], Prepared]


def find_builder(workload: Workload, backend: str, prefix: str) -> Builder | None:
    """Import `workload`'s builder for `backend`: its declared "module:function", or prefix_NAME's build."""
    module_name, functions = workload.builder_path(backend, prefix)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:  # the module exists but something it imports does not
            raise
        return None
    for function in functions:
        found = getattr(module, function, None)
        if callable(found):
            return found  # type: ignore[no-any-return]
    return None


class CaseSkipped(Exception):
    """A case that could not be measured for a recorded reason (e.g. out of memory); the run goes on."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def one_line(error: BaseException) -> str:
    """The first line of an error's message, for a recorded reason."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"
