"""The Keras models the TensorFlow workloads share: the book's MNIST model and ResNet-50 (no weights downloaded)."""

from __future__ import annotations

import keras

from bench.workloads.mnist import HIDDEN
from bench.workloads.mnist_data import CLASSES, IMAGE_PIXELS


def book_model() -> keras.Model:
    """Dense 784 -> 1024 -> 1024 -> 10 with no activations, exactly as the book has it."""
    return keras.Sequential(
        [keras.Input((IMAGE_PIXELS,)), *(keras.layers.Dense(units) for units in HIDDEN), keras.layers.Dense(CLASSES)]
    )


def resnet50(image_size: int = 224, classes: int = 1000) -> keras.Model:
    """keras.applications' ResNet-50, randomly initialised (weights=None: nothing is downloaded), channels last."""
    return keras.applications.ResNet50(
        weights=None, input_shape=(image_size, image_size, 3), classes=classes, classifier_activation=None
    )
