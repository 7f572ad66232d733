"""Causal attention in TensorFlow: softmax(Q Kᵀ / √d + causal mask) V in tf ops, compiled by XLA.

TensorFlow has no fused attention op of its own: Keras' MultiHeadAttention computes exactly these einsums around
its projections. The call is one `tf.function(jit_compile=True)`, so XLA fuses the scaling, the mask and the
softmax around the two batched matmuls; with the backward pass, the gradients of Q, K and V for a fixed upstream
gradient come from a GradientTape inside the same compiled function. XLA materialises the seq_len² scores (no
flash-style tiling), so the largest GPU cases may run out of memory: a recorded skip, like any other.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np
import tensorflow as tf

from bench.backends.base import Backend, CaseSkipped, Prepared
from bench.backends.tf_common import DTYPES, tf_device
from bench.cases import Case
from bench.workloads.attention import (
    JIT,
    LAYOUT,
    check_rows,
    dtype_unsupported,
    reference_facts,
    reference_rows,
    variant,
)


def causal_attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) -> tf.Tensor:
    """softmax(Q Kᵀ / √d, masked so that query i sees keys 0..i) V over (batch, heads, seq_len, head_dim)."""
    seq_len, head_dim = q.shape[-2], q.shape[-1]
    scores = tf.einsum("bhqd,bhkd->bhqk", q, k) * tf.cast(1.0 / math.sqrt(head_dim), q.dtype)
    visible = tf.linalg.band_part(tf.ones((seq_len, seq_len), tf.bool), -1, 0)
    scores = tf.where(visible, scores, tf.cast(-math.inf, scores.dtype))
    return tf.einsum("bhqk,bhkd->bhqd", tf.nn.softmax(scores, axis=-1), v)


def forward_backward(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, d_out: tf.Tensor) -> tuple[tf.Tensor, ...]:
    """(out, dQ, dK, dV) for the upstream gradient `d_out`."""
    with tf.GradientTape() as tape:
        tape.watch([q, k, v])
        out = causal_attention(q, k, v)
    dq, dk, dv = tape.gradient(out, [q, k, v], output_gradients=d_out)
    return out, dq, dk, dv


def build_attention(case: Case, backend: Backend) -> Prepared:
    """Q, K, V (and the upstream gradient) made on the device; the call runs the compiled pass there."""
    p = case.params
    dtype_name = str(p["dtype"])
    reason = dtype_unsupported(case.device, dtype_name)
    if reason is not None:
        raise CaseSkipped("unsupported", reason)
    backward = p["pass"] == "forward+backward"
    shape = (int(p["batch"]), int(p["heads"]), int(p["seq_len"]), int(p["head_dim"]))
    where, dtype = tf_device(case.device), DTYPES[dtype_name]
    with tf.device(where):
        q, k, v, d_out = (tf.cast(tf.random.stateless_normal(shape, seed=(0, i)), dtype) for i in range(4))

    # one tf.function per case (one shape and dtype each); TF counts traces per Python code object, so a plain
    # function or closure shared by the cases would warn of "excessive retracing": a partial is its own key
    compiled = tf.function(partial(forward_backward if backward else causal_attention), jit_compile=True)
    inputs = (q, k, v, d_out) if backward else (q, k, v)

    def call() -> Any:
        with tf.device(where):
            return compiled(*inputs)

    result = call()  # the checked call, untimed (it also compiles)
    out, dq = (result[0], result[1]) if backward else (result, None)
    rows = check_rows(shape[2])
    head = [to_numpy(t[0, 0]) for t in (q, k, v, d_out)]
    ref_out, ref_dq = reference_rows(*head[:3], rows, head[3] if backward else None)
    checked = reference_facts(
        dtype_name, to_numpy(out[0, 0])[rows], ref_out, None if dq is None else to_numpy(dq[0, 0])[rows], ref_dq
    )
    del result, out, dq

    def facts(median_s: float) -> dict[str, Any]:
        return {"jit": JIT, "layout": LAYOUT, "variant": variant(p), **checked}

    return Prepared(call, facts)


def to_numpy(tensor: tf.Tensor) -> np.ndarray:
    """A tensor on any device as a float64 numpy array."""
    return tf.cast(tensor, tf.float64).numpy()
