"""MNIST training throughput vs batch size per device: where does a bigger batch stop paying?

float32, the compiled step (TF `tf.function`) or plain eager torch; data and batch indices on the device.
Each call trains about the same number of samples whatever its batch, so small and large batches take
comparable time per call. A batch that does not fit is an out-of-memory skip and the sweep goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from bench.cases import Params, Workload
from bench.devices import Device
from bench.profiles import Profile
from bench.workloads.mnist import TRAIN_SAMPLES, finite_loss
from bench.workloads.mnist_amp import samples_per_call
from results_format.workloads import WorkloadSpec

MODES = {"tensorflow": "function", "torch": "eager"}


@dataclass(frozen=True)
class SweepSizes:
    """A profile's batch-size sweep: the batches per device kind, the samples each call trains, the calls."""

    batches_cpu: tuple[int, ...]
    batches_gpu: tuple[int, ...]
    samples_per_call: int  # each call trains about this many samples, whatever its batch
    calls: int


SIZES = {
    "smoke": SweepSizes((64, 512, 4096), (64, 1024, 16384), 2048, 6),
    "standard": SweepSizes((32, 128, 512, 2048, 8192), (16, 64, 256, 1024, 4096, 16384), 4096, 6),
    "full": SweepSizes((16, 64, 256, 1024, 4096, 16384), (16, 64, 256, 1024, 4096, 16384, 32768), 16384, 11),
}


def sweep_params(profile: Profile, device: Device) -> list[tuple[Params, str | None]]:
    """One case per batch size of the profile's list for the device's kind."""
    size: SweepSizes = MNIST_BATCH.sizes_for(profile)
    batches = size.batches_gpu if device.kind == "gpu" else size.batches_cpu
    out: list[tuple[Params, str | None]] = []
    for batch in batches:
        reason = None if batch <= TRAIN_SAMPLES else f"batch {batch} is larger than MNIST's {TRAIN_SAMPLES} samples"
        steps = max(1, ceil(size.samples_per_call / batch))
        params = {"mode": MODES[device.backend], "batch_size": batch, "steps_per_call": steps}
        params["calls"] = size.calls
        out.append((params, reason))
    return out


SPEC = WorkloadSpec(
    name="mnist_batch",
    version=1,
    title="MNIST training: batch-size sweep",
    params=("mode", "batch_size", "steps_per_call", "calls"),
    keys=("mode", "batch_size"),
    work_unit="samples",
    throughput_unit="samples/s",
)


MNIST_BATCH = WORKLOAD = Workload(
    spec=SPEC,
    throughput_scale=1.0,
    backends=("tensorflow", "torch"),
    params_for=sweep_params,
    work_per_call=samples_per_call,
    label=lambda p: f"{p['mode']}-b{p['batch_size']}-s{p['steps_per_call']}",
    schedule=lambda profile, p: (1, int(p["calls"]) - 1),
    check=finite_loss,
    builders={
        "tensorflow": "bench.backends.tf_amp:build_mnist_train",
        "torch": "bench.backends.torch_amp:build_mnist_train",
    },
    text=lambda p: f"{p['mode']} b{int(p['batch_size'])}",
    sizes=SIZES,
)
