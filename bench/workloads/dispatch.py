"""Eager per-op dispatch overhead: the book's polynomial fit (50 points, Adam steps), µs per step and per op.

The book fitted a polynomial to 50 points with an eager loop of Adam steps: every step runs a few dozen tiny
ops, so its time is the framework's per-op dispatch cost, not arithmetic. Modes: `eager` (a Python loop of
eager steps), `function` (each step a `tf.function` call), `function-loop` (all of a call's steps inside one
`tf.function`, a `tf.range` loop: no Python per step); torch: `eager`. Ops per step are counted, not assumed:
the step's traced TF graph (less constants, placeholders and no-ops), or torch's top-level aten calls.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from bench.cases import Params, Workload
from bench.devices import Device
from bench.profiles import Profile
from results_format.workloads import Fact, WorkloadSpec

POINTS = 50
DEGREE = 3
TRUE_COEFFICIENTS = (0.5, -1.0, 2.0, 0.3)  # highest power first: 0.5 x^3 - x^2 + 2 x + 0.3
NOISE = 0.05
LEARNING_RATE = 0.01
KERAS_ADAM_EPSILON = 1e-7  # Keras' default; torch's Adam is given the same
TF_MODES = ("eager", "function", "function-loop")
TORCH_MODES = ("eager",)
TF_UNCOUNTED_OPS = frozenset({"Const", "Placeholder", "NoOp"})  # graph bookkeeping, not ops an eager step runs


#: polynomial-fit Adam steps per timed call, per profile
STEPS = {"smoke": 20, "standard": 50, "full": 1000}


def dispatch_params(profile: Profile, device: Device) -> list[tuple[Params, str | None]]:
    """One case per mode of the device's backend."""
    modes = TORCH_MODES if device.backend == "torch" else TF_MODES
    return [
        ({"mode": m, "points": POINTS, "degree": DEGREE, "steps_per_call": DISPATCH.sizes_for(profile)}, None)
        for m in modes
    ]


def polynomial_data(points: int, degree: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) float32: `points` evenly spaced x in [-1, 1] and a noisy cubic through them (fixed seed)."""
    if degree != len(TRUE_COEFFICIENTS) - 1:
        raise ValueError(f"the polynomial fit has degree {len(TRUE_COEFFICIENTS) - 1}, not {degree}")
    x = np.linspace(-1.0, 1.0, points)
    y = np.polyval(TRUE_COEFFICIENTS, x) + np.random.default_rng(seed).normal(0.0, NOISE, points)
    return x.astype(np.float32), y.astype(np.float32)


def per_op_facts(median_s: float, steps: int, ops_per_step: int) -> dict[str, Any]:
    """µs per step and per op from one call's median time."""
    per_step = median_s / steps * 1e6
    return {"us_per_step": per_step, "ops_per_step": ops_per_step, "us_per_op": per_step / ops_per_step}


def dispatch_check(facts: Mapping[str, Any]) -> str | None:
    """Why a fit measured nothing: its loss went NaN/inf or did not fall."""
    initial, final = facts.get("initial_loss"), facts.get("final_loss")
    if not isinstance(final, int | float) or not math.isfinite(final):
        return f"the fit diverged: the final loss is {final}"
    if not isinstance(initial, int | float) or final >= initial:
        return f"the fit did not learn: the loss went from {initial} to {final:.4g}"
    return None


SPEC = WorkloadSpec(
    name="dispatch",
    version=1,
    title="eager dispatch overhead (polynomial fit)",
    params=("mode", "points", "degree", "steps_per_call"),
    keys=("mode",),
    work_unit="steps",
    throughput_unit="steps/s",
    labels={"function": "tf.function per step", "function-loop": "a tf.function loop"},
    facts=(
        Fact(
            name="us_per_step", description="time per Adam step", unit="µs", better="lower", format=".1f", headline=True
        ),
        Fact(name="ops_per_step", description="ops one step runs (graph ops, or top-level aten ops)", hint="count"),
        Fact(name="us_per_op", description="time per op: the dispatch cost", unit="µs", better="lower", format=".2f"),
        Fact(name="initial_loss", description="the fit's loss before the timed steps", format=".4g"),
        Fact(name="final_loss", description="the fit's loss after them", better="lower", format=".4g"),
        Fact(name="ops_counted_by", description="how the ops were counted", hint="text"),
        Fact(name="optimizer", description="the optimiser", hint="text"),
    ),
)


DISPATCH = WORKLOAD = Workload(
    spec=SPEC,
    throughput_scale=1.0,
    backends=("tensorflow", "torch"),
    params_for=dispatch_params,
    work_per_call=lambda p: float(p["steps_per_call"]),
    label=lambda p: f"{p['mode']}-s{p['steps_per_call']}",
    check=dispatch_check,
    sizes=STEPS,
    text=lambda p: f"polynomial fit {p['mode']}",
)
