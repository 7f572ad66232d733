"""Memory bandwidth in TensorFlow: copy with the DeepCopy op, triad fused into one pass by XLA."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from bench.backends.base import Backend, Prepared
from bench.backends.tf_common import tf_device
from bench.cases import Case
from bench.workloads.membw import FILL, TRIAD_SCALAR, verify


def build_membw(case: Case, backend: Backend) -> Prepared:
    """Three float32 arrays filled on the device; the call runs the case's kernel once.

    copy: `tf.raw_ops.DeepCopy` (a real copy into a new buffer on CPUs and GPUs, where `tf.identity` hands the
    same buffer back). triad: `b + s * c` under `tf.function(jit_compile=True)`, which XLA fuses into one pass
    that reads b and c and writes a (eager TF would run two kernels and move 5 arrays' worth of bytes).
    """
    kernel, count = str(case.params["kernel"]), int(case.params["bytes"]) // 4
    where = tf_device(case.device)
    with tf.device(where):
        a, b, c = (tf.fill([count], FILL[name]) for name in ("a", "b", "c"))
    if kernel == "copy":

        def call() -> Any:
            with tf.device(where):
                return tf.raw_ops.DeepCopy(x=a)

        how = "tf.raw_ops.DeepCopy(a)"
    else:

        @tf.function(jit_compile=True)
        def triad(b: tf.Tensor, c: tf.Tensor) -> tf.Tensor:
            return b + TRIAD_SCALAR * c

        def call() -> Any:
            with tf.device(where):
                return triad(b, c)

        how = f"b + {TRIAD_SCALAR:g} * c, one XLA fusion (jit_compile=True)"

    def facts(median_s: float) -> dict[str, Any]:
        out = call()
        first, last = (float(x) for x in tf.gather(out, [0, count - 1]).numpy())
        found: dict[str, Any] = {"kernel": kernel, "how": how, **verify(kernel, first, last)}
        if case.device.kind == "cpu":  # measured, not assumed: a new buffer, not the input handed back
            source = a if kernel == "copy" else b
            found["fresh_buffer"] = not np.shares_memory(np.asarray(memoryview(out)), np.asarray(memoryview(source)))
        return found

    return Prepared(call, facts)
