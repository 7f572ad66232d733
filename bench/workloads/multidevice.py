"""What the multi-device workloads (scaling, allreduce) share: which devices a case spans, and how it says so.

A case of this suite has one device (bench.cases.Case). A multi-device case runs on several and is recorded
against the first of them, with the whole set in its record (`replica_devices`, `device_set`,
`device_set_kind`, `cpu_logical_devices`):

- on GPUs, the first `replicas` of the selected GPUs of one backend, in selection order; the first selected GPU
  carries every case of the set, the other GPUs none (they take part in its cases). One selected GPU makes a
  recorded skip: there is nothing to scale across.
- on the CPU, which has no second device, TensorFlow splits the CPU into CPU_REPLICAS logical devices
  (`tf.config.set_logical_device_configuration`) and torch runs CPU_REPLICAS processes talking over gloo.
  Both share the one CPU's cores and memory, so they show that the collectives and data-parallel training work
  and what their overheads are, not how a second device would scale; every record says which it was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.cases import Params
from bench.devices import Device

#: replicas on a CPU: TensorFlow logical devices, or torch processes (CI runs these for real)
CPU_REPLICAS = 2

GPUS = "gpus"
CPU_LOGICAL = "cpu-logical-devices"
CPU_PROCESSES = "cpu-processes"


def replica_counts(available: int, start: int = 1) -> list[int]:
    """`start`, then doubling while below `available`, then `available` itself: 1, 2, 4, 6 for six devices."""
    counts: list[int] = []
    count = start
    while count < available:
        counts.append(count)
        count *= 2
    if available >= start:
        counts.append(available)
    return counts


@dataclass(frozen=True)
class DeviceSet:
    """The devices one multi-device case runs on, one per replica, and how to describe them."""

    kind: str  # GPUS, CPU_LOGICAL or CPU_PROCESSES
    devices: tuple[str, ...]  # suite names, one per replica (a CPU's processes all name CPU:0)

    @property
    def replicas(self) -> int:
        """How many replicas take part."""
        return len(self.devices)

    @property
    def text(self) -> str:
        """A description for people: 'GPU:0,GPU:1', or what a CPU set really is."""
        names, many = ",".join(self.devices), self.replicas > 1
        if self.kind == CPU_LOGICAL:
            return f"{names}: TensorFlow logical device{'s' if many else ''} of one CPU, sharing its cores"
        if self.kind == CPU_PROCESSES:
            return f"{self.replicas} process{'es' if many else ''} on {self.devices[0]} (gloo), sharing its cores"
        return names

    def facts(self) -> dict[str, Any]:
        """The record's keys saying which devices took part, and whether they were a CPU's logical devices."""
        return {
            "replica_devices": ",".join(self.devices),
            "device_set": self.text,
            "device_set_kind": self.kind,
            "cpu_logical_devices": self.kind == CPU_LOGICAL,
        }


def device_set(backend: str, device: Device, peers: Sequence[Device], replicas: int) -> DeviceSet:
    """The devices a case of `replicas` replicas led by `device` runs on (see the module's docstring)."""
    if device.kind == "gpu":
        chosen = tuple(d.name for d in peers[:replicas])
        if len(chosen) < replicas:
            raise ValueError(f"{replicas} replicas need {replicas} GPUs; selected: {', '.join(d.name for d in peers)}")
        return DeviceSet(GPUS, chosen)
    if backend == "tensorflow":
        return DeviceSet(CPU_LOGICAL, tuple(f"CPU:{i}" for i in range(replicas)))
    return DeviceSet(CPU_PROCESSES, (device.name,) * replicas)


def group_cases(
    device: Device,
    peers: Sequence[Device],
    replica_options: Callable[[int], list[int]],
    make: Callable[[int], list[tuple[Params, str | None]]],
    skipped: Callable[[str], list[tuple[Params, str | None]]],
) -> list[tuple[Params, str | None]]:
    """A multi-device workload's cases for `device`: `make(replicas)` for each replica count it leads.

    `replica_options(n)` lists the replica counts for n available devices; `skipped(reason)` makes the
    recorded skip where there is only one GPU.
    """
    if device.kind == "gpu":
        if not peers or device != peers[0]:
            return []  # it takes part in the first selected GPU's cases
        if len(peers) < 2:
            return skipped(f"needs at least 2 GPUs of one backend; only {device.name} is selected")
        counts = replica_options(len(peers))
    else:
        counts = replica_options(CPU_REPLICAS)
    return [case for replicas in counts for case in make(replicas)]
