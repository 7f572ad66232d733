"""The sustained matmul in torch: rounds of one large multiply, each result checksummed in float64."""

from __future__ import annotations

import torch

from bench.backends.base import Backend, Prepared
from bench.backends.torch_common import DTYPES, torch_device
from bench.cases import Case
from bench.workloads.sustained import RoundChecker


def build_sustained(case: Case, backend: Backend) -> Prepared:
    """Two uniform [0, 1) n x n matrices on the device; each round multiplies them, then (untimed) sums the result."""
    n, dtype = int(case.params["n"]), DTYPES[str(case.params["dtype"])]
    where = torch_device(case.device)
    a = torch.rand(n, n, device=where, generator=torch.Generator(where).manual_seed(1)).to(dtype)
    b = torch.rand(n, n, device=where, generator=torch.Generator(where).manual_seed(2)).to(dtype)

    def checksum(out: torch.Tensor) -> float:
        return float(torch.sum(out, dtype=torch.float64).item())

    checker = RoundChecker(checksum)
    return Prepared(lambda: torch.matmul(a, b), checker.facts, check_round=checker)
