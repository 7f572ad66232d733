"""Workload descriptions and the cases they make per device (pure, no framework imports)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.devices import Device
from bench.profiles import Profile
from results_format.workloads import WorkloadSpec

Params = dict[str, Any]
# A workload's case list for one device: its parameters, and why it is skipped (None = it runs).
ParamsFor = Callable[[Profile, Device], list[tuple[Params, str | None]]]


@dataclass(frozen=True)
class Workload:
    """What a workload is, described once: its parameters per device and how much work one call does.

    Its name, version, units and keys are its `spec` in the results format (results_format.workloads).
    """

    spec: WorkloadSpec
    throughput_scale: float  # work units per throughput unit (1e9 for GFLOP/s)
    backends: tuple[str, ...]
    params_for: ParamsFor
    work_per_call: Callable[[Params], float]
    label: Callable[[Params], str]
    absent_reason: str = ""  # why a backend that is not in `backends` has no cases
    # (untimed warm-up calls, timed rounds) when the workload fixes them for a case; None = the profile's time budget
    schedule: Callable[[Profile, Params], tuple[int, int] | None] | None = None
    # Why a finished call's facts make the case a failure (e.g. a NaN loss); None when they are fine.
    check: Callable[[Mapping[str, Any]], str | None] = lambda facts: None
    # Facts drawn from the timed rounds' times in seconds (e.g. latency percentiles), added to the case's record.
    round_facts: Callable[[Params, list[float]], dict[str, Any]] = lambda params, times: {}

    @property
    def name(self) -> str:
        """The workload's name (`matmul`)."""
        return self.spec.name

    @property
    def version(self) -> int:
        """The workload's version: cases of different versions are never compared."""
        return self.spec.version

    @property
    def work_unit(self) -> str:
        """What one call's work is counted in (FLOP, samples, ...)."""
        return self.spec.work_unit

    @property
    def throughput_unit(self) -> str:
        """The throughput's unit (GFLOP/s, samples/s, ...)."""
        return self.spec.throughput_unit

    def throughput(self, params: Params, seconds: float) -> float:
        """Throughput of one call that took `seconds`, in `throughput_unit`."""
        return self.work_per_call(params) / seconds / self.throughput_scale


@dataclass(frozen=True)
class Case:
    """One timed case: a workload with its parameters on one device of one backend."""

    workload: Workload
    device: Device
    params: Mapping[str, Any] = field(hash=False)
    skip_reason: str | None = None

    @property
    def backend(self) -> str:
        """The backend that runs this case."""
        return self.device.backend

    @property
    def id(self) -> str:
        """The pytest id, e.g. `tensorflow-CPU:0-n1024-float32`."""
        return f"{self.backend}-{self.device.name}-{self.workload.label(dict(self.params))}"

    @property
    def group(self) -> str:
        """pytest-benchmark's group: the case without its device, so devices sit side by side."""
        return f"{self.workload.name} {self.workload.label(dict(self.params))} {self.backend}"


def make_cases(workload: Workload, profile: Profile, devices: Iterable[Device]) -> list[Case]:
    """Every case of `workload` on `devices` under `profile`, skipped ones included with their reason."""
    cases: list[Case] = []
    for device in devices:
        if device.backend not in workload.backends:
            continue
        for params, reason in workload.params_for(profile, device):
            cases.append(Case(workload, device, params, reason))
    return cases
