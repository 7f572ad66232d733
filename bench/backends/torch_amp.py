"""MNIST training in PyTorch under torch.autocast: the mixed-precision cases and the batch-size sweep.

float32 runs without autocast; mixed_float16 is `torch.autocast(float16)` with a GradScaler (dynamic loss
scaling), mixed_bfloat16 is `torch.autocast(bfloat16)` without one: the torch equivalents of Keras' policies.
Modes: `eager`, and `compile` (torch.compile of the model and loss under autocast; the optimizer step stays
eager so the GradScaler can skip it). Data, labels and the shuffled batch order are on the device before timing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from bench.backends.base import Backend, Prepared
from bench.backends.torch_common import torch_device
from bench.backends.torch_mnist import KERAS_ADAM_EPSILON, evaluate
from bench.backends.torch_models import book_model
from bench.cases import Case
from bench.workloads.mnist import LEARNING_RATE, TRAIN_SAMPLES, samples_needed
from bench.workloads.mnist_data import batch_order, load_mnist
from bench.workloads.precision import FLOAT32, MIXED_BFLOAT16, MIXED_FLOAT16, PRECISIONS

MODES = ("eager", "compile")
AUTOCAST_DTYPES = {MIXED_FLOAT16: torch.float16, MIXED_BFLOAT16: torch.bfloat16}


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """The autocast context of a precision on a device (disabled for float32)."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; precisions: {', '.join(PRECISIONS)}")
    dtype = AUTOCAST_DTYPES.get(precision, torch.float32)
    return torch.autocast(device_type=device.type, dtype=dtype, enabled=precision != FLOAT32)


def grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """A dynamic loss scaler for mixed_float16; a disabled one (a no-op) otherwise."""
    return torch.amp.GradScaler(device.type, enabled=precision == MIXED_FLOAT16)


def precision_facts(precision: str, scaler: torch.amp.GradScaler) -> dict[str, Any]:
    """What a case records about its precision: autocast dtype and the loss scale reached."""
    dtype = AUTOCAST_DTYPES.get(precision)
    return {
        "autocast_dtype": str(dtype).removeprefix("torch.") if dtype is not None else None,
        "loss_scaling": "torch.amp.GradScaler (dynamic)" if scaler.is_enabled() else None,
        "loss_scale": float(scaler.get_scale()) if scaler.is_enabled() else None,
    }


def build_mnist_train(case: Case, backend: Backend) -> Prepared:
    """The book's model, Adam and data on the case's device in its precision; one call trains steps_per_call steps."""
    params = dict(case.params)
    mode, batch = str(params["mode"]), int(params["batch_size"])
    steps, calls = int(params["steps_per_call"]), int(params["calls"])
    precision = str(params.get("precision", FLOAT32))
    if mode not in MODES:
        raise ValueError(f"unknown torch MNIST training mode {mode!r}; modes: {', '.join(MODES)}")
    where = torch_device(case.device)
    data = load_mnist(backend.settings.get("mnist"), samples_needed(params))
    x = torch.from_numpy(data.x).to(where)
    y = torch.from_numpy(data.y).to(where)
    order = torch.from_numpy(batch_order(len(data.x), steps * calls, batch)).to(where)
    model = book_model(where)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, eps=KERAS_ADAM_EPSILON)
    scaler = grad_scaler(where, precision)
    loss_of = nn.CrossEntropyLoss()

    def forward_loss(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        with autocast(where, precision):
            logits = model(xb)
        return loss_of(logits.float(), yb)  # the loss in float32

    step_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = forward_loss
    if mode == "compile":
        step_loss = torch.compile(forward_loss)
    initial_loss, _ = evaluate(model, x, y)
    state = {"step": 0}

    def call() -> torch.Tensor:
        loss = None
        for _ in range(steps):
            idx = order[state["step"] % len(order)]
            state["step"] += 1
            optimizer.zero_grad(set_to_none=True)
            loss = step_loss(x[idx], y[idx])
            scaler.scale(loss).backward()
            scaler.step(optimizer)  # unscales; skips the step when a gradient is not finite
            scaler.update()
        assert loss is not None
        return loss.detach()

    def facts(median_s: float) -> dict[str, Any]:
        final_loss, final_accuracy = evaluate(model, x, y)
        return {
            "data_source": data.source,
            "data_path": data.path,
            "samples": len(data.x),
            "initial_loss": initial_loss,
            "final_loss": final_loss,
            "final_accuracy": final_accuracy,
            "mnist_epoch_s_estimate": median_s * TRAIN_SAMPLES / (steps * batch),  # 60000 samples at this pace
            "input_path": "images, labels and the shuffled batch order on the device before timing",
            "compiled": "torch.compile of model + loss under autocast" if mode == "compile" else None,
            **precision_facts(precision, scaler),
        }

    return Prepared(call, facts)
