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
            name="peaks",
            version=1,
            title="matmul peak search",
            params=("dtype", "seconds"),  # seconds: the search's time budget
            keys=("dtype",),
            work_unit="FLOP",  # of one call of the best shape found (2 M N K)
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
            # 2: zero-copy views are latency cases, not bandwidth; 3: host_memory (pageable or pinned) and `both`
            version=3,
            title="host-device copies",
            params=("direction", "bytes", "host_memory"),
            keys=("direction", "host_memory", "bytes"),
            work_unit="bytes",
            throughput_unit="GB/s",
            labels={
                "h2d": "host to device",
                "d2h": "device to host",
                # d2h-view reads the tensor through a view: zero-copy for CPU tensors, a copy from GPU memory
                "d2h-view": "device to host through a view",
                "both": "both directions at once",
                "pageable": "pageable host memory",
                "pinned": "pinned host memory",
            },
        ),
        WorkloadSpec(
            name="membw",
            version=2,  # 2: TensorFlow writes into preallocated buffers (1 timed a new buffer per call)
            title="memory bandwidth",
            params=("kernel", "bytes", "dtype"),  # bytes: the size of each array
            keys=("kernel", "bytes"),
            work_unit="bytes",  # read + written per call, as STREAM counts them
            throughput_unit="GB/s",
            labels={"copy": "copy (b = a)", "triad": "triad (a = b + s*c)"},
        ),
        WorkloadSpec(
            name="sustained",
            version=1,
            title="sustained matmul",
            params=("n", "dtype", "seconds"),
            keys=("n", "dtype", "seconds"),
            work_unit="FLOP",
            throughput_unit="GFLOP/s",
        ),
        WorkloadSpec(
            name="scaling",
            version=1,
            title="data-parallel training across devices",
            params=("model", "image_size", "replicas", "global_batch", "per_replica_batch", "steps_per_call", "calls"),
            keys=("model", "image_size", "replicas", "global_batch"),
            work_unit="samples",
            throughput_unit="samples/s",
            labels={"mnist": "the book's MNIST model", "resnet50": "ResNet-50"},
        ),
        WorkloadSpec(
            name="allreduce",
            version=1,
            title="all-reduce bandwidth",
            params=("bytes", "replicas", "collectives_per_call", "calls"),
            keys=("replicas", "bytes"),
            work_unit="bytes",
            throughput_unit="GB/s",  # the algorithm bandwidth, nccl-tests' algbw
        ),
        WorkloadSpec(
            name="inference",
            version=1,
            title="inference",
            params=("model", "image_size", "mode", "batch_size"),
            keys=("model", "image_size", "mode", "batch_size"),
            work_unit="samples",
            throughput_unit="samples/s",
            labels={
                "book": "book model",
                "resnet50": "ResNet-50",
                "function": "tf.function",
                "xla": "XLA",
                "compile": "torch.compile",
            },
        ),
        WorkloadSpec(
            name="checkpoint",
            version=1,
            title="checkpoint save and restore",
            params=("format", "direction", "model"),
            keys=("format", "direction", "model"),
            work_unit="bytes",
            throughput_unit="MB/s",
            labels={
                "tf-checkpoint": "tf.train.Checkpoint",
                "keras": "Keras .keras",
                "torch-state-dict": "torch state_dict",
                "book": "book model",
                "resnet50": "ResNet-50",
            },
        ),
        WorkloadSpec(
            name="dispatch",
            version=1,
            title="eager dispatch overhead (polynomial fit)",
            params=("mode", "points", "degree", "steps_per_call"),
            keys=("mode",),
            work_unit="steps",
            throughput_unit="steps/s",
            labels={"function": "tf.function per step", "function-loop": "a tf.function loop"},
        ),
        WorkloadSpec(
            name="mnist_amp",
            version=1,
            title="MNIST mixed-precision training",
            params=("mode", "precision", "batch_size", "steps_per_call", "calls"),
            keys=("mode", "precision", "batch_size"),
            work_unit="samples",
            throughput_unit="samples/s",
            labels={"mixed_float16": "mixed float16 (loss-scaled)", "mixed_bfloat16": "mixed bfloat16"},
        ),
        WorkloadSpec(
            name="resnet50_train",
            version=1,
            title="ResNet-50 training",
            params=("precision", "image_size", "batch_size", "steps_per_call", "calls"),
            keys=("precision", "image_size", "batch_size"),
            work_unit="images",
            throughput_unit="images/s",
            labels={"mixed_float16": "mixed float16 (loss-scaled)", "mixed_bfloat16": "mixed bfloat16"},
        ),
        WorkloadSpec(
            name="mnist_batch",
            version=1,
            title="MNIST training: batch-size sweep",
            params=("mode", "batch_size", "steps_per_call", "calls"),
            keys=("mode", "batch_size"),
            work_unit="samples",
            throughput_unit="samples/s",
        ),
    )
}


def workload_spec(name: str) -> WorkloadSpec:
    """The spec of workload `name`; KeyError naming the known workloads otherwise."""
    try:
        return WORKLOAD_SPECS[name]
    except KeyError:
        raise KeyError(f"unknown workload {name!r}; workloads: {', '.join(WORKLOAD_SPECS)}") from None
