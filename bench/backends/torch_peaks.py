"""The matmul peak search in torch (bench/workloads/peaks.py): shapes timed back to back, the best one timed after."""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

import torch

from bench.backends.base import Backend, Prepared
from bench.backends.torch_common import DTYPES, torch_device
from bench.backends.torch_matmul import fp8_matmul
from bench.cases import Case
from bench.workloads.matmul import FP8
from bench.workloads.peaks import Shape, batch_calls, best_shape_facts, search, search_shapes

BATCHES = 2


def shape_call(shape: Shape, dtype: str, where: torch.device) -> Callable[[], Any]:
    """The call of one (M, N, K) multiply in `dtype` on `where`, its inputs made once."""
    m, n, k = shape
    if dtype == FP8:
        return fp8_matmul(n, where, m=m, k=k)
    a = torch.randn(m, k, device=where, generator=torch.Generator(where).manual_seed(1)).to(DTYPES[dtype])
    b = torch.randn(k, n, device=where, generator=torch.Generator(where).manual_seed(2)).to(DTYPES[dtype])
    return lambda: torch.matmul(a, b)


def build_peaks(case: Case, backend: Backend) -> Prepared:
    """Search shapes for the case's time budget; the call to time is the best shape's."""
    dtype, budget = str(case.params["dtype"]), float(case.params["seconds"])
    where = torch_device(case.device)

    def seconds_per_call(shape: Shape) -> float:
        call = shape_call(shape, dtype, where)
        start = perf_counter()
        call()
        backend.sync()  # the first call picks its kernel
        calls = batch_calls(perf_counter() - start)
        batches = []
        for _ in range(BATCHES):  # the faster of two batches: a stray stall in one does not sink a good shape
            start = perf_counter()
            for _ in range(calls):
                call()
            backend.sync()
            batches.append((perf_counter() - start) / calls)
        return min(batches)

    result = search(search_shapes(case.device, dtype), seconds_per_call, budget, perf_counter)
    if case.device.kind == "gpu":
        torch.cuda.empty_cache()  # the shapes searched leave cached blocks behind
    return Prepared(shape_call(result.best, dtype, where), lambda median_s: best_shape_facts(result, median_s))
