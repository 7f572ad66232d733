"""Memory bandwidth in TensorFlow: copy and triad written into a preallocated tf.Variable by one XLA kernel each."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from bench.backends.base import Backend, Prepared
from bench.backends.tf_common import tf_device
from bench.cases import Case
from bench.workloads.membw import FILL, TRIAD_SCALAR, verify


def _buffer_address(value: Any) -> int:
    """Where a CPU tensor's data lives (to prove a copy went into the preallocated buffer, not a new one)."""
    return int(np.asarray(memoryview(value)).ctypes.data)


def build_membw(case: Case, backend: Backend) -> Prepared:
    """Three float32 arrays and a destination variable, all made and touched on the device before any timing.

    STREAM's convention: arrays allocated once and reused, so a call moves bytes instead of faulting in new pages.
    Both kernels run under `tf.function(jit_compile=True)` and assign into the variable, which XLA updates in place:
    copy `dst = a`, triad `dst = b + s * c` (one fused pass that reads b and c and writes dst). An eager
    `dst.assign(a)` would not do: TensorFlow then lets the variable share a's buffer and copies nothing.
    """
    kernel, count = str(case.params["kernel"]), int(case.params["bytes"]) // 4
    where = tf_device(case.device)
    with tf.device(where):
        a, b, c = (tf.fill([count], FILL[name]) for name in ("a", "b", "c"))
        dst = tf.Variable(tf.zeros([count]), trainable=False)  # zero-filled: its pages are touched here

    if kernel == "copy":

        @tf.function(jit_compile=True)
        def run() -> None:
            dst.assign(a)

        how = "dst.assign(a) into a preallocated tf.Variable, one XLA kernel (jit_compile=True)"
    else:

        @tf.function(jit_compile=True)
        def run() -> None:
            dst.assign(b + TRIAD_SCALAR * c)

        how = f"dst.assign(b + {TRIAD_SCALAR:g} * c) into a preallocated tf.Variable, one XLA fusion"

    def call() -> Any:
        with tf.device(where):
            run()
        return dst  # the variable, not a read of it: a live read would make the next assign copy elsewhere

    def facts(median_s: float) -> dict[str, Any]:
        found: dict[str, Any] = {"kernel": kernel, "how": how, "buffers": "preallocated"}
        if case.device.kind == "cpu":  # measured, not assumed: the kernel writes into dst's own buffer in place
            before = _buffer_address(dst.value())
            call()
            value = dst.value()
            source = a if kernel == "copy" else b
            found["fresh_buffer"] = not np.shares_memory(np.asarray(memoryview(value)), np.asarray(memoryview(source)))
            found["in_place"] = _buffer_address(value) == before
        else:
            call()
            value = dst.value()
        first, last = (float(x) for x in tf.gather(value, [0, count - 1]).numpy())
        return {**found, **verify(kernel, first, last)}

    return Prepared(call, facts)
