"""An estimated CPU peak (GFLOP/s per dtype) from py-cpuinfo facts, labelled as an estimate.

The rule, per physical core usable by this process:

    peak = cores x advertised base clock (GHz) x FLOP per cycle per core
    FLOP per cycle (float32) = FMA units x (vector bits / 32) x 2        (an FMA is two FLOPs)
    float64 = half of float32; bfloat16 = twice float32 with AVX512_BF16 (VDPBF16PS), 1024 with AMX-BF16

    ISA (py-cpuinfo flags)                      FMA units x width     float32 FLOP/cycle
    Intel, avx512f                              2 x 512 bit           64
    AMD family 0x19 (Zen 4), avx512f            2 x 256 bit           32  (512-bit ops run as two halves)
    AMD family >= 0x1a (Zen 5), avx512f         2 x 512 bit           64
    avx2 + fma (any vendor)                     2 x 256 bit           32
    none of these, or not x86                   -                     no estimate (None, with the reason)

It is an estimate, not a measurement, and not a ceiling: Xeon Silver/Bronze and client cores with one 512-bit FMA
unit, and Zen 1 (2 x 128 bit), reach half; AVX-512 code often runs below base clock on older Xeons and above it
under turbo elsewhere (a 2-vCPU Zen 4 VM advertised at 2.60 GHz measured 221 GFLOP/s against its 166 estimate).
The clock is py-cpuinfo's advertised one (from the brand string where it names one, else the kernel's current MHz).
Cores are the physical cores behind the logical CPUs this process may use (SMT siblings share the FMA units);
where sysfs does not say, each logical CPU counts as a core (and the reason says so).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LABEL = "estimate"
AMX_BF16_FLOP_PER_CYCLE = 1024  # Intel: AMX-BF16 does 1024 BF16 FLOP per cycle per core


@dataclass(frozen=True)
class CpuFacts:
    """What the estimate needs from py-cpuinfo and the OS (None: not known)."""

    vendor: str | None
    brand: str | None
    arch: str | None
    family: int | None
    flags: frozenset[str]
    base_clock_ghz: float | None
    usable_logical_cpus: int | None
    usable_physical_cores: int | None

    @classmethod
    def from_cpuinfo(
        cls, info: Mapping[str, Any], usable_logical_cpus: int | None, usable_physical_cores: int | None = None
    ) -> CpuFacts:
        """Facts from a py-cpuinfo `get_cpu_info()` dict (pure: the caller does the I/O)."""
        hz = info.get("hz_advertised")
        clock = None
        if isinstance(hz, list | tuple) and hz and isinstance(hz[0], int | float) and hz[0] > 0:
            clock = float(hz[0]) / 1e9
        family = info.get("family")
        return cls(
            vendor=_text(info.get("vendor_id_raw")),
            brand=_text(info.get("brand_raw")),
            arch=_text(info.get("arch")),
            family=family if isinstance(family, int) and not isinstance(family, bool) else None,
            flags=frozenset(str(f).lower() for f in info.get("flags") or ()),
            base_clock_ghz=clock,
            usable_logical_cpus=usable_logical_cpus,
            usable_physical_cores=usable_physical_cores,
        )


@dataclass(frozen=True)
class CpuPeak:
    """The estimated peak GFLOP/s per dtype, or None with the reason; always labelled an estimate."""

    gflops: Mapping[str, float] | None
    isa: str | None
    reason: str
    label: str = LABEL
    cores: float | None = None
    clock_ghz: float | None = None
    flop_per_cycle: Mapping[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """The estimate as JSON-friendly data."""
        return {
            "label": self.label,
            "gflops": dict(self.gflops) if self.gflops else None,
            "isa": self.isa,
            "reason": self.reason,
            "cores": self.cores,
            "clock_ghz": self.clock_ghz,
            "flop_per_cycle": dict(self.flop_per_cycle),
        }


def _text(value: object) -> str | None:
    """A non-empty string or None."""
    return str(value) if value not in (None, "") else None


def _vector_isa(facts: CpuFacts) -> tuple[str | None, float, str]:
    """(ISA name, float32 FLOP per cycle per core, why) from the vendor, family and flags."""
    arch = (facts.arch or "").upper()
    if arch and arch not in ("X86_64", "X86_32", "AMD64"):
        return None, 0.0, f"ISA {facts.arch} is not modelled (only x86 AVX2/AVX-512)"
    vendor = (facts.vendor or "").lower()
    if "avx512f" in facts.flags:
        if "amd" in vendor and facts.family is not None and facts.family < 0x1A:
            return "AVX-512 (2 x 256-bit datapaths, Zen 4)", 2 * (256 / 32) * 2, ""
        return "AVX-512 (2 x 512-bit FMA)", 2 * (512 / 32) * 2, ""
    if "avx2" in facts.flags and "fma" in facts.flags:
        return "AVX2 + FMA (2 x 256-bit FMA)", 2 * (256 / 32) * 2, ""
    return None, 0.0, "no AVX2+FMA or AVX-512 in the CPU flags: no estimate"


def estimate_cpu_peak(facts: CpuFacts) -> CpuPeak:
    """The estimated peak GFLOP/s for float32, float64 and (where the ISA has it) bfloat16."""
    isa, fp32_per_cycle, why = _vector_isa(facts)
    if isa is None:
        return CpuPeak(gflops=None, isa=None, reason=why)
    if facts.base_clock_ghz is None:
        return CpuPeak(gflops=None, isa=isa, reason="py-cpuinfo gave no advertised clock: no estimate")
    if not facts.usable_logical_cpus:
        return CpuPeak(gflops=None, isa=isa, reason="the number of usable CPUs is unknown: no estimate")
    cores = facts.usable_physical_cores or facts.usable_logical_cpus
    per_cycle = {"float32": fp32_per_cycle, "float64": fp32_per_cycle / 2}
    if "amx_bf16" in facts.flags and "intel" in (facts.vendor or "").lower():
        per_cycle["bfloat16"] = AMX_BF16_FLOP_PER_CYCLE
    elif "avx512_bf16" in facts.flags and "avx512f" in facts.flags:
        per_cycle["bfloat16"] = 2 * fp32_per_cycle
    gflops = {dtype: cores * facts.base_clock_ghz * n for dtype, n in per_cycle.items()}
    smt = (
        f"physical cores behind {facts.usable_logical_cpus} usable CPUs"
        if facts.usable_physical_cores
        else f"{facts.usable_logical_cpus} usable CPUs, SMT unknown: each counted as a core"
    )
    reason = (
        f"estimate: {cores:g} cores ({smt}) x {facts.base_clock_ghz:.2f} GHz advertised x "
        f"{fp32_per_cycle:g} float32 FLOP/cycle ({isa}); turbo clocks can exceed it, see bench/hardware/cpu_peak.py"
    )
    return CpuPeak(
        gflops={k: round(v, 1) for k, v in gflops.items()},
        isa=isa,
        reason=reason,
        cores=cores,
        clock_ghz=facts.base_clock_ghz,
        flop_per_cycle=per_cycle,
    )


def physical_cores(cpus: Iterable[int], sysfs: Path = Path("/sys/devices/system/cpu")) -> int | None:
    """How many physical cores the logical `cpus` sit on, from sysfs thread_siblings_list (None if unreadable)."""
    cores = set()
    for cpu in cpus:
        path = sysfs / f"cpu{cpu}" / "topology" / "thread_siblings_list"
        try:
            cores.add(path.read_text().strip())
        except OSError:
            return None
    return len(cores) or None


@functools.cache
def host_cpu_peak() -> CpuPeak:
    """This host's estimate (reads py-cpuinfo and sysfs once per process)."""
    try:
        import cpuinfo

        info = cpuinfo.get_cpu_info()
    except Exception as exc:  # py-cpuinfo can fail on exotic platforms; the estimate is then absent
        return CpuPeak(gflops=None, isa=None, reason=f"py-cpuinfo failed: {exc}")
    usable = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    count = len(usable) if usable is not None else os.cpu_count()
    cores = physical_cores(usable) if usable else None
    return estimate_cpu_peak(CpuFacts.from_cpuinfo(info, count, cores))
