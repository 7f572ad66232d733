"""The book's MNIST training loop in TensorFlow: eager, tf.function, XLA, Keras fit, and the split variant."""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from bench.backends.base import Backend, Prepared
from bench.backends.tf_common import tf_device
from bench.backends.tf_models import book_model
from bench.cases import Case
from bench.workloads.mnist import EVAL_SAMPLES, LEARNING_RATE, STEPS_PER_EPOCH, samples_needed
from bench.workloads.mnist_data import CLASSES, MnistData, load_mnist


class BatchTimer(keras.callbacks.Callback):
    """Keras callback recording each batch's and each epoch's wall time, as in the book's callbacks section."""

    def __init__(self) -> None:
        super().__init__()
        self.batch_s: list[float] = []
        self.epoch_s: list[float] = []
        self._batch_start = self._epoch_start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Start an epoch's clock."""
        self._epoch_start = perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Record the epoch's time."""
        self.epoch_s.append(perf_counter() - self._epoch_start)

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Start a batch's clock."""
        self._batch_start = perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Record the batch's time."""
        self.batch_s.append(perf_counter() - self._batch_start)


def train_step(
    model: keras.Model, optimizer: keras.optimizers.Optimizer, loss_fn: keras.losses.Loss
) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """One optimisation step on a batch with a GradientTape, as the book's loop; returns the batch loss."""

    def step(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return step


def evaluate(model: keras.Model, data: MnistData, where: str) -> tuple[float, float]:
    """(loss, accuracy) of `model` on the first EVAL_SAMPLES training samples."""
    with tf.device(where):
        x = tf.constant(data.x[:EVAL_SAMPLES])
        y = tf.constant(data.y[:EVAL_SAMPLES])
        logits = model(x, training=False)
        loss = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
        accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, axis=1), y), tf.float32))
        return float(tf.reduce_mean(loss)), float(accuracy)


def build_mnist(case: Case, backend: Backend) -> Prepared:
    """A model, optimizer and shuffled batch iterator on the case's device; one call trains steps_per_call steps."""
    settings, where = backend.settings, tf_device(case.device)
    params = dict(case.params)
    mode, steps, batch = str(params["mode"]), int(params["steps_per_call"]), int(params["batch_size"])
    data = load_mnist(settings.get("mnist"), samples_needed(params))
    keras.utils.set_random_seed(0)
    labels: np.ndarray = np.eye(CLASSES, dtype=np.float32)[data.y] if mode == "split" else data.y
    dataset = (
        tf.data.Dataset.from_tensor_slices((data.x, labels))
        .shuffle(len(data.x), seed=0, reshuffle_each_iteration=True)
        .batch(batch, drop_remainder=True)
        .repeat()
    )
    with tf.device(where):
        model = book_model()
        optimizer = keras.optimizers.Adam(LEARNING_RATE)
        optimizer.build(model.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    initial_loss, _ = evaluate(model, data, where)
    timer = BatchTimer()
    facts_extra: dict[str, Any] = {}

    step = train_step(model, optimizer, loss_fn)

    def split_step(x: tf.Tensor, y_onehot: tf.Tensor) -> tf.Tensor:
        with tf.device("/device:CPU:0"):  # the book forced the labels' argmax onto the CPU
            y = tf.argmax(y_onehot, axis=1)
        with tf.device(where):
            return step(x, y)

    call: Callable[[], Any]
    if mode == "keras-fit":
        model.compile(optimizer=optimizer, loss=loss_fn, metrics=["accuracy"], jit_compile=False)
        facts_extra["jit_compile"] = False

        def call() -> Any:
            with tf.device(where):
                model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False, callbacks=[timer])
            return model.trainable_variables[0].value

    else:
        run_step = {
            "eager": step,
            "function": tf.function(step),
            "xla": tf.function(step, jit_compile=True),
            "split": split_step,
        }[mode]
        batches = iter(dataset)

        def call() -> Any:
            loss = None
            with tf.device(where):
                for _ in range(steps):
                    x, y = next(batches)
                    loss = run_step(x, y)
            return loss

    def facts(median_s: float) -> dict[str, Any]:
        final_loss, final_accuracy = evaluate(model, data, where)
        out: dict[str, Any] = {
            "data_source": data.source,
            "data_path": data.path,
            "samples": len(data.x),
            "steps_per_call": steps,
            "batch_size": batch,
            "initial_loss": initial_loss,
            "final_loss": final_loss,
            "final_accuracy": final_accuracy,
            "mnist_epoch_s_estimate": median_s * STEPS_PER_EPOCH / steps,  # a 60000-sample epoch at this pace
            **facts_extra,
        }
        if timer.batch_s:
            out["keras_batch_median_s"] = float(np.median(timer.batch_s))
            out["keras_epoch_s"] = timer.epoch_s
        return out

    return Prepared(call, facts)
