"""Square matrix multiply across sizes: the book's CPU-vs-GPU demo, and FP8 where the GPU has FP8 tensor cores."""

from __future__ import annotations

from dataclasses import dataclass

from bench.cases import Params, Workload
from bench.devices import Device
from bench.profiles import Profile
from bench.workloads.precision import compute_capability
from results_format.workloads import WorkloadSpec

FP8 = "float8_e4m3fn"
#: the first compute capability with FP8 tensor cores (Ada Lovelace 8.9, Hopper 9.0 and later)
FP8_MIN_CC = (8, 9)
#: torch._scaled_mm (cuBLASLt) wants every dimension a multiple of 16
FP8_MULTIPLE = 16
TF_NO_FP8 = (
    "TensorFlow has no public FP8 matmul: tf.linalg.matmul takes no float8 inputs, and FP8 GEMMs are reached only "
    "through XLA's rewrites of internal ops, not an API a benchmark can call"
)


@dataclass(frozen=True)
class MatmulSizes:
    """A profile's matmul cases: the sizes n, the largest n a CPU runs, the GPUs' extra dtypes, and FP8 or not."""

    sizes: tuple[int, ...]
    cpu_max: int  # larger sizes are skipped on CPUs, with that reason
    gpu_low_precision: tuple[str, ...] = ("float16", "bfloat16")
    fp8: bool = True  # FP8 matmuls (torch._scaled_mm) where the GPU has FP8 tensor cores; a skip elsewhere


SIZES = {
    "smoke": MatmulSizes(sizes=(128, 512, 1024, 2048), cpu_max=1024),
    "standard": MatmulSizes(sizes=(128, 256, 512, 1024, 2048, 4096), cpu_max=4096),
    "full": MatmulSizes(sizes=(100, 128, 256, 512, 1024, 2048, 4096, 8192, 10000, 16384), cpu_max=10000),
}


def fp8_unsupported(device: Device) -> str | None:
    """Why an FP8 matmul cannot run on `device` (None: it can): a CPU, TensorFlow, or a GPU older than SM 8.9."""
    if device.backend == "tensorflow":
        return TF_NO_FP8
    if device.kind != "gpu":
        return f"FP8 matmul needs a GPU with FP8 tensor cores (compute capability 8.9 or newer); {device.name} is a CPU"
    cc = compute_capability(device.compute_capability)
    if cc is None:
        return f"FP8 matmul needs compute capability 8.9 or newer; {device.name} did not report its capability"
    if cc < FP8_MIN_CC:
        return (
            f"FP8 matmul needs compute capability 8.9 or newer (Ada, Hopper and later); {device.name} "
            f"({device.model}) is {cc[0]}.{cc[1]}"
        )
    return None


def matmul_params(profile: Profile, device: Device) -> list[tuple[Params, str | None]]:
    """float32 at every profile size on every device, the low-precision dtypes on GPUs, FP8 where it can run.

    FP8 runs at every size that is a multiple of 16 on a GPU with FP8 tensor cores; elsewhere one FP8 case at the
    largest size stands for them all, and its builder records why it cannot run (a skip of kind "unsupported").
    """
    size: MatmulSizes = MATMUL.sizes_for(profile)
    out: list[tuple[Params, str | None]] = []
    for n in size.sizes:
        reason = None
        if device.kind == "cpu" and n > size.cpu_max:
            reason = f"profile {profile.name}: n={n} is above its CPU limit n={size.cpu_max}"
        out.append(({"n": n, "dtype": "float32"}, reason))
    if device.kind == "gpu":
        out.extend(({"n": n, "dtype": dtype}, None) for dtype in size.gpu_low_precision for n in size.sizes)
    if size.fp8:
        sizes = [n for n in size.sizes if n % FP8_MULTIPLE == 0]
        if device.kind == "cpu":
            sizes = [n for n in sizes if n <= size.cpu_max]
        if sizes and fp8_unsupported(device) is not None:
            sizes = sizes[-1:]
        out.extend(({"n": n, "dtype": FP8}, None) for n in sizes)
    return out


def matmul_flops(params: Params) -> float:
    """FLOPs of one n x n by n x n multiply: 2 n^3."""
    n = int(params["n"])
    return 2.0 * n**3


SPEC = WorkloadSpec(
    name="matmul",
    version=1,
    title="matmul",
    params=("n", "dtype"),
    keys=("n", "dtype"),
    work_unit="FLOP",
    throughput_unit="GFLOP/s",
    facts=(),  # matmul records no facts of its own: dtype and TF32 are in every case's precision record
)


MATMUL = WORKLOAD = Workload(
    spec=SPEC,
    throughput_scale=1e9,
    backends=("tensorflow", "torch"),
    params_for=matmul_params,
    work_per_call=matmul_flops,
    label=lambda p: f"n{p['n']}-{p['dtype']}",
    text=lambda p: f"n={int(p['n'])} {p['dtype']}",
    sizes=SIZES,
    batched=True,
    cache_modes=("hot", "cold"),
)
