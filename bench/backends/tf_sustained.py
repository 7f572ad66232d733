"""The sustained matmul in TensorFlow: rounds of one large multiply, each result checksummed in float64."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from bench.backends.base import Backend, Prepared
from bench.backends.tf_common import DTYPES, tf_device
from bench.cases import Case
from bench.workloads.sustained import RoundChecker


def build_sustained(case: Case, backend: Backend) -> Prepared:
    """Two uniform [0, 1) n x n matrices on the device; each round multiplies them, then (untimed) sums the result."""
    n, dtype = int(case.params["n"]), DTYPES[str(case.params["dtype"])]
    where = tf_device(case.device)
    with tf.device(where):
        a = tf.cast(tf.random.uniform((n, n), seed=1), dtype)
        b = tf.cast(tf.random.uniform((n, n), seed=2), dtype)

    def call() -> Any:
        with tf.device(where):
            return tf.linalg.matmul(a, b)

    def checksum(out: Any) -> float:
        with tf.device(where):
            return float(tf.reduce_sum(tf.cast(out, tf.float64)).numpy())

    checker = RoundChecker(checksum)
    return Prepared(call, checker.facts, check_round=checker)
