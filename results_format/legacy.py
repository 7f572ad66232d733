"""Schema 2 files, read as schema 3: the frozen v2 workload specs and the migration that fills them in.

Schema 2 files carry only each workload's version (`devicebench.workloads: {name: version}`); schema 3 files
describe their workloads. A v2 file is read by writing in the spec each workload had when schema 2 was current
(this table, frozen: never edit it for a new workload or a new version), and each case's display label as
reports made it then. New workloads exist only in schema 3 files and need no entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from results_format.text import fmt_bytes
from results_format.workloads import WorkloadSpec

V2_SPECS: dict[str, WorkloadSpec] = {
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


#: how reports labelled a v2 case from its parameters ('n=1024 float32', 'h2d pinned 1 MiB')
_V2_LABELS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "matmul": lambda p: f"n={int(p['n'])} {p['dtype']}",
    "mnist": lambda p: f"{p['mode']} b{int(p['batch_size'])}",
    "transfer": lambda p: _transfer_label(p),
    "membw": lambda p: f"{p['kernel']} {fmt_bytes(float(p['bytes']))}",
    "sustained": lambda p: f"n={int(p['n'])} {p['dtype']} {float(p['seconds']):g} s",
    "inference": lambda p: f"{p['model']} {p['mode']} b{int(p['batch_size'])}",
    "dispatch": lambda p: f"polynomial fit {p['mode']}",
    "mnist_amp": lambda p: f"{p['mode']} {p['precision']} b{int(p['batch_size'])}",
    "resnet50_train": lambda p: f"{p['precision']} {int(p['image_size'])}px b{int(p['batch_size'])}",
    "mnist_batch": lambda p: f"{p['mode']} b{int(p['batch_size'])}",
    "tfdata": lambda p: f"{p['variant']} b{int(p['batch_size'])}",
    "checkpoint": lambda p: f"{p['format']} {p['direction']} {p['model']}",
    "scaling": lambda p: _scaling_label(p),
    "allreduce": lambda p: f"{fmt_bytes(float(p['bytes']))} r{int(p['replicas'])}",
}


def _transfer_label(p: Mapping[str, Any]) -> str:
    """'h2d pinned 1 MiB'; files from before host_memory existed have no memory in the label."""
    memory = f" {p['host_memory']}" if isinstance(p.get("host_memory"), str) else ""
    return f"{p['direction']}{memory} {fmt_bytes(float(p['bytes']))}"


def _scaling_label(p: Mapping[str, Any]) -> str:
    """'resnet50 64px r2 b256'; the MNIST model has no image size in its label."""
    size = f" {int(p['image_size'])}px" if p["model"] != "mnist" else ""
    return f"{p['model']}{size} r{int(p['replicas'])} b{int(p['global_batch'])}"


def v2_case_label(workload: str, params: Mapping[str, Any]) -> str:
    """A v2 case's display label as reports made it ('' for a workload that had none, or missing parameters)."""
    make = _V2_LABELS.get(workload)
    try:
        return make(params) if make else ""
    except (KeyError, TypeError, ValueError):
        return ""


def migrate_v2(data: dict[str, Any]) -> str | None:
    """Turn a parsed v2 file into v3 in place: its workloads' specs and each case's label (a problem, or None)."""
    block = data["devicebench"]
    versions = block.get("workloads") if isinstance(block.get("workloads"), dict) else {}
    named: dict[str, object] = dict(versions)
    for bench in data.get("benchmarks") or []:
        info = bench.get("extra_info") if isinstance(bench, dict) else None
        if isinstance(info, dict) and isinstance(info.get("workload"), str):
            named.setdefault(info["workload"], info.get("workload_version"))
            if isinstance(info.get("params"), dict) and "case_label" not in info:
                info["case_label"] = v2_case_label(info["workload"], info["params"])
    for skip in block.get("skipped") or []:
        if isinstance(skip, dict) and isinstance(skip.get("workload"), str):
            named.setdefault(skip["workload"], None)
    specs: dict[str, Any] = {}
    for name, version in named.items():
        spec = V2_SPECS.get(name)
        if spec is None:
            return f"unknown workload {name!r} (schema 2 knew: {', '.join(V2_SPECS)})"
        dumped = spec.model_dump(mode="json")
        if isinstance(version, int) and not isinstance(version, bool):
            dumped["version"] = version
        specs[name] = dumped
    block["workloads"] = specs
    block["schema_version"] = 3
    return None
