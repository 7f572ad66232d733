"""What every torch builder shares: dtypes and the torch.device of a suite device."""

from __future__ import annotations

import torch

from bench.devices import Device

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def torch_device(device: Device) -> torch.device:
    """The torch.device for a suite device: CPU:0 -> cpu, GPU:1 -> cuda:1."""
    if device.kind == "cpu":
        return torch.device("cpu")
    return torch.device("cuda", int(device.name.split(":")[1]))
