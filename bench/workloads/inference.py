"""Inference: batch-1 latency percentiles and large-batch throughput of the book model and ResNet-50, per mode.

Each timed round is one request: one call of the model on `batch_size` samples, ended by a device sync. A
batch-1 case times its profile's `InferenceSizes.requests` requests, so its p50/p90/p99 come from that many single
requests; a large-batch case gets the profile's time budget. Every mode's output is checked against the eager
output on the same input (`relative_error`, `REFERENCE_TOLERANCE`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.cases import Params, Workload
from bench.devices import Device
from bench.profiles import Profile
from results_format.workloads import Fact, WorkloadSpec

MODELS = ("book", "resnet50")
TF_MODES = ("eager", "function", "xla")
TORCH_MODES = ("eager", "compile")
BOOK_IMAGE_SIZE = 28  # the book model reads MNIST's 28x28 images, flattened to 784 values
LATENCY_WARMUP_CALLS = 3  # the first traces or compiles; the others settle caches and the allocator
PERCENTILES = (50, 90, 99)

# ResNet-50 modes that are slow to run or to compile: timed only on the device kinds the profile names.
SLOW_RESNET_MODES: dict[str, dict[str, str]] = {
    "tensorflow": {
        "eager": "eager Keras runs ResNet-50 layer by layer, about half a second per request on a CPU",
        "xla": "XLA compiles ResNet-50 anew for each input shape (about 10 s on a CPU)",
    },
    "torch": {"compile": "torch.compile of ResNet-50 takes about a minute per input shape"},
}

# How far a mode's output may be from the eager output on the same input: max|out - ref| / max|ref|.
# The modes compute the same function with sums in another order (fusion, XLA, inductor, another cuDNN
# algorithm), so they differ by rounding only. float32 (u = 2^-24 = 6e-8): a sum of K <= 4608 terms (ResNet-50's
# widest 3x3x512 convolution) moves by about sqrt(K)*u = 4e-6 per layer; 1e-3 leaves ~250x for growth over ~50
# layers and Winograd/FFT convolutions (XLA vs eager measured 1.4e-6 on a CPU). TF32 (GPUs' default for TF
# matmuls and torch convolutions) rounds inputs to 10 mantissa bits (u = 2^-11 = 4.9e-4): the same margin
# gives 5e-2. A real fault (a layer dropped, batch norm in training mode, other weights) is off by O(1).
REFERENCE_TOLERANCE = {"float32": 1e-3, "tf32": 5e-2}


@dataclass(frozen=True)
class InferenceSizes:
    """A profile's inference cases: requests per latency case, the large batches, ResNet-50's input and slow modes."""

    requests: int  # timed batch-1 requests per latency case (the percentiles' sample)
    batch: int  # the book model's large batch (throughput)
    resnet_image_size: int  # ResNet-50's square input side in pixels
    resnet_batch: int  # ResNet-50's large batch (throughput)
    resnet_slow_modes_on: tuple[str, ...]  # device kinds that also time ResNet-50's slow modes


SIZES = {
    "smoke": InferenceSizes(requests=100, batch=256, resnet_image_size=32, resnet_batch=8, resnet_slow_modes_on=()),
    "standard": InferenceSizes(
        requests=100, batch=1024, resnet_image_size=64, resnet_batch=16, resnet_slow_modes_on=("gpu",)
    ),
    "full": InferenceSizes(
        requests=1000, batch=4096, resnet_image_size=224, resnet_batch=128, resnet_slow_modes_on=("cpu", "gpu")
    ),
}


def inference_params(profile: Profile, device: Device) -> list[tuple[Params, str | None]]:
    """Both models in every mode of the device's backend, at batch 1 (latency) and a large batch (throughput)."""
    modes = TORCH_MODES if device.backend == "torch" else TF_MODES
    slow = SLOW_RESNET_MODES.get(device.backend, {})
    size: InferenceSizes = INFERENCE.sizes_for(profile)
    models = (("book", BOOK_IMAGE_SIZE, size.batch), ("resnet50", size.resnet_image_size, size.resnet_batch))
    out: list[tuple[Params, str | None]] = []
    for model, image_size, batch in models:
        for mode in modes:
            reason = None
            if model == "resnet50" and mode in slow and device.kind not in size.resnet_slow_modes_on:
                reason = f"profile {profile.name}: {slow[mode]}; the full profile times it everywhere"
            for batch_size in (1, batch):
                out.append(({"model": model, "image_size": image_size, "mode": mode, "batch_size": batch_size}, reason))
    return out


def inference_schedule(profile: Profile, params: Params) -> tuple[int, int] | None:
    """Batch 1: a fixed number of single requests (the percentiles' sample); larger batches: the time budget."""
    if int(params["batch_size"]) == 1:
        return LATENCY_WARMUP_CALLS, INFERENCE.sizes_for(profile).requests
    return None


def latency_percentiles(params: Params, times: Sequence[float]) -> dict[str, Any]:
    """p50/p90/p99 and the worst of the timed requests' latencies (numpy's linear interpolation), in seconds."""
    values = np.percentile(np.asarray(times, dtype=float), PERCENTILES)
    out: dict[str, Any] = {f"latency_p{p}_s": float(v) for p, v in zip(PERCENTILES, values, strict=True)}
    return {"requests": len(times), **out, "latency_max_s": float(max(times))}


def relative_error(output: np.ndarray, reference: np.ndarray) -> float:
    """max|output - reference| / max|reference| (the reference's scale); inf when the shapes differ."""
    output, reference = np.asarray(output, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if output.shape != reference.shape:
        return math.inf
    scale = float(np.max(np.abs(reference))) if reference.size else 0.0
    error = float(np.max(np.abs(output - reference))) if reference.size else 0.0
    return error / scale if scale > 0 else (0.0 if error == 0 else math.inf)


def reference_facts(output: np.ndarray, reference: np.ndarray, math_mode: str) -> dict[str, Any]:
    """The record of a mode's output checked against the eager output: error, tolerance and verdict."""
    error = relative_error(output, reference)
    tolerance = REFERENCE_TOLERANCE[math_mode]
    return {
        "reference": "the eager output on the same input",
        "math": math_mode,
        "relative_error": error if math.isfinite(error) else None,
        "tolerance": tolerance,
        "matches_reference": bool(error <= tolerance),
    }


def inference_check(facts: Mapping[str, Any]) -> str | None:
    """Why an inference case measured nothing: its output is not the eager output (or was never checked)."""
    if "matches_reference" not in facts:
        return "the output was not checked against the eager reference"
    if facts["matches_reference"] is not True:
        error = facts.get("relative_error")
        shown = f"{error:.3g}" if isinstance(error, float) else "not comparable (shapes differ)"
        return (
            f"the output differs from the eager reference: relative error {shown} "
            f"above the {facts.get('math')} tolerance {facts.get('tolerance')}"
        )
    return None


def inference_label(params: Params) -> str:
    """`book-eager-b1`, `resnet50-32px-function-b8`."""
    model = str(params["model"])
    size = f"-{params['image_size']}px" if model != "book" else ""
    return f"{model}{size}-{params['mode']}-b{params['batch_size']}"


SPEC = WorkloadSpec(
    name="inference",
    version=1,
    title="inference",
    params=("model", "image_size", "mode", "batch_size"),
    keys=("model", "image_size", "mode", "batch_size"),
    work_unit="samples",
    throughput_unit="samples/s",
    labels={
        "book": "book model",
        "resnet50": "ResNet-50",
        "function": "tf.function",
        "xla": "XLA",
        "compile": "torch.compile",
    },
    facts=(
        Fact(name="requests", description="timed requests (batch 1: the percentiles' sample)", hint="count"),
        Fact(name="latency_p50_s", description="median request latency", hint="duration", better="lower"),
        Fact(name="latency_p90_s", description="90th percentile latency", hint="duration", better="lower"),
        Fact(
            name="latency_p99_s", description="99th percentile latency", hint="duration", better="lower", headline=True
        ),
        Fact(name="latency_max_s", description="the slowest request", hint="duration", better="lower"),
        Fact(name="relative_error", description="max |out - eager| / max |eager|", better="lower", format=".2g"),
        Fact(name="matches_reference", description="within the tolerance of the eager output", hint="text"),
        Fact(name="math", description="float32 or tf32", hint="text"),
    ),
)


INFERENCE = WORKLOAD = Workload(
    spec=SPEC,
    throughput_scale=1.0,
    backends=("tensorflow", "torch"),
    params_for=inference_params,
    work_per_call=lambda p: float(p["batch_size"]),
    label=inference_label,
    schedule=inference_schedule,
    check=inference_check,
    round_facts=latency_percentiles,
    sizes=SIZES,
    text=lambda p: f"{p['model']} {p['mode']} b{int(p['batch_size'])}",
)
