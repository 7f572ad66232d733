"""Host-device copies in TensorFlow: `tf.constant(ndarray)` onto the device, `.numpy()` or a memoryview back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from bench.backends.base import Backend, Prepared
from bench.backends.tf_common import tf_device
from bench.cases import Case
from bench.workloads.transfer import TF_COPY_NOTE


def build_transfer(case: Case, backend: Backend) -> Prepared:
    """h2d: a host float32 array becomes a tensor on the device; d2h: a device tensor becomes a numpy array.

    `d2h` uses `.numpy()`, which copies even on the CPU in TF 2; `d2h-view` uses `np.asarray(memoryview(t))`,
    zero-copy for CPU tensors. Whether the result shared memory is measured, not assumed (`zero_copy`).

    The host side is always pageable (TF_COPY_NOTE): TensorFlow 2 has no public way to pin a tensor's host memory.
    """
    direction, nbytes = str(case.params["direction"]), int(case.params["bytes"])
    if case.params["host_memory"] != "pageable":
        raise ValueError(f"TensorFlow cannot pin host memory: no {case.params['host_memory']} copies")
    where = tf_device(case.device)
    copy = {"pinned": False, "copy": TF_COPY_NOTE}
    host = np.random.default_rng(0).random(nbytes // 4, dtype=np.float32)
    if direction == "h2d":

        def call() -> Any:
            with tf.device(where):
                return tf.identity(tf.constant(host))

        def h2d_facts(median_s: float) -> dict[str, Any]:
            return {**copy, "zero_copy": bool(np.shares_memory(host, np.asarray(memoryview(call()))))}

        return Prepared(call, h2d_facts if case.device.kind == "cpu" else lambda median_s: {**copy, "zero_copy": False})

    with tf.device(where):
        source = tf.identity(tf.constant(host))
    read: Callable[[], np.ndarray] = source.numpy if direction == "d2h" else lambda: np.asarray(memoryview(source))

    def call_d2h() -> Any:
        read()
        return source

    return Prepared(call_d2h, lambda median_s: {**copy, "zero_copy": bool(np.shares_memory(read(), read()))})
