"""MNIST for the training workloads: the real file when it is on disk, else a learnable synthetic stand-in.

Nothing is ever downloaded here. numpy only, so every backend shares it.
"""

from __future__ import annotations

import functools
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ENV_VAR = "DEVICEBENCH_MNIST"
KERAS_CACHE = Path("~/.keras/datasets/mnist.npz")
IMAGE_PIXELS = 784
CLASSES = 10


class MnistDataError(ValueError):
    """An MNIST file that is missing, corrupt or not MNIST; the message is one line naming it."""


@dataclass(frozen=True)
class MnistData:
    """Training images as float32 rows in [0, 1], integer labels, and where they came from."""

    x: np.ndarray  # (n, 784) float32
    y: np.ndarray  # (n,) int64
    source: str  # "mnist" or "synthetic"
    path: str | None


def find_mnist(option: str | None) -> Path | None:
    """The MNIST file to use: --mnist PATH, else $DEVICEBENCH_MNIST, else Keras' cache if present, else None."""
    for given in (option, os.environ.get(ENV_VAR)):
        if given:
            path = Path(given).expanduser()
            if not path.is_file():
                raise MnistDataError(f"MNIST file {path} does not exist")
            return path
    cached = KERAS_CACHE.expanduser()
    return cached if cached.is_file() else None


def read_mnist(path: Path) -> MnistData:
    """The training half of a Keras-format mnist.npz (x_train uint8 (n, 28, 28), y_train (n,))."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        raise MnistDataError(f"{path} is not a readable Keras mnist.npz ({type(exc).__name__}: {exc})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):  # a .npy file: one bare array, no x_train/y_train
        raise MnistDataError(f"{path} is a single .npy array, not a Keras mnist.npz (x_train and y_train)")
    try:
        with loaded as npz:
            x, y = npz["x_train"], npz["y_train"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        raise MnistDataError(f"{path} is not a readable Keras mnist.npz ({type(exc).__name__}: {exc})") from None
    if x.ndim != 3 or x.shape[1:] != (28, 28) or y.shape != (x.shape[0],) or x.shape[0] == 0:
        raise MnistDataError(f"{path}: expected x_train (n, 28, 28) and y_train (n,), got {x.shape} and {y.shape}")
    if x.dtype.kind not in "uif" or y.dtype.kind not in "uif":
        raise MnistDataError(f"{path}: expected numeric x_train and y_train, got {x.dtype} and {y.dtype}")
    if y.min() < 0 or y.max() >= CLASSES or not np.array_equal(y, np.round(y)):
        raise MnistDataError(f"{path}: labels outside 0..9")
    return MnistData(x.reshape(len(x), IMAGE_PIXELS).astype(np.float32) / 255.0, y.astype(np.int64), "mnist", str(path))


def synthetic_mnist(n: int, seed: int = 0) -> MnistData:
    """`n` MNIST-shaped samples labelled by a hidden linear teacher, so a model can learn them."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, IMAGE_PIXELS), dtype=np.float32)
    teacher = rng.standard_normal((IMAGE_PIXELS, CLASSES)).astype(np.float32)
    logits = (x - 0.5) @ teacher
    return MnistData(x, logits.argmax(axis=1).astype(np.int64), "synthetic", None)


@functools.lru_cache(maxsize=4)
def load_mnist(option: str | None, n: int) -> MnistData:
    """At most `n` training samples: real MNIST when found (see find_mnist), else synthetic ones."""
    path = find_mnist(option)
    data = read_mnist(path) if path else synthetic_mnist(n)
    return MnistData(data.x[:n], data.y[:n], data.source, data.path)


def batch_order(n: int, batches: int, batch_size: int, seed: int = 0) -> np.ndarray:
    """(batches, batch_size) sample indices: a fresh permutation per epoch, cut into full batches in order."""
    # The remainder of each epoch is dropped, as the TF builder's `batch(..., drop_remainder=True)`.
    if n < batch_size:
        raise ValueError(f"MNIST needs at least one batch of {batch_size} samples, got {n}")
    rng = np.random.default_rng(seed)
    per_epoch = n // batch_size
    epochs = [
        rng.permutation(n)[: per_epoch * batch_size].reshape(per_epoch, batch_size)
        for _ in range(-(-batches // per_epoch))
    ]
    return np.concatenate(epochs)[:batches]
