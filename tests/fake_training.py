"""The scripted training workloads: MNIST in mixed precision and its batch-size sweep, and ResNet-50 training.

Each records the keys and strings of the real builders (bench/backends/tf_amp.py, torch_amp.py,
tf_resnet_train.py, torch_resnet_train.py); the numbers come from the models below, calibrated on the real H200
run (tests/data/real/20261126-h200):

- an MNIST step is the mode's per-step overhead (the same as the MNIST workload's), more under autocast or loss
  scaling (torch's eager autocast with a GradScaler added 0.8 ms a step there), plus the model's arithmetic at a
  share of the precision's peak; small models gain little from half precision, so mixed precision can be slower;
- a ResNet-50 step is the host launching it and the device computing it, which overlap: the step takes about the
  larger of the two (on the H200, 20 ms of launches; 1,000 images/s float32 and 5,261 mixed float16 at batch 128);
  its memory grows with the batch (86 MB per 224 px image in float32, 44.5 MB mixed), so the largest batches of
  a sweep run out of memory where the GPU is too small for them (an `oom` skip; the sweep goes on);
- losses: a few large-batch steps raise the book model's loss before it falls (the H200's sweep went from 2.5 to
  8.8 at batch 4096 over six steps), and ResNet-50 learns its fixed batch more slowly the larger the batch is.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any

from bench.backends.base import Prepared
from bench.cases import Case
from bench.workloads.mnist import TRAIN_SAMPLES, samples_needed
from bench.workloads.mnist_data import IMAGE_PIXELS
from bench.workloads.precision import FLOAT32, MIXED_BFLOAT16, MIXED_FLOAT16
from bench.workloads.resnet50_train import LEARNING_RATE, MOMENTUM
from tests.fake_hosts import matches
from tests.fake_multi import RESNET50_PARAMS, RESNET50_TRAIN_FLOP_224
from tests.fake_serving import CONV_EFFICIENCY, CPU_CONV_EFFICIENCY, resnet_unavailable
from tests.fake_workloads import MNIST_FLOP_PER_SAMPLE

if TYPE_CHECKING:
    from tests.fake_backend import ScriptedBackend

BOOK_WEIGHTS = 784 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 10 + 10
BOOK_ACTIVATIONS = (1024 + 1024 + 10) * 4  # float32 bytes per sample each layer's output keeps for the backward pass
HALF = {MIXED_FLOAT16: "float16", MIXED_BFLOAT16: "bfloat16"}
TF_MODES = ("function", "xla", "keras-fit")
TORCH_MODES = ("eager", "compile")
# How much longer than float32's a step's overhead is under each mixed precision, by mode: autocast's casts in
# eager torch (and a GradScaler for float16), Keras' loss-scaling optimizer, fewer of both inside a compiled step.
PRECISION_OVERHEAD = {
    ("eager", MIXED_FLOAT16): 1.7,
    ("eager", MIXED_BFLOAT16): 1.5,
    ("compile", MIXED_FLOAT16): 1.3,
    ("compile", MIXED_BFLOAT16): 1.1,
    ("function", MIXED_FLOAT16): 1.25,
    ("function", MIXED_BFLOAT16): 1.1,
    ("xla", MIXED_FLOAT16): 1.1,
    ("xla", MIXED_BFLOAT16): 1.05,
    ("keras-fit", MIXED_FLOAT16): 1.2,
    ("keras-fit", MIXED_BFLOAT16): 1.08,
}
MNIST_EFFICIENCY = {"cpu": 0.4, "gpu": 0.35, "half": 0.2}  # the book model's share of the peak (as the MNIST workload)
CPU_BF16_SPEEDUP = {"amx_bf16": 2.5, "avx512_bf16": 1.5}  # bfloat16 arithmetic against float32 on the CPU's cores
TF_INPUT = {
    "keras-fit": "model.fit fed by tf.data (from_tensor_slices, shuffle, batch) from host memory",
    "on device": "images, labels and the shuffled batch order on the device before timing; gathered per step",
}
TORCH_INPUT = "images, labels and the shuffled batch order on the device before timing"
KERAS_LOSS_SCALING = "keras.optimizers.LossScaleOptimizer (dynamic)"
TORCH_LOSS_SCALING = "torch.amp.GradScaler (dynamic)"

# seconds a training step costs the host (launches, Python, optimizer), by framework and device kind
RESNET_HOST_S = {
    ("torch", "gpu"): 20e-3,
    ("torch", "cpu"): 10e-3,
    ("tensorflow", "gpu"): 6e-3,
    ("tensorflow", "cpu"): 15e-3,
}
RESNET_ACTIVATIONS_224 = {FLOAT32: 86e6, "mixed": 44.5e6}  # bytes per 224 px image a training step keeps (H200)
RESNET_BASE_BYTES = 0.35e9  # cuDNN's workspace and the allocator's rounding beside weights and activations
LOSS_NOTE = "training-mode loss on the case's fixed batch: its first step's and its last step's"
RESNET_DATA = "synthetic: one fixed batch of uniform [0, 1) images and 1000-class labels made on the device"


def cpu_rate(backend: ScriptedBackend, precision: str, efficiency: float) -> float:
    """FLOP/s the host CPU reaches in a precision (bfloat16 as fast as its AMX or AVX-512 BF16 units make it)."""
    cpu = backend.host.cpu
    speedup = max((CPU_BF16_SPEEDUP[f] for f in cpu.flags if f in CPU_BF16_SPEEDUP), default=1.0)
    return cpu.gflops * 1e9 * efficiency * (speedup if precision == MIXED_BFLOAT16 else 1.0)


def mnist_rate(backend: ScriptedBackend, case: Case, precision: str) -> float:
    """FLOP/s the book model's training reaches on the case's device in a precision."""
    slot = backend.slot(case.device)
    if slot is None:
        return cpu_rate(backend, precision, MNIST_EFFICIENCY["cpu"])
    if precision in HALF:
        return slot.model.gflops[HALF[precision]] * 1e9 * MNIST_EFFICIENCY["half"]
    return backend.gflops(case.device, "float32") * 1e9 * MNIST_EFFICIENCY["gpu"]


def book_loss(steps: int, batch: int, initial: float, rng: random.Random) -> float:
    """The book model's loss after `steps` Adam steps at `batch`: falling, after a rise where the batch is large."""
    falling = 1.0 + (initial - 1.0) * math.exp(-steps / 120)
    rise = max(0.0, math.log2(batch / 256)) * (1 - math.exp(-steps / 3)) * math.exp(-steps / 20)
    return (falling + rise) * rng.uniform(0.97, 1.03)


def accuracy(loss: float, rng: random.Random) -> float:
    """The accuracy that goes with a loss of the book model on MNIST's ten classes (a tenth at chance)."""
    return min(0.99, max(0.095, (0.1 + 0.6 * (2.55 - loss) / 1.55) * rng.uniform(0.98, 1.02)))


def loss_scale(backend: ScriptedBackend, precision: str, rng: random.Random, halvings: tuple[int, int]) -> float | None:
    """The dynamic loss scale reached: the initial one (Keras 2^15, torch 2^16) halved at a few early overflows."""
    if precision != MIXED_FLOAT16:
        return None
    initial = 2.0**16 if backend.torch_like else 2.0**15
    return initial / 2 ** rng.randint(*halvings)


def precision_facts(backend: ScriptedBackend, precision: str, scale: float | None) -> dict[str, Any]:
    """What a case records about its precision, as each framework's builder words it."""
    if backend.torch_like:
        return {
            "autocast_dtype": HALF.get(precision),
            "loss_scaling": TORCH_LOSS_SCALING if precision == MIXED_FLOAT16 else None,
            "loss_scale": scale,
        }
    return {
        "dtype_policy": precision,
        "compute_dtype": HALF.get(precision, "float32"),
        "variable_dtype": "float32",
        "loss_scaling": KERAS_LOSS_SCALING if precision == MIXED_FLOAT16 else None,
        "loss_scale": scale,
    }


def build_mnist_train(case: Case, backend: ScriptedBackend) -> Prepared:
    """The book model trained in a precision (mnist_amp) or at a batch of the sweep (mnist_batch, float32)."""
    params = dict(case.params)
    mode, batch, steps = str(params["mode"]), int(params["batch_size"]), int(params["steps_per_call"])
    precision, kind, flavour = str(params.get("precision", FLOAT32)), case.device.kind, backend.flavour
    modes = TORCH_MODES if backend.torch_like else TF_MODES
    if mode not in modes:
        who = "torch" if backend.torch_like else "TensorFlow"
        raise ValueError(f"unknown {who} MNIST training mode {mode!r}; modes: {', '.join(modes)}")
    samples = samples_needed(params)
    on_device = 0 if mode == "keras-fit" else samples * (IMAGE_PIXELS + 1) * 4  # keras-fit feeds from the host
    half = 0.6 if precision in HALF else 1.0  # activations in half precision, beside float32 master weights
    weights = 16 * BOOK_WEIGHTS + (2 * BOOK_WEIGHTS if precision in HALF else 0)
    backend.prepare(case, weights + on_device + 3 * batch * BOOK_ACTIVATIONS * half)
    overhead = flavour.mnist_step_s[(mode, kind)] * PRECISION_OVERHEAD.get((mode, precision), 1.0)
    compute_s = batch * MNIST_FLOP_PER_SAMPLE / mnist_rate(backend, case, precision)
    step_s = overhead + compute_s
    slot = backend.slot(case.device)
    if mode == "keras-fit" and slot is not None:  # each batch crosses the host link
        step_s += batch * (IMAGE_PIXELS + 1) * 4 / (slot.model.pageable_gbs[0] * 1e9)
    first_s = flavour.mnist_first_s[mode] + (0.3 if kind == "gpu" else 0.0) + (0.2 if precision in HALF else 0.0)
    util = min(95.0, 100 * compute_s / step_s + 8)
    call, durations = backend.call(case, steps * step_s, first_s=first_s, util=util)
    same_data = random.Random(f"mnist initial loss {samples}")  # the same data gives the same untrained loss
    initial = 2.50 + same_data.uniform(-0.005, 0.015)
    learn = random.Random(backend.script.seed_for(backend.host_name, "loss " + case.id))
    nan = backend.script.faults.nan_loss_on

    def facts(median_s: float) -> dict[str, Any]:
        final = book_loss(steps * len(durations), batch, initial, learn)
        if precision in HALF:  # rounding in half precision takes another path down
            final *= learn.uniform(0.85, 1.05)
        out: dict[str, Any] = {
            "data_source": "synthetic",
            "data_path": None,
            "samples": samples,
            "initial_loss": initial,
            "final_loss": math.nan if nan and matches(case.id, nan) else final,
            "final_accuracy": accuracy(final, learn),
            "mnist_epoch_s_estimate": median_s * TRAIN_SAMPLES / (steps * batch),
        }
        scale = loss_scale(backend, precision, learn, (1, 2) if backend.torch_like else (0, 1))
        if backend.torch_like:
            out["input_path"] = TORCH_INPUT
            out["compiled"] = "torch.compile of model + loss under autocast" if mode == "compile" else None
        else:
            out["input_path"] = TF_INPUT["keras-fit" if mode == "keras-fit" else "on device"]
            out["jit_compile"] = mode == "xla"
        return {**out, **precision_facts(backend, precision, scale)}

    return Prepared(call, backend.finish(case, facts))


def resnet_step_s(backend: ScriptedBackend, case: Case, precision: str, batch: int, size: int) -> tuple[float, float]:
    """(seconds of one training step, seconds of its arithmetic) of ResNet-50 at a batch, image size and precision."""
    who = "torch" if backend.torch_like else "tensorflow"
    flop = batch * RESNET50_TRAIN_FLOP_224 * (size / 224) ** 2
    host_s = RESNET_HOST_S[(who, case.device.kind)]
    slot = backend.slot(case.device)
    if slot is None:  # the CPU launches and computes on the same cores
        compute_s = flop / cpu_rate(backend, precision, CPU_CONV_EFFICIENCY * 0.8)
        return host_s + compute_s, compute_s
    key = HALF.get(precision, "tf32" if backend.convolutions_tf32 else "float32")
    compute_s = flop / (slot.model.gflops[key] * 1e9 * CONV_EFFICIENCY[key])
    if precision == MIXED_FLOAT16 and backend.torch_like:
        host_s += 1e-3  # the GradScaler's checks
    return math.hypot(host_s, compute_s), compute_s  # the launches overlap the GPU's arithmetic


def trainer_reused(backend: ScriptedBackend, case: Case, key: tuple[str, int, str]) -> bool:
    """Whether TensorFlow reuses the previous case's model and traced step (same device, image size, precision)."""
    current = backend.trainer.get("current")
    reused = current is not None and current[0] == key
    backend.trainer["current"] = (key, current[1] + 1 if reused else 1)
    return reused


def build_resnet50_train(case: Case, backend: ScriptedBackend) -> Prepared:
    """steps_per_call SGD steps on one fixed synthetic batch; out of memory where the batch does not fit."""
    params = dict(case.params)
    precision, size = str(params["precision"]), int(params["image_size"])
    batch, steps = int(params["batch_size"]), int(params["steps_per_call"])
    torch = backend.torch_like
    if skip := resnet_unavailable(backend, ""):
        raise skip
    reused = False if torch else trainer_reused(backend, case, (case.device.name, size, precision))
    scale = (size / 224) ** 2
    weights = RESNET50_PARAMS["torch" if torch else "tensorflow"]
    activations = RESNET_ACTIVATIONS_224[FLOAT32 if precision == FLOAT32 else "mixed"] * scale
    backend.prepare(case, RESNET_BASE_BYTES + 12 * weights + batch * (activations + 3 * size * size * 4))
    step_s, compute_s = resnet_step_s(backend, case, precision, batch, size)
    gpu = case.device.kind == "gpu"
    if torch:  # cuDNN's autotuning (benchmark mode) tries algorithms for each new shape on the first call
        first_s = 3.0 + (0.16 if precision == FLOAT32 else 0.01) * batch * scale if gpu else 0.8
    else:  # a new trainer builds the model and traces its step; every batch's first call picks its kernels
        first_s = (0.0 if reused else (12.0 if gpu else 25.0)) + (1.5 if gpu else 0.3)
    util = min(98.0, 100 * compute_s / step_s + 5) if gpu else 0.0
    call, durations = backend.call(case, steps * step_s, first_s=first_s, util=util)
    same_batch = random.Random(f"resnet50 initial loss {batch} {size}")  # the same batch gives the same first loss
    initial = math.log(1000) + same_batch.uniform(0.1, 0.25)
    learn = random.Random(backend.script.seed_for(backend.host_name, "loss " + case.id))
    tau = 25 * (batch / 32) ** 0.66  # steps to learn the fixed batch: more for a larger one

    def facts(median_s: float) -> dict[str, Any]:
        trained = steps * len(durations)
        final = (0.4 + (initial - 0.4) * math.exp(-trained / tau)) * learn.uniform(0.92, 1.08)
        scale_reached = loss_scale(backend, precision, learn, (3, 4) if torch else (2, 3))
        out: dict[str, Any] = {
            "initial_loss": initial,
            "final_loss": min(final, initial * 0.999),
            "loss_note": LOSS_NOTE,
            "data": RESNET_DATA,
        }
        if torch:
            out.update(
                model="torchvision.models.resnet50(weights=None), ResNet, channels last",
                optimizer=f"SGD(lr={LEARNING_RATE}, momentum={MOMENTUM})",
                compiled=None,
                cudnn_benchmark=gpu,
            )
        else:
            out.update(
                model="keras.applications.ResNet50(weights=None), channels last",
                optimizer=f"SGD(learning_rate={LEARNING_RATE}, momentum={MOMENTUM})",
                compiled="tf.function (XLA off), batch dimension open",
                graph_reused=reused,
            )
        return {**out, "ms_per_step": median_s / steps * 1e3, **precision_facts(backend, precision, scale_reached)}

    return Prepared(call, backend.finish(case, facts))
