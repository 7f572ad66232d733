"""The book's eager polynomial fit in PyTorch: Adam steps on 50 points, one eager op at a time."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from bench.backends.base import Backend, Prepared
from bench.backends.torch_common import torch_device
from bench.cases import Case
from bench.workloads.dispatch import KERAS_ADAM_EPSILON, LEARNING_RATE, per_op_facts, polynomial_data


def top_level_aten_ops(events: Any) -> int:
    """aten ops called from Python or autograd (not from inside another aten op) in a profiler's events."""
    count = 0
    for event in events:
        parent = getattr(event, "cpu_parent", None)
        if event.name.startswith("aten::") and (parent is None or not parent.name.startswith("aten::")):
            count += 1
    return count


def build_dispatch(case: Case, backend: Backend) -> Prepared:
    """Coefficients, Adam and the 50 points on the device; one call runs steps_per_call fit steps."""
    params = dict(case.params)
    mode, steps = str(params["mode"]), int(params["steps_per_call"])
    if mode != "eager":
        raise ValueError(f"unknown torch dispatch mode {mode!r}; modes: eager")
    where = torch_device(case.device)
    x_np, y_np = polynomial_data(int(params["points"]), int(params["degree"]))
    x, y = torch.from_numpy(x_np).to(where), torch.from_numpy(y_np).to(where)
    coefficients = [nn.Parameter(torch.zeros((), device=where)) for _ in range(int(params["degree"]) + 1)]
    optimizer = torch.optim.Adam(coefficients, lr=LEARNING_RATE, eps=KERAS_ADAM_EPSILON)

    def loss_of() -> torch.Tensor:
        prediction = coefficients[0]
        for c in coefficients[1:]:  # Horner's rule: ((a x + b) x + c) x + d, as the book's small ops
            prediction = prediction * x + c
        return torch.mean(torch.square(prediction - y))

    def step() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_of()
        loss.backward()
        optimizer.step()
        return loss.detach()

    with torch.no_grad():
        initial = float(loss_of().item())
    step()  # Adam's first step also makes its state; count a steady one (both are taken before timing)
    with profile(activities=[ProfilerActivity.CPU]) as counted:
        step()
    ops = top_level_aten_ops(counted.events())

    def call() -> torch.Tensor:
        loss = None
        for _ in range(steps):
            loss = step()
        assert loss is not None
        return loss

    def facts(median_s: float) -> dict[str, Any]:
        with torch.no_grad():
            final = float(loss_of().item())
        return {
            **per_op_facts(median_s, steps, ops),
            "ops_counted_by": "torch.profiler: aten ops not called from inside another aten op, in one step",
            "initial_loss": initial,
            "final_loss": final,
            "coefficients": [float(c.detach().cpu()) for c in coefficients],
            "optimizer": f"torch.optim.Adam(lr={LEARNING_RATE}, eps={KERAS_ADAM_EPSILON})",
        }

    return Prepared(call, facts)
