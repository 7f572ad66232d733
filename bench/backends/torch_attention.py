"""Causal attention in torch: `scaled_dot_product_attention(is_causal=True)`, and the SDPA backend it used.

torch picks one of its SDPA kernels per call: on CUDA flash, memory-efficient, cuDNN or the math fallback (in
`torch.backends.cuda` priority order, each subject to dtype, head_dim and GPU checks); on the CPU its own flash
kernel (`_scaled_dot_product_flash_attention_for_cpu`, for float32, float64, bfloat16 and float16) before math
(aten/src/ATen/native/transformers/sdp_utils_cpp.cpp, `priority_order_cpp`). Which one ran is recorded from what
the dispatcher saw in the checked, untimed call: each fused kernel is one aten op; the math fallback decomposes
into bmm and softmax, so a call that reached no fused kernel ran math.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from bench.backends.base import Backend, CaseSkipped, Prepared
from bench.backends.torch_common import DTYPES, torch_device
from bench.cases import Case
from bench.workloads.attention import (
    LAYOUT,
    check_rows,
    dtype_unsupported,
    reference_facts,
    reference_rows,
    sdpa_backend,
    variant,
)


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A tensor on any device as a float64 numpy array."""
    return tensor.detach().double().cpu().numpy()


class _Ops(TorchDispatchMode):
    """Collects the names of the aten ops dispatched while it is active."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        self.ops.append(func.overloadpacket.__name__)
        return func(*args, **(kwargs or {}))


def build_attention(case: Case, backend: Backend) -> Prepared:
    """Q, K, V (and the upstream gradient) made on the device; the call is one causal SDPA (with its backward)."""
    p = case.params
    dtype_name = str(p["dtype"])
    reason = dtype_unsupported(case.device, dtype_name)
    if reason is not None:
        raise CaseSkipped("unsupported", reason)
    backward = p["pass"] == "forward+backward"
    shape = (int(p["batch"]), int(p["heads"]), int(p["seq_len"]), int(p["head_dim"]))
    where, dtype = torch_device(case.device), DTYPES[dtype_name]
    generator = torch.Generator(where).manual_seed(0)
    q, k, v, d_out = (torch.randn(shape, device=where, generator=generator).to(dtype) for _ in range(4))
    for tensor in (q, k, v):
        tensor.requires_grad_(backward)

    def forward() -> torch.Tensor:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    def call() -> Any:
        out = forward()
        return torch.autograd.grad(out, (q, k, v), d_out) if backward else out

    with _Ops() as seen:
        out = forward()
    kind, kernel = sdpa_backend(seen.ops)
    rows = check_rows(shape[2])
    head = [to_numpy(t[0, 0]) for t in (q, k, v, d_out)]
    ref_out, ref_dq = reference_rows(*head[:3], rows, head[3] if backward else None)
    dq = to_numpy(torch.autograd.grad(out, (q,), d_out)[0][0, 0])[rows] if backward else None
    checked = reference_facts(dtype_name, to_numpy(out[0, 0])[rows], ref_out, dq, ref_dq)
    del out

    def facts(median_s: float) -> dict[str, Any]:
        return {"sdpa_backend": kind, "sdpa_kernel": kernel, "layout": LAYOUT, "variant": variant(p), **checked}

    return Prepared(call, facts)
