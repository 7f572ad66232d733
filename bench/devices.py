"""Devices as the suite sees them, and the `--devices` selection (pure, no framework imports)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass


class DeviceSelectionError(ValueError):
    """A `--devices` value that names no device, or a device that does not exist."""


@dataclass(frozen=True)
class Device:
    """One device of one backend, named like TensorFlow names it (`CPU:0`, `GPU:1`)."""

    backend: str
    name: str
    kind: str  # "cpu" or "gpu"
    model: str
    memory_bytes: int | None = None
    compute_capability: str | None = None
    pci_bus_id: str | None = None

    def as_dict(self) -> dict[str, object]:
        """The device as a JSON-ready dict."""
        return asdict(self)


def normalise_device_name(name: str) -> str:
    """`gpu:0`, `/device:GPU:0` and `/GPU:0` all become `GPU:0`."""
    match = re.search(r"(?:^|[/:])([A-Za-z_]+):(\d+)$", name.strip())
    if not match:
        raise DeviceSelectionError(f"{name!r} is not a device name like CPU:0 or GPU:1")
    return f"{match.group(1).upper()}:{match.group(2)}"


def select_devices(spec: str, available: Sequence[Device]) -> list[Device]:
    """The devices that `spec` (`all`, `cpu`, `gpu` or a list like `CPU:0,GPU:1`) picks out of `available`."""
    words = [w.strip() for w in spec.split(",") if w.strip()]
    if not words:
        raise DeviceSelectionError("--devices is empty; use all, cpu, gpu or a list like CPU:0,GPU:1")
    known = ", ".join(sorted({d.name for d in available})) or "none"
    chosen: list[Device] = []
    for word in words:
        low = word.lower()
        if low == "all":
            picked = list(available)
        elif low in ("cpu", "gpu"):
            picked = [d for d in available if d.kind == low]
            if not picked:
                raise DeviceSelectionError(f"--devices {word}: no {low.upper()} is visible; devices: {known}")
        else:
            wanted = normalise_device_name(word)
            picked = [d for d in available if d.name == wanted]
            if not picked:
                raise DeviceSelectionError(f"--devices: unknown device {word!r}; devices: {known}")
        chosen.extend(d for d in picked if d not in chosen)
    return chosen
