"""Host-device copies (the book's numpy-interop note): a host array onto the device and back, in GB/s."""

from __future__ import annotations

from bench.cases import Params, Workload
from bench.devices import Device
from bench.profiles import Profile
from results_format.workloads import WORKLOAD_SPECS

DIRECTIONS = ("h2d", "d2h")
# TensorFlow's `.numpy()` always copies; a memoryview of a CPU tensor does not: time both ways back.
TF_DIRECTIONS = (*DIRECTIONS, "d2h-view")


def transfer_params(profile: Profile, device: Device) -> list[tuple[Params, str | None]]:
    """Every direction at every profile size, on every device (the CPU shows the zero-copy path)."""
    directions = TF_DIRECTIONS if device.backend == "tensorflow" else DIRECTIONS
    return [
        ({"direction": d, "bytes": int(mib * 2**20)}, None) for d in directions for mib in profile.transfer_sizes_mib
    ]


TRANSFER = Workload(
    spec=WORKLOAD_SPECS["transfer"],
    throughput_scale=1e9,
    backends=("tensorflow", "torch"),
    params_for=transfer_params,
    work_per_call=lambda p: float(p["bytes"]),
    label=lambda p: f"{p['direction']}-{int(p['bytes']) // 2**20}MiB",
)
