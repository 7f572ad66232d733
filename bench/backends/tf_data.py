"""tf.data pipelines on the book's pattern (from_tensor_slices -> map -> shuffle -> batch), and a fed training step."""

from __future__ import annotations

from statistics import median
from time import perf_counter
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from bench.backends.base import Backend, Prepared
from bench.backends.tf_common import tf_device
from bench.backends.tf_mnist import train_step
from bench.cases import Case
from bench.workloads.mnist_data import CLASSES, load_mnist
from bench.workloads.tfdata import input_bound

AUTOTUNE = tf.data.AUTOTUNE


def normalize(image: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """uint8 pixels to float32 in [0, 1], as the book's map step."""
    return tf.cast(image, tf.float32) / 255.0, label


def make_pipeline(images: np.ndarray, labels: np.ndarray, variant: str, batch: int) -> tf.data.Dataset:
    """The pipeline for one variant; `to-device` and `fed-step` use the tuned one."""
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    parallel = None if variant == "serial" else AUTOTUNE
    ds = ds.map(normalize, num_parallel_calls=parallel)
    if variant == "autotune-cache-prefetch":
        ds = ds.cache()
    ds = ds.shuffle(len(images), seed=0).batch(batch)
    if variant in ("autotune-prefetch", "autotune-cache-prefetch", "to-device", "fed-step"):
        ds = ds.prefetch(AUTOTUNE)
    return ds


def small_mlp() -> keras.Model:
    """The book's tf.data model: 784 -> 128 -> 128 -> 10."""
    return keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(CLASSES),
        ]
    )


def build_tfdata(case: Case, backend: Backend) -> Prepared:
    """One call iterates the whole pipeline once; `to-device` moves each batch, `fed-step` also trains on it."""
    settings, where, sync = backend.settings, tf_device(case.device), backend.sync
    params = dict(case.params)
    variant, batch, elements = str(params["variant"]), int(params["batch_size"]), int(params["elements"])
    data = load_mnist(settings.get("mnist"), elements)
    images = np.clip(data.x * 255.0, 0, 255).astype(np.uint8)
    dataset = make_pipeline(images, data.y, variant, batch)

    if variant != "fed-step":

        def call() -> Any:
            last = None
            for x, _ in dataset:
                if variant == "to-device":
                    with tf.device(where):
                        x = tf.identity(x)
                last = x
            return last

        return Prepared(call)

    keras.utils.set_random_seed(0)
    with tf.device(where):
        model = small_mlp()
        optimizer = keras.optimizers.Adam(1e-3)
        optimizer.build(model.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    step = tf.function(train_step(model, optimizer, loss_fn))

    steps = -(-elements // batch)
    with tf.device(where):  # the same batches, made once and already on the device
        premade = [(tf.identity(x), tf.identity(y)) for x, y in make_pipeline(images, data.y, "serial", batch)]

    def call() -> Any:
        loss = None
        with tf.device(where):
            for x, y in dataset:
                loss = step(x, y)
        return loss

    def premade_pass() -> float:
        start = perf_counter()
        with tf.device(where):
            for x, y in premade:
                step(x, y)
        sync()
        return perf_counter() - start

    def facts(median_s: float) -> dict[str, Any]:
        premade_pass()  # traces any batch shape the timed pipeline did not
        premade_s = median(premade_pass() for _ in range(3))
        pipeline_step, premade_step = median_s / steps, premade_s / steps
        return {
            "input_bound": input_bound(pipeline_step, premade_step),
            "pipeline_step_s": pipeline_step,
            "premade_step_s": premade_step,
            "steps": steps,
            "data_source": data.source,
        }

    return Prepared(call, facts)
