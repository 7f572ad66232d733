"""The book's eager polynomial fit in TensorFlow: Adam steps on 50 points, eager, per-step and looped tf.function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from bench.backends.base import Backend, Prepared
from bench.backends.tf_common import tf_device
from bench.cases import Case
from bench.workloads.dispatch import LEARNING_RATE, TF_UNCOUNTED_OPS, per_op_facts, polynomial_data


def graph_ops(function: Any) -> int:
    """Ops a traced step runs: its graph's operations less constants, placeholders and no-ops."""
    graph = function.get_concrete_function().graph
    return sum(1 for op in graph.get_operations() if op.type not in TF_UNCOUNTED_OPS)


def build_dispatch(case: Case, backend: Backend) -> Prepared:
    """Coefficients, Adam and the 50 points on the device; one call runs steps_per_call fit steps."""
    params = dict(case.params)
    mode, steps = str(params["mode"]), int(params["steps_per_call"])
    where = tf_device(case.device)
    x_np, y_np = polynomial_data(int(params["points"]), int(params["degree"]))
    with tf.device(where):
        x, y = tf.constant(x_np), tf.constant(y_np)
        coefficients = [tf.Variable(0.0, name=f"c{k}") for k in range(int(params["degree"]) + 1)]
        optimizer = keras.optimizers.Adam(LEARNING_RATE)
        optimizer.build(coefficients)

    def loss_of() -> tf.Tensor:
        prediction = coefficients[0]
        for c in coefficients[1:]:  # Horner's rule: ((a x + b) x + c) x + d, as the book's small ops
            prediction = prediction * x + c
        return tf.reduce_mean(tf.square(prediction - y))

    def step() -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = loss_of()
        grads = tape.gradient(loss, coefficients)
        optimizer.apply_gradients(zip(grads, coefficients, strict=True))
        return loss

    traced = tf.function(step)
    with tf.device(where):  # traced where it runs; tracing runs nothing, so the fit starts untouched
        ops = graph_ops(traced)

    @tf.function
    def loop(n: tf.Tensor) -> tf.Tensor:
        loss = tf.constant(0.0)
        for _ in tf.range(n):
            loss = step()
        return loss

    with tf.device(where):
        initial = float(loss_of())
        n = tf.constant(steps)

    def python_loop(run: Callable[[], tf.Tensor]) -> Callable[[], tf.Tensor]:
        def call() -> tf.Tensor:
            loss = None
            with tf.device(where):
                for _ in range(steps):
                    loss = run()
            assert loss is not None
            return loss

        return call

    def looped() -> tf.Tensor:
        with tf.device(where):
            return loop(n)

    calls = {"eager": python_loop(step), "function": python_loop(traced), "function-loop": looped}
    if mode not in calls:
        raise ValueError(f"unknown TensorFlow dispatch mode {mode!r}; modes: {', '.join(calls)}")

    def facts(median_s: float) -> dict[str, Any]:
        with tf.device(where):
            final = float(loss_of())
        return {
            **per_op_facts(median_s, steps, ops),
            "ops_counted_by": "the step's traced graph, less Const, Placeholder and NoOp",
            "initial_loss": initial,
            "final_loss": final,
            "coefficients": [float(c.numpy()) for c in coefficients],
            "optimizer": f"keras.optimizers.Adam({LEARNING_RATE})",
        }

    return Prepared(calls[mode], facts)
