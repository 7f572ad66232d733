"""Host-device copies (the book's numpy-interop note): a host array onto the device and back, in GB/s.

`host_memory` says what the host side is: `pageable` (ordinary memory; the CUDA driver stages the copy through
its own pinned buffer) or `pinned` (page-locked, copied by DMA directly; torch's `pin_memory`). TensorFlow 2 has
no public way to pin a tensor's host memory, so its copies are pageable only. `both` copies the same number of
bytes each way at once on two CUDA streams (torch, pinned): its GB/s counts both directions.
"""

from __future__ import annotations

from bench.cases import Params, Workload
from bench.devices import Device
from bench.profiles import Profile
from results_format.text import fmt_bytes
from results_format.workloads import Fact, WorkloadSpec

DIRECTIONS = ("h2d", "d2h")
# TensorFlow's `.numpy()` always copies; a memoryview of a CPU tensor does not: time both ways back.
TF_DIRECTIONS = (*DIRECTIONS, "d2h-view")
# torch on a GPU: pageable and pinned each way, and both directions at once from pinned memory.
TORCH_GPU_CASES = (("h2d", "pageable"), ("d2h", "pageable"), ("h2d", "pinned"), ("d2h", "pinned"), ("both", "pinned"))
CPU_ONLY_HOST = "CPU:0 has no host-device link: pinned and both-directions copies are GPU-only"
# What TensorFlow's copies do, recorded as `copy` with each of its cases (bench/backends/tf_transfer.py; the source:
# tensorflow/core/common_runtime/eager/tensor_handle.cc CopyToDevice, gpu/gpu_util.cc). Here, free of TensorFlow.
TF_COPY_NOTE = (
    "pageable host memory: tf.constant(ndarray) copies the array into a host tensor in ordinary memory (it does not "
    "share the numpy buffer: the CPU case measures that), and moving it to the GPU is a memcpy from that pageable "
    "buffer, which the CUDA driver stages through its own pinned buffer; .numpy() copies into a host tensor from "
    "TensorFlow's default CPU allocator, pageable too. TensorFlow 2 has no public API to pin a tensor's host memory."
)


#: the copy sizes in MiB (one way) per profile
SIZES_MIB: dict[str, tuple[float, ...]] = {"smoke": (1, 16), "standard": (1, 16, 128), "full": (1, 16, 128, 512)}


def transfer_params(profile: Profile, device: Device) -> list[tuple[Params, str | None]]:
    """Every direction and host memory at every profile size; on the CPU, torch's GPU-only ones are skipped."""
    tf = device.backend == "tensorflow"
    cases = [(d, "pageable") for d in TF_DIRECTIONS] if tf else list(TORCH_GPU_CASES)
    out: list[tuple[Params, str | None]] = []
    for direction, memory in cases:
        reason = CPU_ONLY_HOST if device.kind == "cpu" and (memory == "pinned" or direction == "both") else None
        for mib in TRANSFER.sizes_for(profile):
            out.append(({"direction": direction, "bytes": int(mib * 2**20), "host_memory": memory}, reason))
    return out


def bytes_moved(params: Params) -> float:
    """Bytes one call moves: `bytes` one way, twice that for `both`."""
    return float(params["bytes"]) * (2 if params["direction"] == "both" else 1)


SPEC = WorkloadSpec(
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
    facts=(
        Fact(name="zero_copy", description="the result shared the source's memory (a latency case)", hint="text"),
        Fact(name="pinned", description="the host buffer was page-locked", hint="text"),
        Fact(name="copy", description="what the copy did", hint="text"),
    ),
)


TRANSFER = WORKLOAD = Workload(
    spec=SPEC,
    throughput_scale=1e9,
    backends=("tensorflow", "torch"),
    params_for=transfer_params,
    work_per_call=bytes_moved,
    label=lambda p: f"{p['direction']}-{p['host_memory']}-{int(p['bytes']) // 2**20}MiB",
    text=lambda p: f"{p['direction']} {p['host_memory']} {fmt_bytes(float(p['bytes']))}",
    sizes=SIZES_MIB,
)
