"""Keras mixed precision for the TensorFlow training builders: the dtype policy, loss scaling and the train step."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import keras
import tensorflow as tf

from bench.workloads.precision import FLOAT32, MIXED_FLOAT16, PRECISIONS


@contextmanager
def dtype_policy(precision: str) -> Iterator[None]:
    """Keras' global dtype policy set to `precision` while models are built in the block, then restored.

    Layers take the global policy when they are made, so the model keeps it; nothing else sees it.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; precisions: {', '.join(PRECISIONS)}")
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def with_loss_scaling(optimizer: keras.optimizers.Optimizer, precision: str) -> keras.optimizers.Optimizer:
    """The optimizer wrapped in Keras' dynamic LossScaleOptimizer for mixed_float16 (float16 gradients underflow)."""
    if precision == MIXED_FLOAT16:
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def loss_scale(optimizer: keras.optimizers.Optimizer) -> float | None:
    """The loss scale a LossScaleOptimizer has reached (None without loss scaling)."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return float(optimizer.dynamic_scale.numpy()) if optimizer.built else float(optimizer.initial_scale)
    return None


def train_step(
    model: keras.Model, optimizer: keras.optimizers.Optimizer, loss_fn: keras.losses.Loss
) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """One optimisation step in the model's precision: float32 loss, scaled when the optimizer scales losses."""
    scaled = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)

    def step(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = loss_fn(y, tf.cast(logits, tf.float32))  # the loss in float32, as Keras' guide asks
            target = optimizer.scale_loss(loss) if scaled else loss
        grads = tape.gradient(target, model.trainable_variables)
        # LossScaleOptimizer unscales, skips the update and lowers the scale when a gradient is not finite
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return step


def precision_facts(precision: str, optimizer: keras.optimizers.Optimizer) -> dict[str, object]:
    """What a case records about its precision: the Keras policy, compute dtype and loss scale."""
    compute = {FLOAT32: "float32", MIXED_FLOAT16: "float16"}.get(precision, "bfloat16")
    return {
        "dtype_policy": precision,
        "compute_dtype": compute,
        "variable_dtype": "float32",
        "loss_scaling": "keras.optimizers.LossScaleOptimizer (dynamic)" if precision == MIXED_FLOAT16 else None,
        "loss_scale": loss_scale(optimizer),
    }
