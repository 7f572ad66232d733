"""Square matrix multiply across sizes: the book's CPU-vs-GPU demo, and FP8 where the GPU has FP8 tensor cores."""

from __future__ import annotations

from bench.cases import Params, Workload
from bench.devices import Device
from bench.profiles import Profile
from results_format.workloads import WORKLOAD_SPECS

FP8 = "float8_e4m3fn"
#: the first compute capability with FP8 tensor cores (Ada Lovelace 8.9, Hopper 9.0 and later)
FP8_MIN_CC = (8, 9)
#: torch._scaled_mm (cuBLASLt) wants every dimension a multiple of 16
FP8_MULTIPLE = 16
TF_NO_FP8 = (
    "TensorFlow has no public FP8 matmul: tf.linalg.matmul takes no float8 inputs, and FP8 GEMMs are reached only "
    "through XLA's rewrites of internal ops, not an API a benchmark can call"
)


def fp8_unsupported(device: Device) -> str | None:
    """Why an FP8 matmul cannot run on `device` (None: it can): a CPU, TensorFlow, or a GPU older than SM 8.9."""
    if device.backend == "tensorflow":
        return TF_NO_FP8
    if device.kind != "gpu":
        return f"FP8 matmul needs a GPU with FP8 tensor cores (compute capability 8.9 or newer); {device.name} is a CPU"
    cc = _capability(device.compute_capability)
    if cc is None:
        return f"FP8 matmul needs compute capability 8.9 or newer; {device.name} did not report its capability"
    if cc < FP8_MIN_CC:
        return (
            f"FP8 matmul needs compute capability 8.9 or newer (Ada, Hopper and later); {device.name} "
            f"({device.model}) is {cc[0]}.{cc[1]}"
        )
    return None


def _capability(text: str | None) -> tuple[int, int] | None:
    """'9.0' -> (9, 0); None for a missing or malformed value."""
    try:
        major, minor = (int(part) for part in str(text).split(".")[:2])
    except ValueError:
        return None
    return major, minor


def matmul_params(profile: Profile, device: Device) -> list[tuple[Params, str | None]]:
    """float32 at every profile size on every device, the low-precision dtypes on GPUs, FP8 where it can run.

    FP8 runs at every size that is a multiple of 16 on a GPU with FP8 tensor cores; elsewhere one FP8 case at the
    largest size stands for them all, and its builder records why it cannot run (a skip of kind "unsupported").
    """
    out: list[tuple[Params, str | None]] = []
    for n in profile.matmul_sizes:
        reason = None
        if device.kind == "cpu" and n > profile.matmul_cpu_max:
            reason = f"profile {profile.name}: n={n} is above its CPU limit n={profile.matmul_cpu_max}"
        out.append(({"n": n, "dtype": "float32"}, reason))
    if device.kind == "gpu":
        out.extend(
            ({"n": n, "dtype": dtype}, None) for dtype in profile.gpu_low_precision for n in profile.matmul_sizes
        )
    if profile.matmul_fp8:
        sizes = [n for n in profile.matmul_sizes if n % FP8_MULTIPLE == 0]
        if device.kind == "cpu":
            sizes = [n for n in sizes if n <= profile.matmul_cpu_max]
        if sizes and fp8_unsupported(device) is not None:
            sizes = sizes[-1:]
        out.extend(({"n": n, "dtype": FP8}, None) for n in sizes)
    return out


def matmul_flops(params: Params) -> float:
    """FLOPs of one n x n by n x n multiply: 2 n^3."""
    n = int(params["n"])
    return 2.0 * n**3


MATMUL = Workload(
    spec=WORKLOAD_SPECS["matmul"],
    throughput_scale=1e9,
    backends=("tensorflow", "torch"),
    params_for=matmul_params,
    work_per_call=matmul_flops,
    label=lambda p: f"n{p['n']}-{p['dtype']}",
    batched=True,
    cache_modes=("hot", "cold"),
)
