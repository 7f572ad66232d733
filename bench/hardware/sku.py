"""Which SKU of the spec table an NVML GPU is: its name, memory and default power limit together.

    match = detect_sku(GpuIdentity(name="NVIDIA H100 PCIe", memory_total_bytes=81559 * 2**20,
                                   default_power_limit_w=350.0, pci_device_id=0x2331))
    match.spec.id      # "h100-pcie"
    match.reason       # "" when known, else "unknown SKU: no % shown (why)"

An exact NVML name picks the candidates (a generic name falls back to the SKU family's pattern); the PCI device
id, the total memory and the default power limit must then agree, and must leave exactly one SKU. A value NVML
did not report is skipped (and said so); a value that contradicts the table makes the GPU unknown rather than
guessed: H100 SXM and H100 PCIe share a name family and 80 GB but differ 2x in power and ~30 % in peak.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.hardware.specs import GpuSpec, load_specs, normalise_name

UNKNOWN = "unknown SKU: no % shown"
MIB = 1024 * 1024


@dataclass(frozen=True)
class GpuIdentity:
    """What NVML says about a board, as SKU detection needs it (None: not reported)."""

    name: str | None
    memory_total_bytes: int | None = None
    default_power_limit_w: float | None = None
    enforced_power_limit_w: float | None = None
    pcie_max_gen: int | None = None  # the GPU's own maximum generation
    pcie_max_width: int | None = None
    pci_device_id: int | None = None  # 16-bit device id (vendor 0x10de)
    pci_subsystem_id: int | None = None
    board_part_number: str | None = None
    compute_capability: tuple[int, int] | None = None

    @property
    def memory_mib(self) -> float | None:
        """Total memory in MiB."""
        return None if self.memory_total_bytes is None else self.memory_total_bytes / MIB

    def describe(self) -> str:
        """One line: name, memory, power limit, PCI id."""
        parts = [repr(self.name) if self.name else "no name"]
        if self.memory_mib is not None:
            parts.append(f"{self.memory_mib:.0f} MiB")
        if self.default_power_limit_w is not None:
            parts.append(f"{self.default_power_limit_w:g} W default limit")
        if self.pci_device_id is not None:
            parts.append(f"PCI 10de:{self.pci_device_id:04x}")
        return ", ".join(parts)


@dataclass(frozen=True)
class SkuMatch:
    """The detected SKU, or spec None with `reason` "unknown SKU: no % shown (why)"."""

    spec: GpuSpec | None
    reason: str = ""
    evidence: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        """Whether a SKU was matched (and % of peak may be shown)."""
        return self.spec is not None

    def as_dict(self) -> dict[str, object]:
        """The match as JSON-friendly data for machine_info."""
        return {
            "known": self.known,
            "id": self.spec.id if self.spec else None,
            "name": self.spec.name if self.spec else None,
            "reason": self.reason,
            "evidence": list(self.evidence),
            "notes": list(self.notes),
        }


def _unknown(why: str, evidence: Sequence[str] = ()) -> SkuMatch:
    """An unknown result whose reason starts with the fixed phrase."""
    return SkuMatch(spec=None, reason=f"{UNKNOWN} ({why})", evidence=tuple(evidence))


def _fmt_range(low: float, high: float, unit: str) -> str:
    """Like "79000-82000 MiB", or "700 W" when low == high."""
    return f"{low:g} {unit}" if low == high else f"{low:g}-{high:g} {unit}"


def _names(candidates: Sequence[GpuSpec]) -> str:
    """The candidates' ids, comma separated."""
    return ", ".join(spec.id for spec in candidates)


Check = Callable[[GpuSpec], bool]


def _narrow(
    candidates: list[GpuSpec], check: Check, fact: str, wanted: Callable[[GpuSpec], str]
) -> tuple[list[GpuSpec], str | None]:
    """The candidates passing `check`; when none pass, the reason naming what each wanted."""
    kept = [spec for spec in candidates if check(spec)]
    if kept:
        return kept, None
    wants = "; ".join(f"{spec.id} has {wanted(spec)}" for spec in candidates)
    return kept, f"{fact}, but {wants}"


def detect_sku(identity: GpuIdentity, specs: Sequence[GpuSpec] | None = None) -> SkuMatch:
    """The SKU of the spec table this NVML identity is, or an explicit unknown result saying why."""
    table = list(load_specs() if specs is None else specs)
    if not identity.name or not identity.name.strip():
        return _unknown("NVML reported no device name")
    name = normalise_name(identity.name)
    evidence: list[str] = []
    notes: list[str] = []

    candidates = [spec for spec in table if name in {normalise_name(n) for n in spec.match.nvml_names}]
    if candidates:
        evidence.append(f"NVML name {identity.name!r}")
    else:
        candidates = [spec for spec in table if spec.match.family and re.search(spec.match.family, name)]
        if not candidates:
            return _unknown(f"NVML name {identity.name!r} is not in the spec table")
        if identity.memory_mib is None:
            return _unknown(f"NVML name {identity.name!r} is not listed and NVML reported no memory size")
        evidence.append(f"NVML name {identity.name!r} matches the family of {_names(candidates)}")
        notes.append("matched by name family, memory and power limit, not by an exact NVML name")

    if identity.pci_device_id is not None:
        device = identity.pci_device_id
        candidates, why = _narrow(
            candidates,
            lambda s: not s.match.pci_device_ids or device in s.match.pci_device_ids,
            f"PCI device id 0x{device:04x}",
            lambda s: "device id " + "/".join(f"0x{i:04x}" for i in s.match.pci_device_ids),
        )
        if why:
            return _unknown(why, evidence)
        evidence.append(f"PCI device 10de:{device:04x}")
    else:
        notes.append("NVML reported no PCI device id: not checked")

    memory = identity.memory_mib
    if memory is not None:
        candidates, why = _narrow(
            candidates,
            lambda s: s.match.memory_mib[0] <= memory <= s.match.memory_mib[1],
            f"memory {memory:.0f} MiB",
            lambda s: _fmt_range(*s.match.memory_mib, "MiB"),
        )
        if why:
            return _unknown(why, evidence)
        evidence.append(f"memory {memory:.0f} MiB")
    else:
        notes.append("NVML reported no memory size: not checked")

    power = identity.default_power_limit_w
    if power is not None:
        candidates, why = _narrow(
            candidates,
            lambda s: s.match.default_power_w[0] <= power <= s.match.default_power_w[1],
            f"default power limit {power:g} W",
            lambda s: "a default limit of " + _fmt_range(*s.match.default_power_w, "W"),
        )
        if why:
            return _unknown(why, evidence)
        evidence.append(f"default power limit {power:g} W")
    else:
        notes.append("NVML reported no default power limit: not checked")

    if len(candidates) > 1:
        return _unknown(f"{identity.describe()} fits several SKUs: {_names(candidates)}", evidence)
    spec = candidates[0]
    enforced = identity.enforced_power_limit_w
    full = power if power is not None else spec.tdp_w
    if enforced is not None and enforced < full - 0.5:
        notes.append(
            f"power limit set to {enforced:g} W, below the {full:g} W default: the peaks assume the full power budget"
        )
    return SkuMatch(spec=spec, evidence=tuple(evidence), notes=tuple(notes))
