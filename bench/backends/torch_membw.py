"""Memory bandwidth in torch: copy_ into a preallocated array, triad as one fused add with alpha."""

from __future__ import annotations

from typing import Any

import torch

from bench.backends.base import Backend, Prepared
from bench.backends.torch_common import torch_device
from bench.cases import Case
from bench.workloads.membw import FILL, TRIAD_SCALAR, verify


def build_membw(case: Case, backend: Backend) -> Prepared:
    """Three float32 arrays filled on the device and an output; the call runs the case's kernel into the output.

    copy: `out.copy_(a)` (a device-to-device memcpy on GPUs); triad: `torch.add(b, c, alpha=s, out=out)`, one
    kernel that reads b and c and writes out, as STREAM's triad. The output is written in place each call.
    """
    kernel, count = str(case.params["kernel"]), int(case.params["bytes"]) // 4
    where = torch_device(case.device)
    a, b, c = (torch.full((count,), FILL[name], dtype=torch.float32, device=where) for name in ("a", "b", "c"))
    out = torch.zeros(count, dtype=torch.float32, device=where)  # zeros, not empty: its pages are touched here
    if kernel == "copy":

        def call() -> Any:
            return out.copy_(a)

        how = "out.copy_(a)"
    else:

        def call() -> Any:
            return torch.add(b, c, alpha=TRIAD_SCALAR, out=out)

        how = f"torch.add(b, c, alpha={TRIAD_SCALAR:g}, out=out)"

    def facts(median_s: float) -> dict[str, Any]:
        result = call()
        first, last = (float(x) for x in result[[0, count - 1]].cpu())
        source = a if kernel == "copy" else b
        fresh = result.data_ptr() != source.data_ptr()
        in_place = result.data_ptr() == out.data_ptr()
        return {
            "kernel": kernel,
            "how": how,
            "buffers": "preallocated",
            "fresh_buffer": fresh,
            "in_place": in_place,
            **verify(kernel, first, last),
        }

    return Prepared(call, facts)
