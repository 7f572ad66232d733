"""What each workload is, as far as the results format is concerned: its keys, title, labels and version.

The measuring side (bench.workloads) attaches behaviour to these specs; the reading side (reports) takes
titles, table keys and labels from them. A workload's `version` goes up whenever what it measures changes
(its code, data or parameters): cases of different versions are never compared, as asv does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class WorkloadSpec:
    """One workload's place in the results format."""

    name: str
    version: int
    title: str  # for headings: "MNIST training"
    params: tuple[str, ...]  # the parameters every case carries, in display order
    keys: tuple[str, ...]  # the parameters that tell two cases of one device apart in tables and comparisons
    work_unit: str  # FLOP, samples, elements, bytes
    throughput_unit: str  # GFLOP/s, samples/s, elements/s, GB/s
    labels: Mapping[str, str] = field(default_factory=dict)  # display names of parameter values

    def label(self, value: object) -> str:
        """A parameter value as shown to people: 'h2d' -> 'host to device'; unknown values as they are."""
        return self.labels.get(str(value), str(value))


WORKLOAD_SPECS: dict[str, WorkloadSpec] = {
    spec.name: spec
    for spec in (
        WorkloadSpec(
            name="matmul",
            version=1,
            title="matmul",
            params=("n", "dtype"),
            keys=("n", "dtype"),
            work_unit="FLOP",
            throughput_unit="GFLOP/s",
        ),
        WorkloadSpec(
            name="mnist",
            version=1,
            title="MNIST training",
            params=("mode", "batch_size", "steps_per_call", "calls"),
            keys=("mode", "batch_size"),
            work_unit="samples",
            throughput_unit="samples/s",
        ),
        WorkloadSpec(
            name="tfdata",
            version=1,
            title="tf.data input pipelines",
            params=("variant", "elements", "batch_size"),
            keys=("variant",),
            work_unit="elements",
            throughput_unit="elements/s",
        ),
        WorkloadSpec(
            name="transfer",
            version=2,  # 2: zero-copy views are latency cases, not bandwidth
            title="host-device copies",
            params=("direction", "bytes"),
            keys=("direction", "bytes"),
            work_unit="bytes",
            throughput_unit="GB/s",
            # d2h-view reads the tensor through a view: zero-copy for CPU tensors, a copy from GPU memory
            labels={"h2d": "host to device", "d2h": "device to host", "d2h-view": "device to host through a view"},
        ),
    )
}


def workload_spec(name: str) -> WorkloadSpec:
    """The spec of workload `name`; KeyError naming the known workloads otherwise."""
    try:
        return WORKLOAD_SPECS[name]
    except KeyError:
        raise KeyError(f"unknown workload {name!r}; workloads: {', '.join(WORKLOAD_SPECS)}") from None
