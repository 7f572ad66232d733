"""Square matmul in TensorFlow: two random n x n matrices made on the device, multiplied there."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from bench.backends.base import Backend, CaseSkipped, Prepared
from bench.backends.tf_common import DTYPES, tf_device
from bench.cases import Case
from bench.workloads.matmul import FP8, TF_NO_FP8


def build_matmul(case: Case, backend: Backend) -> Prepared:
    """Two random n x n matrices made on the device; the call multiplies them there (FP8: a recorded skip)."""
    if str(case.params["dtype"]) == FP8:
        raise CaseSkipped("unsupported", TF_NO_FP8)
    n, dtype = int(case.params["n"]), DTYPES[str(case.params["dtype"])]
    where = tf_device(case.device)
    with tf.device(where):
        a = tf.cast(tf.random.normal((n, n), seed=1), dtype)
        b = tf.cast(tf.random.normal((n, n), seed=2), dtype)

    def call() -> Any:
        with tf.device(where):
            return tf.linalg.matmul(a, b)

    return Prepared(call)
