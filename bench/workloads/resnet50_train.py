"""ResNet-50 training images/s (the tf_cnn_benchmarks / MLPerf figure), float32 and mixed precision, per batch size.

Synthetic ImageNet-shaped data (1000 classes) is made on the device, one fixed batch per case reused every
step, so nothing is downloaded and no input pipeline is timed. SGD with momentum. The batch list per device
is also the ResNet-50 batch-size sweep: a batch that does not fit is an out-of-memory skip and the sweep goes on.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.cases import Params, Workload
from bench.devices import Device
from bench.profiles import Profile
from bench.workloads.mnist import mnist_check
from bench.workloads.precision import cpu_flags, precisions_for
from results_format.workloads import Fact, WorkloadSpec

CLASSES = 1000
LEARNING_RATE = 0.01
MOMENTUM = 0.9


@dataclass(frozen=True)
class ResnetSizes:
    """A profile's ResNet-50 training: image size, batches and steps per device kind, calls, mixed on CPUs."""

    image_size_cpu: int
    batches_cpu: tuple[int, ...]
    image_size_gpu: int
    batches_gpu: tuple[int, ...]  # the batch-size sweep; an out-of-memory batch is a recorded skip
    steps_cpu: int  # steps per timed call
    steps_gpu: int
    calls: int
    cpu_mixed: bool  # also time mixed precision on CPUs that have bf16 (a second graph costs ~10-30 s there)


SIZES = {
    "smoke": ResnetSizes(32, (4, 16), 32, (32, 256), 1, 5, 6, cpu_mixed=False),
    "standard": ResnetSizes(64, (8, 16, 32), 224, (32, 64, 128), 1, 5, 6, cpu_mixed=True),
    "full": ResnetSizes(224, (16, 32, 64), 224, (16, 32, 64, 128, 256, 512, 1024), 2, 10, 7, cpu_mixed=True),
}


def resnet_params(profile: Profile, device: Device) -> list[tuple[Params, str | None]]:
    """Each precision x batch at the profile's image size for the device's kind."""
    knobs: ResnetSizes = RESNET50_TRAIN.sizes_for(profile)
    gpu = device.kind == "gpu"
    size = knobs.image_size_gpu if gpu else knobs.image_size_cpu
    batches = knobs.batches_gpu if gpu else knobs.batches_cpu
    steps = knobs.steps_gpu if gpu else knobs.steps_cpu
    out: list[tuple[Params, str | None]] = []
    for precision, reason in precisions_for(device, cpu_flags(), cpu_mixed=knobs.cpu_mixed):
        for batch in batches:
            params = {
                "precision": precision,
                "image_size": size,
                "batch_size": batch,
                "steps_per_call": steps,
                "calls": knobs.calls,
            }
            out.append((params, reason))
    return out


def images_per_call(params: Params) -> float:
    """Images one call trains on."""
    return float(params["steps_per_call"]) * float(params["batch_size"])


SPEC = WorkloadSpec(
    name="resnet50_train",
    version=1,
    title="ResNet-50 training",
    params=("precision", "image_size", "batch_size", "steps_per_call", "calls"),
    keys=("precision", "image_size", "batch_size"),
    work_unit="images",
    throughput_unit="images/s",
    labels={"mixed_float16": "mixed float16 (loss-scaled)", "mixed_bfloat16": "mixed bfloat16"},
    facts=(
        Fact(name="ms_per_step", description="one training step", unit="ms", better="lower", format=".3g"),
        Fact(name="initial_loss", description="the loss at the case's first step", format=".4g"),
        Fact(name="final_loss", description="the loss at its last step", format=".4g"),
        Fact(name="loss_scaling", description="dynamic loss scaling in effect", hint="text"),
    ),
)


RESNET50_TRAIN = WORKLOAD = Workload(
    spec=SPEC,
    throughput_scale=1.0,
    backends=("tensorflow", "torch"),
    params_for=resnet_params,
    work_per_call=images_per_call,
    label=lambda p: f"{p['precision']}-{p['image_size']}px-b{p['batch_size']}",
    schedule=lambda profile, p: (1, int(p["calls"]) - 1),
    check=mnist_check,  # the same rule: a finite loss that fell, here over the steps on one fixed batch
    builders={
        "tensorflow": "bench.backends.tf_resnet_train:build_resnet50_train",
        "torch": "bench.backends.torch_resnet_train:build_resnet50_train",
    },
    text=lambda p: f"{p['precision']} {int(p['image_size'])}px b{int(p['batch_size'])}",
    sizes=SIZES,
)
