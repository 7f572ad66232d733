"""Checkpoints in TensorFlow: `tf.train.Checkpoint` write/read and Keras `model.save` / `keras.saving.load_model`.

A save call writes the model's weights from the device and fsyncs the files; a restore call drops the files
from the page cache and reads them back onto the device: `tf.train.Checkpoint.read` into an existing model,
`keras.saving.load_model` by building the model anew (what loading a `.keras` file costs, construction included).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from bench.backends.base import Backend, Prepared
from bench.backends.checkpoint_disk import ScratchFolder, disk_facts, evict_from_cache, files_under, sync_to_disk
from bench.backends.tf_common import tf_device
from bench.backends.tf_models import book_model, resnet50
from bench.cases import Case
from bench.workloads.checkpoint import FORMATS, weight_bytes


def make_model(model: str, where: str, seed: int) -> keras.Model:
    """The model with seeded random weights on the device (ResNet-50's weights do not depend on the image size)."""
    keras.utils.set_random_seed(seed)
    with tf.device(where):
        return book_model() if model == "book" else resnet50()


def weights_of(model: keras.Model) -> list[np.ndarray]:
    """Every weight of the model (trainable or not) as numpy arrays, in the model's order."""
    return [np.asarray(w.value.numpy()) for w in model.weights]  # the TF variable: Keras' .numpy() warns per call


def same_weights(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    """Whether two weight lists are bit for bit the same."""
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def build_checkpoint(case: Case, backend: Backend) -> Prepared:
    """Save or restore one model in one format, in a scratch folder beside the results (removed afterwards)."""
    fmt, direction, model_name = (str(case.params[k]) for k in ("format", "direction", "model"))
    if fmt not in FORMATS["tensorflow"]:
        raise ValueError(f"unknown TensorFlow checkpoint format {fmt!r}; formats: {', '.join(FORMATS['tensorflow'])}")
    where = tf_device(case.device)
    source = make_model(model_name, where, seed=0)
    expected = int(weight_bytes(dict(case.params)))
    held = sum(w.nbytes for w in weights_of(source))
    if held != expected:
        raise RuntimeError(f"the {model_name} model holds {held} bytes of weights, the workload counts {expected}")
    results_dir = backend.settings.get("results_dir")
    scratch = ScratchFolder(results_dir)  # removed in facts(), or when the case is dropped half-way
    folder = scratch.path
    path = folder / ("model.keras" if fmt == "keras" else "ckpt")
    if fmt == "tf-checkpoint":
        target = make_model(model_name, where, seed=1)  # other weights: a restore must overwrite every one
        checkpoint, restore_into = tf.train.Checkpoint(model=source), tf.train.Checkpoint(model=target)

        def save() -> None:
            checkpoint.write(str(path))

        def restore() -> keras.Model:
            with tf.device(where):
                restore_into.read(str(path)).assert_consumed()
            return target

    else:

        def save() -> None:
            source.save(path)

        def restore() -> keras.Model:
            with tf.device(where):
                return keras.saving.load_model(path)

    def saved() -> Any:
        save()
        sync_to_disk(files_under(folder))
        return source.weights[0].value

    last: dict[str, keras.Model] = {}

    def restored() -> Any:
        evict_from_cache(files_under(folder))
        last["model"] = restore()
        return last["model"].weights[0].value

    saved()  # a restore reads what a save wrote; a save overwrites it
    call: Callable[[], Any] = saved if direction == "save" else restored

    def facts(median_s: float) -> dict[str, Any]:
        files = files_under(folder)
        model = last["model"] if "model" in last else restore()  # a save is checked by reading its files back
        out = {
            **disk_facts(folder, results_dir, files),
            "weight_bytes": expected,
            "weights_equal": same_weights(weights_of(model), weights_of(source)),
        }
        out["file_mb_per_s"] = out["file_bytes"] / median_s / 1e6
        scratch.remove()
        return out

    return Prepared(call, facts)
