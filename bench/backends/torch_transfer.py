"""Host-device copies in torch: pageable or pinned host memory, one direction or both at once on two streams."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from bench.backends.base import Backend, Prepared
from bench.backends.torch_common import torch_device
from bench.cases import Case


def build_transfer(case: Case, backend: Backend) -> Prepared:
    """A float32 host array onto the device (h2d), a device tensor into host memory (d2h), or both at once.

    pageable: a numpy-backed host tensor, copied synchronously (the driver stages it through its own pinned
    buffer). pinned: a `pin_memory()` host tensor, copied by DMA with `non_blocking=True`; the sync after each
    call waits for it. both: pinned h2d and d2h of the same size on two CUDA streams at once. On the CPU both
    directions are torch's zero-copy path (the tensor shares the numpy buffer). The call returns the device-side
    tensor first, so its placement is checked.
    """
    count = int(case.params["bytes"]) // 4
    direction, memory = str(case.params["direction"]), str(case.params["host_memory"])
    where = torch_device(case.device)
    on_gpu = case.device.kind == "gpu"
    pinned = memory == "pinned"
    host = np.random.default_rng(0).random(count, dtype=np.float32)
    facts: dict[str, Any] = {
        "pinned": pinned,
        "numpy_interop": "CPU tensors share memory with numpy (no copy)" if not on_gpu else "copied over the host link",
    }
    if direction == "both":
        return _both(case, host, facts)
    if direction == "h2d":
        source = torch.from_numpy(host)
        if pinned:
            source = source.pin_memory()
        facts["copy"] = (
            f"{memory} host tensor .to('{where}', non_blocking={pinned})"
            if on_gpu
            else "torch.from_numpy(array).to('cpu'): shares the numpy buffer, no copy"
        )

        def h2d() -> Any:
            return source.to(where, non_blocking=pinned)

        def h2d_facts(median_s: float) -> dict[str, Any]:
            shared = not on_gpu and bool(np.shares_memory(host, h2d().numpy()))
            return {**facts, "zero_copy": shared}  # measured, as TF's

        return Prepared(h2d, facts=h2d_facts)

    on_device = torch.from_numpy(host).to(where)
    if on_gpu:
        target = torch.empty(count, dtype=torch.float32, pin_memory=pinned)
        facts["copy"] = f"{memory} host tensor .copy_(device tensor, non_blocking={pinned}), then .numpy()"

        def d2h() -> Any:
            return on_device, target.copy_(on_device, non_blocking=pinned).numpy()

    else:
        facts["copy"] = "tensor.cpu().numpy(): shares the tensor's buffer, no copy"

        def d2h() -> Any:
            return on_device, on_device.cpu().numpy()

    def d2h_facts(median_s: float) -> dict[str, Any]:
        shared = not on_gpu and bool(np.shares_memory(d2h()[1], d2h()[1]))
        return {**facts, "zero_copy": shared}  # measured, as TF's

    return Prepared(d2h, facts=d2h_facts)


def _both(case: Case, host: np.ndarray, facts: dict[str, Any]) -> Prepared:
    """Pinned h2d and d2h of the same size at once, each on its own CUDA stream (GB/s counts both)."""
    where = torch_device(case.device)
    upload_from = torch.from_numpy(host).pin_memory()
    upload_to = torch.empty_like(upload_from, device=where)
    download_from = torch.from_numpy(host).to(where)
    download_to = torch.empty_like(upload_from).pin_memory()
    streams = (torch.cuda.Stream(where), torch.cuda.Stream(where))
    facts["copy"] = "pinned h2d and d2h at once, one CUDA stream each (non_blocking=True)"

    def both() -> Any:
        current = torch.cuda.current_stream(where)
        for stream in streams:
            stream.wait_stream(current)
        with torch.cuda.stream(streams[0]):
            upload_to.copy_(upload_from, non_blocking=True)
        with torch.cuda.stream(streams[1]):
            download_to.copy_(download_from, non_blocking=True)
        return upload_to  # the backend's sync waits for every stream of the device

    return Prepared(both, facts=lambda median_s: {**facts, "zero_copy": False})
