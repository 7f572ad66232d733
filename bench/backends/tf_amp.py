"""MNIST training in TensorFlow under a Keras precision policy: the mixed-precision cases and the batch-size sweep.

Modes: `function` and `xla` (the step as a `tf.function`, XLA-compiled for `xla`) take their batches from the
images, labels and shuffled batch order put on the device before timing; `keras-fit` is `model.fit` fed by the
book's `tf.data` pipeline. mixed_float16 scales the loss (Keras' LossScaleOptimizer), as Keras' guide asks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from bench.backends.base import Backend, Prepared
from bench.backends.tf_common import tf_device
from bench.backends.tf_models import book_model
from bench.backends.tf_precision import dtype_policy, precision_facts, train_step, with_loss_scaling
from bench.cases import Case
from bench.workloads.mnist import EVAL_SAMPLES, LEARNING_RATE, TRAIN_SAMPLES, samples_needed
from bench.workloads.mnist_data import MnistData, batch_order, load_mnist
from bench.workloads.precision import FLOAT32

MODES = ("function", "xla", "keras-fit")


def evaluate(model: keras.Model, data: MnistData, where: str) -> tuple[float, float]:
    """(loss, accuracy) of `model` on the first EVAL_SAMPLES training samples, the loss in float32."""
    with tf.device(where):
        x = tf.constant(data.x[:EVAL_SAMPLES])
        y = tf.constant(data.y[:EVAL_SAMPLES])
        logits = tf.cast(model(x, training=False), tf.float32)
        loss = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
        accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, axis=1), y), tf.float32))
        return float(tf.reduce_mean(loss)), float(accuracy)


def build_mnist_train(case: Case, backend: Backend) -> Prepared:
    """Model, optimizer and data on the case's device in its precision; one call trains steps_per_call steps."""
    params = dict(case.params)
    mode, batch = str(params["mode"]), int(params["batch_size"])
    steps, calls = int(params["steps_per_call"]), int(params["calls"])
    precision = str(params.get("precision", FLOAT32))
    if mode not in MODES:
        raise ValueError(f"unknown TensorFlow MNIST training mode {mode!r}; modes: {', '.join(MODES)}")
    where = tf_device(case.device)
    data = load_mnist(backend.settings.get("mnist"), samples_needed(params))
    keras.utils.set_random_seed(0)
    with tf.device(where), dtype_policy(precision):
        model = book_model()
        optimizer = with_loss_scaling(keras.optimizers.Adam(LEARNING_RATE), precision)
        optimizer.build(model.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    initial_loss, _ = evaluate(model, data, where)

    call: Callable[[], Any]
    if mode == "keras-fit":
        dataset = (
            tf.data.Dataset.from_tensor_slices((data.x, data.y))
            .shuffle(len(data.x), seed=0, reshuffle_each_iteration=True)
            .batch(batch, drop_remainder=True)
            .repeat()
        )
        model.compile(optimizer=optimizer, loss=loss_fn, jit_compile=False)

        def call() -> Any:
            with tf.device(where):
                model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
            return model.trainable_variables[0].value

        input_path = "model.fit fed by tf.data (from_tensor_slices, shuffle, batch) from host memory"
    else:
        with tf.device(where):
            x_all = tf.constant(data.x)
            y_all = tf.constant(data.y)
            order = tf.constant(batch_order(len(data.x), steps * calls, batch))
            position = tf.Variable(0, dtype=tf.int64, trainable=False)
        step = train_step(model, optimizer, loss_fn)

        def indexed_step() -> tf.Tensor:
            idx = tf.gather(order, position % tf.shape(order, out_type=tf.int64)[0])
            position.assign_add(1)
            return step(tf.gather(x_all, idx), tf.gather(y_all, idx))

        compiled = tf.function(indexed_step, jit_compile=mode == "xla")

        def call() -> Any:
            loss = None
            with tf.device(where):
                for _ in range(steps):
                    loss = compiled()
            return loss

        input_path = "images, labels and the shuffled batch order on the device before timing; gathered per step"

    def facts(median_s: float) -> dict[str, Any]:
        final_loss, final_accuracy = evaluate(model, data, where)
        return {
            "data_source": data.source,
            "data_path": data.path,
            "samples": len(data.x),
            "initial_loss": initial_loss,
            "final_loss": final_loss,
            "final_accuracy": final_accuracy,
            "mnist_epoch_s_estimate": median_s * TRAIN_SAMPLES / (steps * batch),  # 60000 samples at this pace
            "input_path": input_path,
            "jit_compile": mode == "xla",
            **precision_facts(precision, optimizer),
        }

    return Prepared(call, facts)
