"""Checkpoint save and restore of a model's weights, in MB/s to the disk of the results folder.

TensorFlow: `tf.train.Checkpoint` (`write`/`read`) and Keras' `model.save('*.keras')` / `keras.saving.load_model`;
torch: `torch.save` / `torch.load` of a `state_dict`. The work of one call is the model's weight bytes (so the
formats are compared on what they carry); each case also records its file's size and the file's MB/s.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from typing import Any

from bench.cases import Params, Workload
from bench.devices import Device
from bench.profiles import Profile
from bench.workloads.mnist import HIDDEN
from bench.workloads.mnist_data import CLASSES, IMAGE_PIXELS
from results_format.workloads import Fact, WorkloadSpec

FORMATS = {"tensorflow": ("tf-checkpoint", "keras"), "torch": ("torch-state-dict",)}
FRAMEWORK_OF = {fmt: backend for backend, formats in FORMATS.items() for fmt in formats}
DIRECTIONS = ("save", "restore")


def dense_parameters(sizes: tuple[int, ...]) -> int:
    """Weights and biases of a chain of dense layers with these widths (input first)."""
    return sum(i * o + o for i, o in pairwise(sizes))


BOOK_PARAMETERS = dense_parameters((IMAGE_PIXELS, *HIDDEN, CLASSES))  # 1,863,690
# What each framework's model holds, in bytes (the builders check it against the model they make):
# keras.applications.ResNet50 (1000 classes): 25,636,712 float32 values, its 53,120 batch-norm moving statistics
# included (its convolutions have biases); torchvision's resnet50: 25,557,032 parameters, 53,120 float32
# running statistics and 53 int64 `num_batches_tracked` counters in its state_dict.
WEIGHT_BYTES: dict[tuple[str, str], int] = {
    ("tensorflow", "book"): 4 * BOOK_PARAMETERS,
    ("torch", "book"): 4 * BOOK_PARAMETERS,
    ("tensorflow", "resnet50"): 4 * 25_636_712,
    ("torch", "resnet50"): 4 * (25_557_032 + 53_120) + 8 * 53,
}


#: the models saved and restored, per profile
MODELS = {"smoke": ("book",), "standard": ("book", "resnet50"), "full": ("book", "resnet50")}


def checkpoint_params(profile: Profile, device: Device) -> list[tuple[Params, str | None]]:
    """Save and restore, in every format of the device's backend, for the profile's models."""
    return [
        ({"format": fmt, "direction": direction, "model": model}, None)
        for model in CHECKPOINT.sizes_for(profile)
        for fmt in FORMATS.get(device.backend, ())
        for direction in DIRECTIONS
    ]


def weight_bytes(params: Params) -> float:
    """The bytes of weights one save or restore moves: the model as its format's framework builds it."""
    return float(WEIGHT_BYTES[(FRAMEWORK_OF[str(params["format"])], str(params["model"]))])


def checkpoint_schedule(profile: Profile, params: Params) -> tuple[int, int] | None:
    """ResNet-50: one warm-up call and the profile's fewest rounds; the book model: the profile's budget."""
    # A ResNet-50 save or restore takes seconds: the budget would give the fewest rounds anyway, and the build
    # already wrote the files, so one warm-up call is enough.
    return (1, profile.min_rounds) if params["model"] == "resnet50" else None


def checkpoint_check(facts: Mapping[str, Any]) -> str | None:
    """Why a checkpoint case measured nothing: the weights read back are not the weights saved."""
    if facts.get("weights_equal") is not True:
        return "the restored weights differ from the saved ones"
    return None


SPEC = WorkloadSpec(
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
    facts=(
        Fact(name="weight_bytes", description="the weights saved or restored (the work)", hint="bytes"),
        Fact(name="file_bytes", description="the files written", hint="bytes"),
        Fact(name="file_mb_per_s", description="file bytes per second", unit="MB/s", better="higher"),
        Fact(name="weights_equal", description="the restored weights equal the saved ones", hint="text"),
    ),
)


CHECKPOINT = WORKLOAD = Workload(
    spec=SPEC,
    throughput_scale=1e6,
    backends=("tensorflow", "torch"),
    params_for=checkpoint_params,
    work_per_call=weight_bytes,
    label=lambda p: f"{p['format']}-{p['direction']}-{p['model']}",
    schedule=checkpoint_schedule,
    check=checkpoint_check,
    text=lambda p: f"{p['format']} {p['direction']} {p['model']}",
    sizes=MODELS,
)
