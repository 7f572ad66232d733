"""What every backend provides: its devices, inputs on a device, a device sync and its facts."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.cases import Case
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


class Backend(ABC):
    """One framework's way of running the workloads on its devices."""

    name: str
    sync_method: str  # recorded with every case: how a timed call waits for the device
    allocator_name: str = ""  # whose peak memory_peak() reports ("tensorflow", "torch.cuda")
    # Run-wide settings the session hands every backend, e.g. {"mnist": "/path/mnist.npz" or None}.
    settings: dict[str, Any] = {}  # noqa: RUF012 - replaced per instance by the session, never mutated

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

    @abstractmethod
    def builders(self) -> Mapping[str, Builder]:
        """The builder of each workload this backend runs, by workload name."""

    def build(self, case: Case) -> Prepared:
        """The call to time for `case`, with its inputs already made on the case's device."""
        builder = self.builders().get(case.workload.name)
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
