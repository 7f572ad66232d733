"""The book's MNIST training in PyTorch: Linear 784-1024-1024-10 (no activations), Adam(1e-3), batch 64.

Modes: `eager` (plain PyTorch) and `compile` (torch.compile of the model with its loss, and of Adam's
update, so the whole step is compiled as in TF's function/xla modes). The data is moved to the device
once, before timing; each call runs `steps_per_call` steps on batches taken in order from per-epoch
shuffles with a fixed seed.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from bench.backends.base import Backend, Prepared
from bench.backends.torch_common import torch_device
from bench.backends.torch_models import book_model
from bench.cases import Case
from bench.workloads.mnist import EVAL_SAMPLES, LEARNING_RATE, STEPS_PER_EPOCH, samples_needed
from bench.workloads.mnist_data import batch_order, load_mnist

KERAS_ADAM_EPSILON = 1e-7  # Keras' default (torch's is 1e-8), so both backends run the same optimizer


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of `model` on the first EVAL_SAMPLES samples."""
    with torch.no_grad():
        logits = model(x[:EVAL_SAMPLES])
        loss = nn.functional.cross_entropy(logits, y[:EVAL_SAMPLES])
        accuracy = (logits.argmax(dim=1) == y[:EVAL_SAMPLES]).float().mean()
    return float(loss.item()), float(accuracy.item())


def build_mnist(case: Case, backend: Backend) -> Prepared:
    """The training call for one MNIST case; its facts report the losses, accuracy and data source."""
    params = dict(case.params)
    mode, batch_size = str(params["mode"]), int(params["batch_size"])
    steps, calls = int(params["steps_per_call"]), int(params["calls"])
    if mode not in ("eager", "compile"):
        raise ValueError(f"unknown torch MNIST mode {mode!r}; modes: eager, compile")
    where = torch_device(case.device)
    data = load_mnist(backend.settings.get("mnist"), samples_needed(params))
    x = torch.from_numpy(data.x).to(where)
    y = torch.from_numpy(data.y).to(where)
    order = torch.from_numpy(batch_order(len(data.x), steps * calls, batch_size)).to(where)

    model = book_model(where)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, eps=KERAS_ADAM_EPSILON)
    loss_of = nn.CrossEntropyLoss()

    def forward_loss(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return loss_of(model(xb), yb)

    def adam_step() -> None:
        optimizer.step()

    step_loss, update = forward_loss, adam_step
    if mode == "compile":  # the whole step compiled, as TF's function/xla modes: model, loss and Adam's update
        step_loss, update = torch.compile(forward_loss), torch.compile(adam_step, fullgraph=False)
    initial_loss, _ = evaluate(model, x, y)
    state = {"step": 0}

    def call() -> torch.Tensor:
        loss = None
        for _ in range(steps):
            idx = order[state["step"] % len(order)]
            state["step"] += 1
            optimizer.zero_grad(set_to_none=True)
            loss = step_loss(x[idx], y[idx])
            loss.backward()
            update()
        assert loss is not None
        return loss.detach()

    def facts(median_s: float) -> dict[str, Any]:
        final_loss, final_accuracy = evaluate(model, x, y)
        return {
            "data_source": data.source,
            "data_path": data.path,
            "samples": len(data.x),
            "steps_per_call": steps,
            "batch_size": batch_size,
            "initial_loss": initial_loss,
            "final_loss": final_loss,
            "final_accuracy": final_accuracy,
            "eval_samples": min(EVAL_SAMPLES, len(data.x)),
            "mnist_epoch_s_estimate": median_s * STEPS_PER_EPOCH / steps,  # a 60000-sample epoch at this pace
            "data_on_device": "images, labels and the shuffled batch order moved to the device once before "
            "timing; each step gathers its batch there",
            "compiled": "torch.compile of model + loss (backward via AOTAutograd) and of Adam's step"
            if mode == "compile"
            else None,
        }

    return Prepared(call, facts=facts)
