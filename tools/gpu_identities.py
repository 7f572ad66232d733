"""Fake NVML identities of the GPUs the spec table covers, and a few it must not claim.

Names and memory totals are what nvidia-smi / NVML print on those boards (seen in public logs; the H100 SXM and
H200 rows were read through NVML on real boards, PCI ids and default limits included); other default power limits
are the boards' TDPs. Each row builds both a GpuIdentity for
detect_sku and a FakeGpu for the scripted NVML, so detection is tested pure and through Telemetry.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.hardware.sku import GpuIdentity
from tools.fake_nvml import FakeGpu

MIB = 1024 * 1024

# the SKUs the spec table must cover (issue 13)
ISSUE_SKUS = (
    "h200-sxm",
    "h100-sxm",
    "h100-pcie",
    "h100-nvl",
    "a100-sxm4-40gb",
    "a100-sxm4-80gb",
    "a100-pcie-40gb",
    "a100-pcie-80gb",
    "l40s",
    "l4",
    "a10",
    "t4",
    "v100-sxm2-16gb",
    "v100-pcie-16gb",
    "rtx-4090",
)


@dataclass(frozen=True)
class FakeIdentity:
    """One board as NVML reports it, and the SKU detection must give (None: unknown)."""

    label: str
    expected: str | None
    name: str
    memory_mib: int
    default_power_w: float
    pci_device_id: int | None
    pcie_gen: int = 4
    seen: str = ""

    def identity(self) -> GpuIdentity:
        """The pure-detection input."""
        return GpuIdentity(
            name=self.name,
            memory_total_bytes=self.memory_mib * MIB,
            default_power_limit_w=self.default_power_w,
            enforced_power_limit_w=self.default_power_w,
            pcie_max_gen=self.pcie_gen,
            pcie_max_width=16,
            pci_device_id=self.pci_device_id,
        )

    def fake_gpu(self, **overrides: object) -> FakeGpu:
        """A scripted NVML GPU with this identity."""
        fields: dict[str, object] = dict(
            name=self.name,
            memory_total_mib=self.memory_mib,
            power_limit_mw=int(self.default_power_w * 1000),
            default_power_limit_mw=int(self.default_power_w * 1000),
            pci_device_id=self.pci_device_id,
            pcie_gpu_max_gen=self.pcie_gen,
            pcie_link_max_gen=self.pcie_gen,
            pcie_gen=self.pcie_gen,
        )
        fields.update(overrides)
        return FakeGpu(**fields)  # type: ignore[arg-type]


IDENTITIES: tuple[FakeIdentity, ...] = (
    FakeIdentity("H200 SXM", "h200-sxm", "NVIDIA H200", 143771, 700, 0x2335, 5, "NVML on an H200"),
    FakeIdentity("H200 NVL", "h200-nvl", "NVIDIA H200 NVL", 143771, 600, 0x233B, 5, "driver 580"),
    FakeIdentity("H100 SXM", "h100-sxm", "NVIDIA H100 80GB HBM3", 81559, 700, 0x2330, 5, "NVML on an H100"),
    FakeIdentity("H100 PCIe", "h100-pcie", "NVIDIA H100 PCIe", 81559, 350, 0x2331, 5, "drivers 535-570"),
    FakeIdentity("H100 NVL", "h100-nvl", "NVIDIA H100 NVL", 95830, 400, 0x2321, 5, "drivers 550-580"),
    FakeIdentity("GH200 (96 GB)", "gh200-96gb", "NVIDIA GH200 480GB", 97871, 900, 0x2342, 5, "driver 580"),
    FakeIdentity("A100 SXM4 40GB", "a100-sxm4-40gb", "NVIDIA A100-SXM4-40GB", 40960, 400, 0x20B0, 4, "driver 580"),
    FakeIdentity("A100 SXM4 40GB, old driver", "a100-sxm4-40gb", "A100-SXM4-40GB", 40536, 400, 0x20B0, 4, "R450"),
    FakeIdentity("A100 SXM4 80GB", "a100-sxm4-80gb", "NVIDIA A100-SXM4-80GB", 81920, 400, 0x20B2, 4, "drivers 550+"),
    FakeIdentity("A100 PCIe 40GB", "a100-pcie-40gb", "NVIDIA A100-PCIE-40GB", 40960, 250, 0x20F1, 4, "driver 570"),
    FakeIdentity("A100 PCIe 80GB", "a100-pcie-80gb", "NVIDIA A100 80GB PCIe", 81920, 300, 0x20B5, 4, "driver 595"),
    FakeIdentity("L40S", "l40s", "NVIDIA L40S", 46068, 350, 0x26B9, 4, "driver 580"),
    FakeIdentity("L4", "l4", "NVIDIA L4", 23034, 72, 0x27B8, 4, "driver 580"),
    FakeIdentity("A10", "a10", "NVIDIA A10", 23028, 150, 0x2236, 4, "driver 580"),
    FakeIdentity("T4", "t4", "Tesla T4", 15360, 70, 0x1EB8, 3, "driver 580"),
    FakeIdentity("V100 SXM2 16GB", "v100-sxm2-16gb", "Tesla V100-SXM2-16GB", 16160, 300, 0x1DB1, 3, "R450"),
    FakeIdentity("V100 SXM2 32GB", "v100-sxm2-32gb", "Tesla V100-SXM2-32GB", 32510, 300, 0x1DB5, 3, "R450"),
    FakeIdentity("V100 PCIe 16GB", "v100-pcie-16gb", "Tesla V100-PCIE-16GB", 16384, 250, 0x1DB4, 3, "driver 580"),
    FakeIdentity("V100 PCIe 32GB", "v100-pcie-32gb", "Tesla V100-PCIE-32GB", 32768, 250, 0x1DB6, 3, "driver 580"),
    FakeIdentity("RTX 4090", "rtx-4090", "NVIDIA GeForce RTX 4090", 24564, 450, 0x2684, 4, "drivers 550-595"),
    # Not in the table: detection must say so instead of guessing.
    FakeIdentity("B200", None, "NVIDIA B200", 183359, 1000, 0x2901, 6, "driver 580"),
    FakeIdentity("A10G (AWS)", None, "NVIDIA A10G", 23028, 300, 0x2237, 4, "AWS g5"),
    FakeIdentity("V100 FHHL 150 W", None, "Tesla V100-FHHL-16GB", 16160, 150, 0x1DB3, 3, "single-slot V100"),
)

NAMED = tuple(row for row in IDENTITIES if row.expected is not None)
UNKNOWN = tuple(row for row in IDENTITIES if row.expected is None)
