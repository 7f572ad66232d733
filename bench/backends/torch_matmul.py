"""Square matmul in torch: two random n x n matrices made on the device with fixed seeds.

FP8 (float8_e4m3fn) goes through torch._scaled_mm, as NVIDIA's and stas00's MAMF-finder benchmarks do: both
operands in e4m3 with per-tensor float32 scales of 1, the second operand column-major (cuBLASLt's FP8 kernels
want A row-major and B column-major), the product in bfloat16. Since torch 2.5 _scaled_mm returns the product
alone and takes scale_a and scale_b as required tensors; before that it returned (product, amax).
"""

from __future__ import annotations

from typing import Any

import torch

from bench.backends.base import Backend, CaseSkipped, Prepared
from bench.backends.torch_common import DTYPES, torch_device
from bench.cases import Case
from bench.workloads.matmul import FP8, fp8_unsupported


def build_matmul(case: Case, backend: Backend) -> Prepared:
    """Two random n x n matrices made on the device with fixed seeds; the call multiplies them there."""
    n, name = int(case.params["n"]), str(case.params["dtype"])
    where = torch_device(case.device)
    if name == FP8:
        reason = fp8_unsupported(case.device)
        if reason is not None:
            raise CaseSkipped("unsupported", reason)
        return Prepared(fp8_matmul(n, where))
    dtype = DTYPES[name]
    a = torch.randn(n, n, device=where, generator=torch.Generator(where).manual_seed(1)).to(dtype)
    b = torch.randn(n, n, device=where, generator=torch.Generator(where).manual_seed(2)).to(dtype)
    return Prepared(lambda: torch.matmul(a, b))


def fp8_matmul(n: int, where: torch.device, m: int | None = None, k: int | None = None) -> Any:
    """The call of an (m x k) by (k x n) FP8 matmul on `where` (m and k default to n), inputs made once."""
    m, k = m or n, k or n
    a = torch.randn(m, k, device=where, generator=torch.Generator(where).manual_seed(1)).to(torch.float8_e4m3fn)
    # made n x k and transposed: a column-major k x n operand, as _scaled_mm requires
    b = torch.randn(n, k, device=where, generator=torch.Generator(where).manual_seed(2)).to(torch.float8_e4m3fn).t()
    scale = torch.ones(1, device=where, dtype=torch.float32)

    def call() -> torch.Tensor:
        out = torch._scaled_mm(a, b, scale_a=scale, scale_b=scale, out_dtype=torch.bfloat16)
        return out[0] if isinstance(out, tuple) else out  # torch < 2.5 returned (product, amax)

    return call
