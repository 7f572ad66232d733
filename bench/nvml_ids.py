"""Matching backend GPUs to NVML devices by PCI bus id or UUID (pure; never by index alone).

CUDA numbers GPUs fastest first (or as `CUDA_VISIBLE_DEVICES` lists them), NVML by PCI bus,
so `GPU:0` in TensorFlow is often not NVML device 0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_BUS_ID = re.compile(
    r"^(?:(?P<domain>[0-9a-fA-F]{1,8}):)?(?P<bus>[0-9a-fA-F]{1,2}):(?P<device>[0-9a-fA-F]{1,2})"
    r"(?:\.(?P<function>[0-7]))?$"
)
_DESC_BUS_ID = re.compile(r"pci bus id:\s*([0-9a-fA-F:.]+)")


def normalise_bus_id(bus_id: str | bytes | None) -> str | None:
    """`00000000:3B:00.0`, `0000:3b:00.0` and `3b:00.0` all become `0000:3b:00.0`; junk gives None."""
    if bus_id is None:
        return None
    text = bus_id.decode(errors="replace") if isinstance(bus_id, bytes) else str(bus_id)
    match = _BUS_ID.match(text.strip().rstrip("\x00"))
    if match is None:
        return None
    domain = int(match["domain"] or "0", 16)
    function = int(match["function"] or "0", 16)
    return f"{domain:04x}:{int(match['bus'], 16):02x}:{int(match['device'], 16):02x}.{function:x}"


def normalise_uuid(uuid: str | bytes | None) -> str | None:
    """`GPU-1a2b…` and `1A2B…` (torch leaves the prefix off) both become `1a2b…`; empty gives None."""
    if uuid is None:
        return None
    text = uuid.decode(errors="replace") if isinstance(uuid, bytes) else str(uuid)
    text = text.strip().lower()
    for prefix in ("gpu-", "mig-"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text or None


def bus_id_from_tf_description(physical_device_desc: str) -> str | None:
    """The PCI bus id in TF's `physical_device_desc` ("device: 0, name: …, pci bus id: 0000:3b:00.0, …")."""
    match = _DESC_BUS_ID.search(physical_device_desc or "")
    return normalise_bus_id(match.group(1)) if match else None


def map_tf_gpus(tf_gpus: Sequence[Mapping[str, object]], nvml_gpus: Sequence[Mapping[str, object]]) -> dict[str, int]:
    """Map backend GPU names (`GPU:0`) to NVML indices by PCI bus id, else UUID; unmatched GPUs are left out.

    `tf_gpus` items carry `device` (or `name`) plus `pci_bus_id` and/or `uuid`;
    `nvml_gpus` items carry `index`, `pci_bus_id` and `uuid` (as `Telemetry.gpus` gives them).
    """
    by_bus: dict[str, int] = {}
    by_uuid: dict[str, int] = {}
    for gpu in nvml_gpus:
        index = gpu.get("index")
        if not isinstance(index, int):
            continue
        bus = normalise_bus_id(_text(gpu.get("pci_bus_id")))
        uuid = normalise_uuid(_text(gpu.get("uuid")))
        if bus:
            by_bus[bus] = index
        if uuid:
            by_uuid[uuid] = index
    mapping: dict[str, int] = {}
    for gpu in tf_gpus:
        name = _text(gpu.get("device")) or _text(gpu.get("name"))
        if not name:
            continue
        bus = normalise_bus_id(_text(gpu.get("pci_bus_id")))
        uuid = normalise_uuid(_text(gpu.get("uuid")))
        if bus and bus in by_bus:
            mapping[name] = by_bus[bus]
        elif uuid and uuid in by_uuid:
            mapping[name] = by_uuid[uuid]
    return mapping


def tf_gpu_identities() -> list[dict[str, str | None]]:
    """TensorFlow's GPUs as `[{"device": "GPU:0", "pci_bus_id": "0000:3b:00.0"}]` (imports TensorFlow)."""
    from tensorflow.python.client import device_lib  # imported here: only the measuring side pays for TF

    found: list[dict[str, str | None]] = []
    for dev in device_lib.list_local_devices():
        if dev.device_type != "GPU":
            continue
        name = dev.name.split("device:")[-1]
        found.append({"device": name, "pci_bus_id": bus_id_from_tf_description(dev.physical_device_desc)})
    return found


def torch_gpu_identities() -> list[dict[str, str | None]]:
    """torch's GPUs as `[{"device": "GPU:0", "pci_bus_id": …, "uuid": …}]` (imports torch)."""
    import torch  # imported here: torch is optional

    found: list[dict[str, str | None]] = []
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        domain = getattr(props, "pci_domain_id", None)
        bus = getattr(props, "pci_bus_id", None)
        device = getattr(props, "pci_device_id", None)
        bus_id = (
            f"{domain:04x}:{bus:02x}:{device:02x}.0"
            if isinstance(domain, int) and isinstance(bus, int) and isinstance(device, int)
            else None
        )
        uuid = getattr(props, "uuid", None)
        found.append({"device": f"GPU:{i}", "pci_bus_id": bus_id, "uuid": str(uuid) if uuid else None})
    return found


def _text(value: object) -> str | None:
    """A str for str/bytes values, None otherwise."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value if isinstance(value, str) else None
