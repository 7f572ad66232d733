"""ResNet-50 training images/s (the tf_cnn_benchmarks / MLPerf figure), float32 and mixed precision, per batch size.

Synthetic ImageNet-shaped data (1000 classes) is made on the device, one fixed batch per case reused every
step, so nothing is downloaded and no input pipeline is timed. SGD with momentum. The batch list per device
is also the ResNet-50 batch-size sweep: a batch that does not fit is an out-of-memory skip and the sweep goes on.
"""

from __future__ import annotations

from bench.cases import Params, Workload
from bench.devices import Device
from bench.profiles import Profile
from bench.workloads.mnist import mnist_check
from bench.workloads.precision import cpu_flags, precisions_for
from results_format.workloads import WorkloadSpec

CLASSES = 1000
LEARNING_RATE = 0.01
MOMENTUM = 0.9


def resnet_params(profile: Profile, device: Device) -> list[tuple[Params, str | None]]:
    """Each precision x batch at the profile's image size for the device's kind."""
    knobs = profile.training
    gpu = device.kind == "gpu"
    size = knobs.resnet_image_size_gpu if gpu else knobs.resnet_image_size_cpu
    batches = knobs.resnet_batches_gpu if gpu else knobs.resnet_batches_cpu
    steps = knobs.resnet_steps_gpu if gpu else knobs.resnet_steps_cpu
    out: list[tuple[Params, str | None]] = []
    for precision, reason in precisions_for(device, cpu_flags(), cpu_mixed=knobs.resnet_cpu_mixed):
        for batch in batches:
            params = {
                "precision": precision,
                "image_size": size,
                "batch_size": batch,
                "steps_per_call": steps,
                "calls": knobs.resnet_calls,
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
)
