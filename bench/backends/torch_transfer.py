"""Host-device copies in torch: a numpy array onto the device, a device tensor back into host memory."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from bench.backends.base import Backend, Prepared
from bench.backends.torch_common import torch_device
from bench.cases import Case


def build_transfer(case: Case, backend: Backend) -> Prepared:
    """h2d: a host float32 array onto the device; d2h: a device tensor into host memory (numpy)."""
    # On the CPU both are torch's zero-copy path (the tensor shares the numpy buffer); GPU copies use pinned
    # host memory. The call returns the device-side tensor first, so its placement is checked.
    count = int(case.params["bytes"]) // 4
    where = torch_device(case.device)
    on_gpu = case.device.kind == "gpu"
    host = np.random.default_rng(0).random(count, dtype=np.float32)
    facts: dict[str, Any] = {
        "pinned": on_gpu,
        "numpy_interop": "CPU tensors share memory with numpy (no copy)" if not on_gpu else "copied over PCIe/NVLink",
    }
    if case.params["direction"] == "h2d":
        source = torch.from_numpy(host)
        if on_gpu:
            source = source.pin_memory()
            facts["copy"] = f"pinned host tensor .to('{where}', non_blocking=True)"
        else:
            facts["copy"] = "torch.from_numpy(array).to('cpu'): shares the numpy buffer, no copy"

        def h2d() -> Any:
            return source.to(where, non_blocking=on_gpu)

        def h2d_facts(median_s: float) -> dict[str, Any]:
            shared = not on_gpu and bool(np.shares_memory(host, h2d().numpy()))
            return {**facts, "zero_copy": shared}  # measured, as TF's

        return Prepared(h2d, facts=h2d_facts)

    on_device = torch.from_numpy(host).to(where)
    if on_gpu:
        target = torch.empty(count, dtype=torch.float32, pin_memory=True)
        facts["copy"] = "pinned host tensor .copy_(device tensor, non_blocking=True), then .numpy()"

        def d2h() -> Any:
            return on_device, target.copy_(on_device, non_blocking=True).numpy()

    else:
        facts["copy"] = "tensor.cpu().numpy(): shares the tensor's buffer, no copy"

        def d2h() -> Any:
            return on_device, on_device.cpu().numpy()

    def d2h_facts(median_s: float) -> dict[str, Any]:
        shared = not on_gpu and bool(np.shares_memory(d2h()[1], d2h()[1]))
        return {**facts, "zero_copy": shared}  # measured, as TF's

    return Prepared(d2h, facts=d2h_facts)
