"""The scripted serving workloads: inference requests, checkpoint saves and restores, the eager polynomial fit.

Each records the keys and strings of the real builders (bench/backends/tf_inference.py, torch_inference.py,
tf_checkpoint.py, torch_checkpoint.py, tf_dispatch.py, torch_dispatch.py); the numbers come from the time models
below, calibrated on the real H200 run (tests/data/real/20261126-h200) where it measured the same case:

- a request is the framework's per-call overhead (eager Keras runs layer by layer, a compiled model pays less per
  call) plus the model's arithmetic at a share of the device's peak; batch-1 requests vary more than large ones, so
  their p99 sits above their p50;
- a save writes the file from host memory (after copying the weights off a GPU) at the results disk's write speed
  and fsyncs it; a restore reads it back at the disk's read speed (`keras.saving.load_model` also rebuilds the
  model); the file sizes are what each format wrote for these models;
- a polynomial-fit step is its ops (as many as the real step runs) at the framework's cost per op; the fit itself is
  the real one, Adam on the same 50 points, so its losses and coefficients are what the real fit reaches.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.backends.base import Prepared
from bench.cases import Case
from bench.runner import CaseSkipped
from bench.workloads.checkpoint import BOOK_PARAMETERS, weight_bytes
from bench.workloads.dispatch import KERAS_ADAM_EPSILON, LEARNING_RATE, polynomial_data
from bench.workloads.inference import REFERENCE_TOLERANCE, reference_facts
from bench.workloads.mnist_data import IMAGE_PIXELS

if TYPE_CHECKING:
    from tests.fake_backend import ScriptedBackend

MB = 1e6
GB = 1e9
RESNET50_FLOP_224 = 4.1e9  # one 224 px image forward
#: trainable and non-trainable values each framework's model holds (what the real builders count)
PARAMETERS = {
    ("tensorflow", "book"): BOOK_PARAMETERS,
    ("torch", "book"): BOOK_PARAMETERS,
    ("tensorflow", "resnet50"): 25_636_712,  # keras.applications.ResNet50().count_params(), batch-norm statistics too
    ("torch", "resnet50"): 25_557_032,  # torchvision's resnet50 parameters
}
BOOK_ACTIVATIONS = (IMAGE_PIXELS + 1024 + 1024 + 10) * 4  # bytes per sample of one forward pass
RESNET50_ACTIVATIONS_224 = 15e6  # bytes per 224 px image an inference pass keeps alive at its widest
CUDNN_WORKSPACE = 100e6  # what cuDNN's convolutions of ResNet-50 take on a GPU beside the activations

# Seconds per request beyond the arithmetic, by (framework, model, mode, device kind). The torch figures are the
# H200 run's (book model 57 µs eager, 100 µs compiled at batch 1; ResNet-50 eager 3.3 ms at 64 px).
REQUEST_S = {
    ("torch", "book", "eager", "cpu"): 55e-6,
    ("torch", "book", "eager", "gpu"): 55e-6,
    ("torch", "book", "compile", "cpu"): 100e-6,
    ("torch", "book", "compile", "gpu"): 95e-6,
    ("torch", "resnet50", "eager", "cpu"): 4.0e-3,
    ("torch", "resnet50", "eager", "gpu"): 3.2e-3,
    ("torch", "resnet50", "compile", "cpu"): 2.0e-3,
    ("torch", "resnet50", "compile", "gpu"): 1.1e-3,
    ("tensorflow", "book", "eager", "cpu"): 280e-6,
    ("tensorflow", "book", "eager", "gpu"): 330e-6,
    ("tensorflow", "book", "function", "cpu"): 95e-6,
    ("tensorflow", "book", "function", "gpu"): 140e-6,
    ("tensorflow", "book", "xla", "cpu"): 70e-6,
    ("tensorflow", "book", "xla", "gpu"): 95e-6,
    ("tensorflow", "resnet50", "eager", "cpu"): 45e-3,
    ("tensorflow", "resnet50", "eager", "gpu"): 40e-3,
    ("tensorflow", "resnet50", "function", "cpu"): 5.0e-3,
    ("tensorflow", "resnet50", "function", "gpu"): 3.5e-3,
    ("tensorflow", "resnet50", "xla", "cpu"): 3.0e-3,
    ("tensorflow", "resnet50", "xla", "gpu"): 1.5e-3,
}
# The first request's extra cost by (framework, model, mode): tracing, XLA or inductor compiling the model.
FIRST_REQUEST_S = {
    ("torch", "book", "eager"): 2e-3,
    ("torch", "book", "compile"): 4.5,
    ("torch", "resnet50", "eager"): 0.05,
    ("torch", "resnet50", "compile"): 55.0,
    ("tensorflow", "book", "eager"): 5e-3,
    ("tensorflow", "book", "function"): 0.12,
    ("tensorflow", "book", "xla"): 0.3,
    ("tensorflow", "resnet50", "eager"): 0.3,
    ("tensorflow", "resnet50", "function"): 2.5,
    ("tensorflow", "resnet50", "xla"): 9.0,
}
BOOK_EFFICIENCY = {"cpu": 0.6, "gpu": 0.8}  # share of the (float32 or TF32) matmul peak three dense layers reach
# share of a GPU's peak in each math mode that ResNet-50's training step reaches (the H200's float32 and float16
# images/s; TF32 about twice float32's), inference a quarter more; and a CPU's share of its float32 peak
CONV_EFFICIENCY = {"float32": 0.245, "tf32": 0.065, "float16": 0.133, "bfloat16": 0.125}
INFERENCE_GAIN = 1.25
CPU_CONV_EFFICIENCY = 0.25
LATENCY_NOISE = {"cpu": 0.15, "gpu": 0.1}  # single requests vary more than a large batch does

CHECKPOINT_FILES = {"tf-checkpoint": 2, "keras": 1, "torch-state-dict": 1}  # the index and the data file; one zip
# What each file holds beyond the weights' bytes (as the real formats wrote these models): object graph and
# variable names, Keras' config and zip directory, torch's pickled keys and storage locations (the device too).
FILE_OVERHEAD = {
    ("tf-checkpoint", "book"): 1_610,
    ("keras", "book"): 18_570,
    ("tf-checkpoint", "resnet50"): 62_797,
    ("keras", "resnet50"): 652_455,
    ("torch-state-dict", "book", "cpu"): 2_581,
    ("torch-state-dict", "book", "gpu"): 2_645,
    ("torch-state-dict", "resnet50", "cpu"): 84_000,
    ("torch-state-dict", "resnet50", "gpu"): 87_403,
}
# Seconds a save or restore takes beyond moving the bytes, by (format, direction, model): the framework walking
# its variables, Keras writing its config and zip (and rebuilding the model on load), torch pickling.
CHECKPOINT_FIXED_S = {
    ("tf-checkpoint", "save", "book"): 6e-3,
    ("tf-checkpoint", "restore", "book"): 4e-3,
    ("tf-checkpoint", "save", "resnet50"): 0.06,
    ("tf-checkpoint", "restore", "resnet50"): 0.08,
    ("keras", "save", "book"): 0.025,
    ("keras", "restore", "book"): 0.06,
    ("keras", "save", "resnet50"): 1.2,
    ("keras", "restore", "resnet50"): 2.5,
    ("torch-state-dict", "save", "book"): 1.5e-3,
    ("torch-state-dict", "restore", "book"): 1.0e-3,
    ("torch-state-dict", "save", "resnet50"): 0.02,
    ("torch-state-dict", "restore", "resnet50"): 0.025,
}
DISK_SHARE = {"tf-checkpoint": 0.6, "keras": 0.15, "torch-state-dict": 0.8}  # of the disk's write speed, per format
FSYNC_S = 2e-3
TF_OPS_NOTE = "the step's traced graph, less Const, Placeholder and NoOp"
TORCH_OPS_NOTE = "torch.profiler: aten ops not called from inside another aten op, in one step"
PAGE_CACHE_NOTE = "evicted before each restore (posix_fadvise DONTNEED)"
# Ops one fit step runs: TensorFlow's traced step (the same graph on any device), torch's top-level aten calls (its
# CUDA Adam takes fewer, as the H200 run counted).
OPS_PER_STEP = {("tensorflow", "cpu"): 154, ("tensorflow", "gpu"): 154, ("torch", "cpu"): 63, ("torch", "gpu"): 47}
# (seconds per op, seconds per step or call beyond its ops) of a fit step, by (framework, mode, device kind):
# eager dispatches every op from Python; a tf.function step pays one call; a tf.function loop none per step.
DISPATCH_S = {
    ("torch", "eager", "cpu"): (5.4e-6, 0.0),
    ("torch", "eager", "gpu"): (23e-6, 0.0),
    ("tensorflow", "eager", "cpu"): (22e-6, 0.0),
    ("tensorflow", "eager", "gpu"): (30e-6, 0.0),
    ("tensorflow", "function", "cpu"): (1.2e-6, 250e-6),
    ("tensorflow", "function", "gpu"): (6e-6, 350e-6),
    ("tensorflow", "function-loop", "cpu"): (0.9e-6, 0.0),
    ("tensorflow", "function-loop", "gpu"): (5e-6, 0.0),
}
LOOP_CALL_S = 300e-6  # one call of the tf.function loop
FIRST_FIT_S = {"eager": 5e-3, "function": 0.25, "function-loop": 0.4}  # TensorFlow's tracing; torch's first call
ADAM_BETAS = (0.9, 0.999)


def framework(backend: ScriptedBackend) -> str:
    """Whose builders the scripted backend imitates: torch, or TensorFlow (the `fake` flavour too)."""
    return "torch" if backend.torch_like else "tensorflow"


def conv_rate(backend: ScriptedBackend, case: Case, math_mode: str, precision: str = "float32") -> float:
    """FLOP/s ResNet-50's convolutions reach on the case's device in a precision (float32 in `math_mode`)."""
    slot = backend.slot(case.device)
    if slot is None:
        return backend.host.cpu.gflops * 1e9 * CPU_CONV_EFFICIENCY
    key = {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}.get(precision, math_mode)
    return slot.model.gflops[key] * 1e9 * CONV_EFFICIENCY[key]


def math_mode(backend: ScriptedBackend, case: Case, model: str) -> str:
    """Whether float32 runs as TF32 here, as the real builders judge it (torch: matmuls, or ResNet's convolutions)."""
    if case.device.kind != "gpu":
        return "float32"
    return "tf32" if backend.tf32 or (model != "book" and backend.convolutions_tf32) else "float32"


def resnet_unavailable(backend: ScriptedBackend, what: str) -> CaseSkipped | None:
    """The skip torch records where torchvision cannot build ResNet-50 (None where it can, or for TensorFlow)."""
    if not backend.torch_like or backend.has_package("torchvision"):
        return None
    reason = "torchvision is not usable here (ModuleNotFoundError: No module named 'torchvision')"
    return CaseSkipped("unavailable", f"{what}{reason}")


def build_inference(case: Case, backend: ScriptedBackend) -> Prepared:
    """One request of `batch_size` samples: the framework's per-call cost plus the model's arithmetic."""
    params = dict(case.params)
    model, mode = str(params["model"]), str(params["mode"])
    batch, size = int(params["batch_size"]), int(params["image_size"])
    who, kind = framework(backend), case.device.kind
    if (who, model, mode, kind) not in REQUEST_S:
        raise ValueError(f"unknown {who} inference mode {mode!r}")
    if model == "resnet50" and (skip := resnet_unavailable(backend, "ResNet-50 on torch: ")):
        raise skip
    scale = (size / 224) ** 2
    math_name = math_mode(backend, case, model)
    if model == "book":
        flop = 2.0 * BOOK_PARAMETERS * batch
        peak = backend.gflops(case.device, "float32") * 1e9  # TF32 where the backend allows it
        compute_s = flop / (peak * BOOK_EFFICIENCY[kind])
        need = 4 * BOOK_PARAMETERS + batch * BOOK_ACTIVATIONS
    else:
        compute_s = RESNET50_FLOP_224 * scale * batch / (conv_rate(backend, case, math_name) * INFERENCE_GAIN)
        need = 4 * PARAMETERS[(who, model)] + batch * RESNET50_ACTIVATIONS_224 * scale + CUDNN_WORKSPACE
    backend.prepare(case, need)
    seconds = REQUEST_S[(who, model, mode, kind)] + compute_s
    noise = LATENCY_NOISE[kind] if batch == 1 else None
    util = min(97.0, 100 * compute_s / seconds + 3)
    call, _ = backend.call(case, seconds, first_s=FIRST_REQUEST_S[(who, model, mode)], util=util, noise=noise)
    rng = random.Random(backend.script.seed_for(backend.host_name, "reference " + case.id))
    error = 0.0 if mode == "eager" else rng.uniform(0.02, 0.3) * REFERENCE_TOLERANCE[math_name] / 100
    if math_name == "tf32" and mode != "eager":
        error = rng.uniform(0.005, 0.03) * REFERENCE_TOLERANCE["tf32"]
    if model == "book":
        shape = [batch, IMAGE_PIXELS]
    else:  # torch is channels first, Keras channels last
        shape = [batch, 3, size, size] if who == "torch" else [batch, size, size, 3]
    reference = np.ones(1)
    checked = reference_facts(reference * (1 + error), reference, math_name)
    facts: dict[str, Any] = {**checked, "parameters": PARAMETERS[(who, model)], "input_shape": shape}
    if who == "torch":
        facts["compiled"] = "torch.compile(model, dynamic=False), default mode" if mode == "compile" else None
    return Prepared(call, backend.finish(case, lambda median_s: dict(facts)))


def checkpoint_seconds(
    backend: ScriptedBackend, case: Case, fmt: str, direction: str, model: str, weights: float, file_bytes: float
) -> float:
    """One save (to disk, fsynced) or restore (from disk, page cache dropped) of a model in a format."""
    write_gbs, read_gbs = backend.host.disk_gbs
    seconds = CHECKPOINT_FIXED_S[(fmt, direction, model)]
    if direction == "save":
        seconds += file_bytes / (write_gbs * GB * DISK_SHARE[fmt]) + FSYNC_S
    else:
        seconds += file_bytes / (read_gbs * GB * 0.8)
    slot = backend.slot(case.device)
    if slot is not None:  # the weights cross the host link (from pageable memory) on their way to or from the disk
        seconds += weights / (slot.model.pageable_gbs[1 if direction == "save" else 0] * GB)
    return seconds


def build_checkpoint(case: Case, backend: ScriptedBackend) -> Prepared:
    """Save or restore one model in one format to the results disk: weights MB/s, the file's size and MB/s."""
    params = dict(case.params)
    fmt, direction, model = str(params["format"]), str(params["direction"]), str(params["model"])
    formats = ("torch-state-dict",) if backend.torch_like else ("tf-checkpoint", "keras")
    if fmt not in formats:
        raise ValueError(f"unknown {framework(backend)} checkpoint format {fmt!r}; formats: {', '.join(formats)}")
    if model == "resnet50" and (skip := resnet_unavailable(backend, "ResNet-50 on torch: ")):
        raise skip
    weights = weight_bytes(params)
    backend.prepare(case, 2 * weights)  # the saved model and the one a restore overwrites
    overhead = FILE_OVERHEAD.get((fmt, model), FILE_OVERHEAD.get((fmt, model, case.device.kind), 0))
    file_bytes = int(weights) + overhead
    seconds = checkpoint_seconds(backend, case, fmt, direction, model, weights, file_bytes)
    call, _ = backend.call(case, seconds, first_s=seconds * 0.15, util=2.0 if case.device.kind == "gpu" else 0.0)
    results_dir = backend.settings.get("results_dir")

    def facts(median_s: float) -> dict[str, Any]:
        return {
            "file_bytes": file_bytes,
            "files": CHECKPOINT_FILES[fmt],
            "directory": backend.host.results_dir if results_dir is not None else "/tmp",
            "on_results_disk": results_dir is not None,
            "fsync": True,
            "page_cache": PAGE_CACHE_NOTE,
            "weight_bytes": int(weights),
            "weights_equal": True,
            "file_mb_per_s": file_bytes / median_s / MB,
        }

    return Prepared(call, backend.finish(case, facts))


def fit(steps: int, points: int, degree: int) -> tuple[float, float, list[float]]:
    """(initial loss, loss after `steps` Adam steps, coefficients): the real fit, from zero coefficients.

    Adam(0.01) as torch and Keras run it (bias-corrected moments, epsilon 1e-7) on the workload's 50 points.
    """
    x, y = polynomial_data(points, degree)
    x, y = x.astype(np.float64), y.astype(np.float64)
    powers = np.vstack([x ** (degree - k) for k in range(degree + 1)])  # highest power first, as Horner's rule
    c, m, v = np.zeros(degree + 1), np.zeros(degree + 1), np.zeros(degree + 1)
    beta1, beta2 = ADAM_BETAS

    def loss(coefficients: np.ndarray) -> float:
        return float(np.mean((coefficients @ powers - y) ** 2))

    initial = loss(c)
    for t in range(1, steps + 1):
        grad = 2 * powers @ (c @ powers - y) / len(x)
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad * grad
        denom = np.sqrt(v) / math.sqrt(1 - beta2**t) + KERAS_ADAM_EPSILON
        c = c - LEARNING_RATE / (1 - beta1**t) * m / denom
    return initial, loss(c), [float(value) for value in c]


def build_dispatch(case: Case, backend: ScriptedBackend) -> Prepared:
    """steps_per_call fit steps: each runs the step's ops at the framework's cost per op (and per call)."""
    params = dict(case.params)
    mode, steps = str(params["mode"]), int(params["steps_per_call"])
    who, kind = framework(backend), case.device.kind
    if (who, mode, kind) not in DISPATCH_S:
        modes = "eager" if who == "torch" else "eager, function, function-loop"
        raise ValueError(f"unknown {who} dispatch mode {mode!r}; modes: {modes}")
    backend.prepare(case, 4 * 4 * int(params["points"]))  # the points, the prediction and the coefficients
    ops = OPS_PER_STEP[(who, kind)]
    per_op, per_step = DISPATCH_S[(who, mode, kind)]
    seconds = steps * (ops * per_op + per_step) + (LOOP_CALL_S if mode == "function-loop" else 0.0)
    first_s = 2e-3 if who == "torch" else FIRST_FIT_S[mode]
    call, durations = backend.call(case, seconds, first_s=first_s, util=6.0 if kind == "gpu" else 0.0)
    untimed = 2 if who == "torch" else 0  # torch takes two steps before timing (the second one counted)

    def facts(median_s: float) -> dict[str, Any]:
        trained = untimed + steps * len(durations)
        initial, final, coefficients = fit(trained, int(params["points"]), int(params["degree"]))
        per_step_us = median_s / steps * 1e6
        return {
            "us_per_step": per_step_us,
            "ops_per_step": ops,
            "us_per_op": per_step_us / ops,
            "ops_counted_by": TORCH_OPS_NOTE if who == "torch" else TF_OPS_NOTE,
            "initial_loss": initial,
            "final_loss": final,
            "coefficients": coefficients,
            "optimizer": (
                f"torch.optim.Adam(lr={LEARNING_RATE}, eps={KERAS_ADAM_EPSILON})"
                if who == "torch"
                else f"keras.optimizers.Adam({LEARNING_RATE})"
            ),
        }

    return Prepared(call, backend.finish(case, facts))
