"""The book's eager MNIST training: Dense 784-1024-1024-10 (no activations), Adam(1e-3), batch 64."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from math import ceil
from typing import Any

from bench.cases import Params, Workload
from bench.devices import Device
from bench.profiles import Profile
from results_format.workloads import Fact, WorkloadSpec

BATCH_SIZE = 64
LEARNING_RATE = 1e-3
HIDDEN = (1024, 1024)
TRAIN_SAMPLES = 60_000
STEPS_PER_EPOCH = ceil(TRAIN_SAMPLES / BATCH_SIZE)  # 938, as the book's shuffle(60000).batch(64)
EVAL_SAMPLES = 4096  # the learning check: loss and accuracy on the first training samples, before and after

TF_MODES = ("eager", "function", "xla", "keras-fit")
TF_GPU_MODES = ("split",)  # the book's variant: model on the GPU, label argmax on the CPU
TORCH_MODES = ("eager", "compile")


@dataclass(frozen=True)
class MnistSizes:
    """A profile's MNIST training: steps per call (None: whole epochs) and epochs."""

    steps: int | None  # steps per epoch; None = the whole data set
    epochs: int


SIZES = {"smoke": MnistSizes(steps=30, epochs=2), "standard": MnistSizes(None, 1), "full": MnistSizes(None, 10)}


def mnist_schedule(profile: Profile) -> tuple[int, int]:
    """(steps per timed call, calls in all) for a profile; the first call is the untimed warm-up."""
    size: MnistSizes = MNIST.sizes_for(profile)
    if size.steps is not None:  # a few dozen steps per call
        return size.steps, 6
    if size.epochs == 1:  # one epoch, cut into ten calls so the spread can be judged
        return ceil(STEPS_PER_EPOCH / 10), 10
    return STEPS_PER_EPOCH, size.epochs  # one call per epoch: the first is the first epoch


def mnist_params(profile: Profile, device: Device) -> list[tuple[Params, str | None]]:
    """One case per mode; `split` only on GPUs, torch's modes on torch."""
    steps, calls = mnist_schedule(profile)
    if device.backend == "torch":
        modes: tuple[str, ...] = TORCH_MODES
    else:
        modes = TF_MODES + (TF_GPU_MODES if device.kind == "gpu" else ())
    return [({"mode": m, "batch_size": BATCH_SIZE, "steps_per_call": steps, "calls": calls}, None) for m in modes]


def samples_per_call(params: Params) -> float:
    """Training samples one call processes."""
    return float(params["steps_per_call"]) * float(params["batch_size"])


def samples_needed(params: Params) -> int:
    """How many distinct samples the data needs (never more than MNIST's 60000)."""
    return int(min(TRAIN_SAMPLES, samples_per_call(params) * int(params["calls"])))


def mnist_check(facts: Mapping[str, Any]) -> str | None:
    """Why a training case measured nothing: its loss went NaN/inf, or it did not fall at all."""
    initial, final = facts.get("initial_loss"), facts.get("final_loss")
    if not isinstance(final, int | float) or not math.isfinite(final):
        return f"training diverged: the final loss is {final}"
    if isinstance(initial, int | float) and math.isfinite(initial) and final >= initial:
        return f"training did not learn: the loss went from {initial:.4g} to {final:.4g}"
    return None


def finite_loss(facts: Mapping[str, Any]) -> str | None:
    """Why a sweep case measured nothing: its loss went NaN/inf.

    A falling loss is not asked for: with the book's Adam(1e-3) and no activations, a few large-batch steps
    can raise the loss before it falls (at batch 2048, 12 steps took it from 2.5 to 4.3); that is still
    the device's training speed. The mixed-precision cases check learning.
    """
    final = facts.get("final_loss")
    if not isinstance(final, int | float) or not math.isfinite(final):
        return f"training diverged: the final loss is {final}"
    return None


SPEC = WorkloadSpec(
    name="mnist",
    version=1,
    title="MNIST training",
    params=("mode", "batch_size", "steps_per_call", "calls"),
    keys=("mode", "batch_size"),
    work_unit="samples",
    throughput_unit="samples/s",
    facts=(
        Fact(name="initial_loss", description="the loss before training", format=".4g"),
        Fact(name="final_loss", description="the loss after the timed calls", better="lower", format=".4g"),
        Fact(name="final_accuracy", description="accuracy on the check samples after training", format=".3f"),
        Fact(name="mnist_epoch_s_estimate", description="one epoch's time at this speed", hint="duration"),
        Fact(name="data_source", description="real MNIST or synthetic data of its shape", hint="text"),
    ),
)


MNIST = WORKLOAD = Workload(
    spec=SPEC,
    throughput_scale=1.0,
    backends=("tensorflow", "torch"),
    params_for=mnist_params,
    work_per_call=samples_per_call,
    label=lambda p: f"{p['mode']}-b{p['batch_size']}-s{p['steps_per_call']}",
    schedule=lambda profile, p: (1, int(p["calls"]) - 1),
    check=mnist_check,
    text=lambda p: f"{p['mode']} b{int(p['batch_size'])}",
    sizes=SIZES,
)
