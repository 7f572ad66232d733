"""Square matrix multiply across sizes: the book's CPU-vs-GPU demo."""

from __future__ import annotations

from bench.cases import Params, Workload
from bench.devices import Device
from bench.profiles import Profile
from results_format.workloads import WORKLOAD_SPECS


def matmul_params(profile: Profile, device: Device) -> list[tuple[Params, str | None]]:
    """float32 at every profile size on every device, plus the low-precision dtypes on GPUs."""
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
