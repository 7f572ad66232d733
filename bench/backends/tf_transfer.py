"""Host-device copies in TensorFlow: `tf.constant(ndarray)` onto the device, `.numpy()` or a memoryview back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from bench.backends.base import Backend, Prepared
from bench.backends.tf_common import tf_device
from bench.cases import Case


def build_transfer(case: Case, backend: Backend) -> Prepared:
    """h2d: a host float32 array becomes a tensor on the device; d2h: a device tensor becomes a numpy array.

    `d2h` uses `.numpy()`, which copies even on the CPU in TF 2; `d2h-view` uses `np.asarray(memoryview(t))`,
    zero-copy for CPU tensors. Whether the result shared memory is measured, not assumed (`zero_copy`).
    """
    direction, nbytes = str(case.params["direction"]), int(case.params["bytes"])
    where = tf_device(case.device)
    host = np.random.default_rng(0).random(nbytes // 4, dtype=np.float32)
    if direction == "h2d":

        def call() -> Any:
            with tf.device(where):
                return tf.identity(tf.constant(host))

        def h2d_facts(median_s: float) -> dict[str, Any]:
            return {"zero_copy": bool(np.shares_memory(host, np.asarray(memoryview(call()))))}

        return Prepared(call, h2d_facts if case.device.kind == "cpu" else lambda median_s: {"zero_copy": False})

    with tf.device(where):
        source = tf.identity(tf.constant(host))
    read: Callable[[], np.ndarray] = source.numpy if direction == "d2h" else lambda: np.asarray(memoryview(source))

    def call_d2h() -> Any:
        read()
        return source

    return Prepared(call_d2h, lambda median_s: {"zero_copy": bool(np.shares_memory(read(), read()))})
