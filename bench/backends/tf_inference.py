"""Inference in TensorFlow: the book model and Keras' ResNet-50, eager, `tf.function` and XLA, any batch size."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import keras
import tensorflow as tf

from bench.backends.base import Backend, Prepared
from bench.backends.tf_common import tf_device
from bench.backends.tf_models import book_model, resnet50
from bench.cases import Case
from bench.workloads.inference import reference_facts
from bench.workloads.mnist_data import IMAGE_PIXELS

SEED = 0


@lru_cache(maxsize=1)  # the cases of one model and device run one after another: build it once for them
def cached_model(device_name: str, model: str, image_size: int) -> keras.Model:
    """The model, randomly initialised with a fixed seed, its weights on the device."""
    keras.utils.set_random_seed(SEED)
    with tf.device(f"/device:{device_name}"):
        return book_model() if model == "book" else resnet50(image_size)


def input_shape(model: str, batch_size: int, image_size: int) -> tuple[int, ...]:
    """The input of one request: flattened MNIST images, or channels-last RGB images."""
    return (batch_size, IMAGE_PIXELS) if model == "book" else (batch_size, image_size, image_size, 3)


def build_inference(case: Case, backend: Backend) -> Prepared:
    """One request of `batch_size` samples, on inputs made on the device; the output is checked against eager."""
    params = dict(case.params)
    model_name, mode = str(params["model"]), str(params["mode"])
    batch_size, image_size = int(params["batch_size"]), int(params["image_size"])
    where = tf_device(case.device)
    model = cached_model(case.device.name, model_name, image_size)

    def forward(x: tf.Tensor) -> tf.Tensor:
        return model(x, training=False)

    with tf.device(where):
        x = tf.random.stateless_uniform(input_shape(model_name, batch_size, image_size), seed=(SEED, batch_size))
        reference = forward(x).numpy()  # eager: what every mode must reproduce
    run: Callable[[tf.Tensor], tf.Tensor] = {
        "eager": forward,
        "function": tf.function(forward),
        "xla": tf.function(forward, jit_compile=True),
    }[mode]

    def call() -> Any:
        with tf.device(where):
            return run(x)

    def facts(median_s: float) -> dict[str, Any]:
        tf32 = case.device.kind == "gpu" and tf.config.experimental.tensor_float_32_execution_enabled()
        return {
            **reference_facts(call().numpy(), reference, "tf32" if tf32 else "float32"),
            "parameters": int(model.count_params()),
            "input_shape": list(x.shape),
        }

    return Prepared(call, facts)
