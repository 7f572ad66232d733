"""ResNet-50 training in TensorFlow: keras.applications' ResNet50 (weights=None), synthetic data made on the device.

The step is one `tf.function` whose batch dimension is left open, so the cases of one device, image size and
precision (the batch-size sweep) share one model and one traced graph: tracing ResNet-50's training step costs
10-30 s on a small CPU, once instead of once per batch size. Each case still makes its own fixed batch.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Any

import keras
import tensorflow as tf

from bench.backends.base import Backend, Prepared
from bench.backends.tf_common import tf_device
from bench.backends.tf_models import resnet50
from bench.backends.tf_precision import dtype_policy, precision_facts, train_step, with_loss_scaling
from bench.cases import Case
from bench.workloads.resnet50_train import CLASSES, LEARNING_RATE, MOMENTUM


@dataclass
class Trainer:
    """A ResNet-50, its optimizer and its traced training step, for one device, image size and precision."""

    key: tuple[str, int, str]
    model: keras.Model
    optimizer: keras.optimizers.Optimizer
    step: Any  # tf.function (images, labels) -> loss
    cases: int = 0  # how many cases have used it


_TRAINER: dict[str, Trainer] = {}  # the most recent trainer only: a new key frees the old model


def trainer_for(device_name: str, image_size: int, precision: str) -> Trainer:
    """The trainer for this key, reused from the previous case when it matches, else built anew."""
    key = (device_name, image_size, precision)
    current = _TRAINER.get("current")
    if current is not None and current.key == key:
        return current
    _TRAINER.clear()
    gc.collect()
    keras.utils.set_random_seed(0)
    with tf.device(f"/device:{device_name}"), dtype_policy(precision):
        model = resnet50(image_size, CLASSES)
        optimizer = with_loss_scaling(keras.optimizers.SGD(LEARNING_RATE, momentum=MOMENTUM), precision)
        optimizer.build(model.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    signature = [
        tf.TensorSpec((None, image_size, image_size, 3), tf.float32),
        tf.TensorSpec((None,), tf.int64),
    ]
    step = tf.function(train_step(model, optimizer, loss_fn), input_signature=signature, jit_compile=False)
    trainer = Trainer(key, model, optimizer, step)
    _TRAINER["current"] = trainer
    return trainer


def synthetic_batch(batch: int, image_size: int, where: str) -> tuple[tf.Tensor, tf.Tensor]:
    """A fixed ImageNet-shaped batch made on the device: uniform [0, 1) images and 1000-class labels."""
    with tf.device(where):
        images = tf.random.stateless_uniform((batch, image_size, image_size, 3), seed=(0, batch))
        labels = tf.random.stateless_uniform((batch,), seed=(1, batch), minval=0, maxval=CLASSES, dtype=tf.int64)
    return images, labels


def build_resnet50_train(case: Case, backend: Backend) -> Prepared:
    """One call trains steps_per_call SGD steps on the case's fixed synthetic batch; returns the last loss."""
    params = dict(case.params)
    precision, size = str(params["precision"]), int(params["image_size"])
    batch, steps = int(params["batch_size"]), int(params["steps_per_call"])
    where = tf_device(case.device)
    trainer = trainer_for(case.device.name, size, precision)
    reused = trainer.cases > 0
    trainer.cases += 1
    images, labels = synthetic_batch(batch, size, where)
    losses: dict[str, tf.Tensor] = {}

    def call() -> tf.Tensor:
        loss = None
        with tf.device(where):
            for _ in range(steps):
                loss = trainer.step(images, labels)
                losses.setdefault("first", loss)  # kept as a tensor: reading it would sync inside the timing
        assert loss is not None
        losses["last"] = loss
        return loss

    def facts(median_s: float) -> dict[str, Any]:
        return {
            "initial_loss": float(losses["first"]),
            "final_loss": float(losses["last"]),
            "loss_note": "training-mode loss on the case's fixed batch: its first step's and its last step's",
            "data": "synthetic: one fixed batch of uniform [0, 1) images and 1000-class labels made on the device",
            "model": "keras.applications.ResNet50(weights=None), channels last",
            "optimizer": f"SGD(learning_rate={LEARNING_RATE}, momentum={MOMENTUM})",
            "compiled": "tf.function (XLA off), batch dimension open",
            "graph_reused": reused,
            "ms_per_step": median_s / steps * 1e3,
            **precision_facts(precision, trainer.optimizer),
        }

    return Prepared(call, facts)
