"""Square matmul in torch: two random n x n matrices made on the device with fixed seeds."""

from __future__ import annotations

import torch

from bench.backends.base import Backend, Prepared
from bench.backends.torch_common import DTYPES, torch_device
from bench.cases import Case


def build_matmul(case: Case, backend: Backend) -> Prepared:
    """Two random n x n matrices made on the device with fixed seeds; the call multiplies them there."""
    n, dtype = int(case.params["n"]), DTYPES[str(case.params["dtype"])]
    where = torch_device(case.device)
    a = torch.randn(n, n, device=where, generator=torch.Generator(where).manual_seed(1)).to(dtype)
    b = torch.randn(n, n, device=where, generator=torch.Generator(where).manual_seed(2)).to(dtype)
    return Prepared(lambda: torch.matmul(a, b))
