"""Workload descriptions and the cases they make per device (pure, no framework imports)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.devices import Device
from bench.profiles import Profile
from results_format.workloads import WorkloadSpec

Params = dict[str, Any]
# A workload's case list for one device: its parameters, and why it is skipped (None = it runs).
ParamsFor = Callable[[Profile, Device], list[tuple[Params, str | None]]]
# A multi-device workload's case list for one device, given every selected device of its backend and kind in
# selection order (the first of them runs the cases; see bench.workloads.multidevice).
GroupParamsFor = Callable[[Profile, Device, Sequence[Device]], list[tuple[Params, str | None]]]


class SizesError(LookupError):
    """A workload that declares no sizes for the profile a run uses."""


@dataclass(frozen=True)
class Workload:
    """What a workload is, described once in its module: its parameters per device, sizes per profile, builders.

    Its name, version, units, keys, facts and report section are its `spec` in the results format
    (results_format.workloads), which every run file carries. Each backend builds its cases with the function
    named in `builders` ("module:function") or, by convention, `build` (or `build_NAME`) in
    bench.backends.tf_NAME / torch_NAME, imported only when a case runs.
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
    # Why a finished call's facts (with the case's params) make it a failure (e.g. a NaN loss); None when fine.
    check: Callable[[Mapping[str, Any]], str | None] = lambda facts: None
    # Opt-in workloads (sustained) make cases only in a profile that names them (--profile sustained).
    opt_in: bool = False
    # Timed seconds a case runs for (rounds until then), when the workload fixes a duration instead of rounds.
    duration: Callable[[Params], float] | None = None
    # Multi-device workloads: cases made from the device and its peers (used instead of params_for).
    group_params_for: GroupParamsFor | None = None
    # Facts drawn from the timed rounds' times in seconds (e.g. latency percentiles), added to the case's record.
    round_facts: Callable[[Params, list[float]], dict[str, Any]] = lambda params, times: {}
    # Short calls may be timed in rounds of K back-to-back calls with one sync (bench.batching); latency workloads
    # (per-request p50/p99) and per-round checks keep one call a round.
    batched: bool = False
    # "cold": may run with the device's cache flushed before every call (--cache cold); hot is every case's default
    cache_modes: tuple[str, ...] = ("hot",)
    # Keep rounds under a power or thermal clock event in the headline (a sustained case measures exactly those).
    keep_throttled_rounds: bool = False
    # The workload's own sizes per profile name (any type its params_for reads through sizes_for).
    sizes: Mapping[str, Any] = field(default_factory=dict)
    # Backend name -> "module:function" of its builder, where the module convention does not hold.
    builders: Mapping[str, str] = field(default_factory=dict)
    # The case as people read it in reports ('n=1024 float32'), written with every case; None: the label.
    text: Callable[[Params], str] | None = None

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

    def sizes_for(self, profile: Profile) -> Any:
        """This workload's sizes under `profile`: the profile's override, else its own (SizesError: none)."""
        if self.name in profile.sizes:
            return profile.sizes[self.name]
        try:
            return self.sizes[profile.name]
        except KeyError:
            known = ", ".join(self.sizes) or "none"
            raise SizesError(
                f"workload {self.name} has no sizes for profile {profile.name} (it has: {known})"
            ) from None

    def case_text(self, params: Params) -> str:
        """The case as people read it: `text`, or the pytest label where the workload declares none."""
        return self.text(params) if self.text is not None else self.label(params)

    def builder_path(self, backend: str, prefix: str) -> tuple[str, tuple[str, ...]]:
        """(module, candidate function names) of this workload's builder for `backend` (module prefix `tf`)."""
        declared = self.builders.get(backend)
        if declared:
            module, _, function = declared.partition(":")
            return module, (function or "build",)
        return f"bench.backends.{prefix}_{self.name}", ("build", f"build_{self.name}")

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
    # A multi-device case's device set: every selected device of its backend and kind, in selection order
    # (its own device first: a case runs on peers[:replicas]); empty for single-device workloads.
    peers: tuple[Device, ...] = field(default=(), hash=False)

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
    if not profile.runs(workload.name, workload.opt_in):
        return cases
    devices = list(devices)
    for device in devices:
        if device.backend not in workload.backends:
            continue
        if workload.group_params_for is None:
            made, peers = workload.params_for(profile, device), ()
        else:
            peers = tuple(d for d in devices if (d.backend, d.kind) == (device.backend, device.kind))
            made = workload.group_params_for(profile, device, peers)
        for params, reason in made:
            cases.append(Case(workload, device, params, reason, peers))
    return cases
