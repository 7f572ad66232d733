"""The host link's ceiling: theoretical per-direction GB/s of a PCIe link, or NVLink-C2C from the spec table.

Theoretical PCIe bandwidth per direction = transfer rate per lane x lanes x encoding efficiency / 8 bits:

    gen  GT/s per lane  encoding          efficiency   x1 GB/s   x16 GB/s
    1     2.5           8b/10b            0.8           0.250      4.00
    2     5.0           8b/10b            0.8           0.500      8.00
    3     8.0           128b/130b         0.98462       0.985     15.75
    4    16.0           128b/130b         0.98462       1.969     31.51
    5    32.0           128b/130b         0.98462       3.938     63.02
    6    64.0 (PAM4)    FLIT 242B/256B    0.94531       7.563    121.00

Gen 6 sends 256-byte FLITs of which 242 bytes are TLP and DLLP payload (8 bytes CRC, 6 bytes FEC). These are
ceilings before packet (TLP header) overhead, so a copy reaches at most ~90 % of them in practice. NVIDIA's
"PCIe Gen5: 128 GB/s" counts both directions and ignores encoding: 64 GB/s per direction before it.

GPUs drop the link to a lower generation when idle to save power, so the ceiling comes from the link's maximum
(NVML's nvmlDeviceGetMaxPcieLinkGeneration: the lower of what the GPU and the slot support) and the current
generation and width are recorded beside it, read while a case runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.hardware.specs import GpuSpec

# gen -> (GT/s per lane, encoding efficiency, encoding name)
PCIE_GENERATIONS: dict[int, tuple[float, float, str]] = {
    1: (2.5, 8 / 10, "8b/10b"),
    2: (5.0, 8 / 10, "8b/10b"),
    3: (8.0, 128 / 130, "128b/130b"),
    4: (16.0, 128 / 130, "128b/130b"),
    5: (32.0, 128 / 130, "128b/130b"),
    6: (64.0, 242 / 256, "FLIT"),
}
PCIE_WIDTHS = (1, 2, 4, 8, 12, 16, 32)


@dataclass(frozen=True)
class LinkCeiling:
    """A GPU's host-link ceiling, per direction, with what it came from and the link state seen."""

    kind: str  # "pcie", "nvlink-c2c" or "unknown"
    gbs_per_direction: float | None
    source: str
    current_gbs_per_direction: float | None = None
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        """The ceiling as JSON-friendly data for machine_info."""
        return {
            "kind": self.kind,
            "gbs_per_direction": _round(self.gbs_per_direction),
            "source": self.source,
            "current_gbs_per_direction": _round(self.current_gbs_per_direction),
            "note": self.note,
        }


def _round(value: float | None) -> float | None:
    """Round to 0.01 GB/s, passing None through."""
    return None if value is None else round(value, 2)


def pcie_gbs_per_direction(gen: int | None, width: int | None) -> float | None:
    """Theoretical GB/s per direction of a PCIe link after line encoding; None for unknown gen or width."""
    if gen not in PCIE_GENERATIONS or width not in PCIE_WIDTHS:
        return None
    rate, efficiency, _ = PCIE_GENERATIONS[gen]
    return rate * width * efficiency / 8


def link_ceiling(
    spec: GpuSpec | None,
    max_gen: int | None,
    max_width: int | None,
    current_gen: int | None = None,
    current_width: int | None = None,
) -> LinkCeiling:
    """The host-link ceiling for a GPU: NVLink-C2C from the spec table, else PCIe from NVML's link maximum."""
    if spec is not None and spec.host_link.kind == "nvlink-c2c":
        return LinkCeiling(
            kind="nvlink-c2c",
            gbs_per_direction=spec.host_link.gbs_per_direction,
            source=f"spec table: {spec.name} host link {spec.host_link.describe()}",
        )
    ceiling = pcie_gbs_per_direction(max_gen, max_width)
    current = pcie_gbs_per_direction(current_gen, current_width)
    if ceiling is None:
        if spec is not None:
            return LinkCeiling(
                kind="pcie",
                gbs_per_direction=spec.host_link.gbs_per_direction,
                source=f"spec table (NVML gave no link maximum): {spec.host_link.describe()}",
                current_gbs_per_direction=current,
            )
        return LinkCeiling(
            kind="unknown",
            gbs_per_direction=None,
            source="NVML gave no PCIe link maximum and the SKU is unknown",
            current_gbs_per_direction=current,
        )
    notes = []
    if spec is not None and spec.host_link.kind == "pcie" and ceiling < spec.host_link.gbs_per_direction - 0.05:
        notes.append(
            f"the slot limits the link to gen{max_gen} x{max_width}; "
            f"the GPU supports gen{spec.host_link.pcie_gen} x{spec.host_link.pcie_lanes}"
        )
    if current is not None and current < ceiling - 0.05:
        notes.append(f"link seen at gen{current_gen} x{current_width} ({current:.1f} GB/s)")
    return LinkCeiling(
        kind="pcie",
        gbs_per_direction=ceiling,
        source=f"NVML link maximum: PCIe gen{max_gen} x{max_width}",
        current_gbs_per_direction=current,
        note="; ".join(notes),
    )


def percent_of_link(achieved_gbs: float | None, ceiling: LinkCeiling) -> float | None:
    """A copy's GB/s as a percentage of the link ceiling; None when either is unknown."""
    if achieved_gbs is None or ceiling.gbs_per_direction is None or ceiling.gbs_per_direction <= 0:
        return None
    return 100.0 * achieved_gbs / ceiling.gbs_per_direction
