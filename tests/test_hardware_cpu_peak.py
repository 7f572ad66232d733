"""The estimated CPU peak from py-cpuinfo facts: the rule per ISA, and None with a reason where it has none."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.hardware.cpu_peak import CpuFacts, estimate_cpu_peak, host_cpu_peak, physical_cores

# Shaped like py-cpuinfo's get_cpu_info() (only the keys the estimate reads, plus noise).
SAPPHIRE_RAPIDS = {
    "vendor_id_raw": "GenuineIntel",
    "brand_raw": "Intel(R) Xeon(R) Platinum 8480+ @ 2.00GHz",
    "arch": "X86_64",
    "family": 6,
    "hz_advertised": [2_000_000_000, 0],
    "flags": ["avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"],
    "count": 112,
}
GENOA = {
    "vendor_id_raw": "AuthenticAMD",
    "brand_raw": "AMD EPYC 9654 96-Core Processor",
    "arch": "X86_64",
    "family": 25,
    "hz_advertised": [2_400_000_000, 0],
    "flags": ["avx2", "fma", "avx512f", "avx512_bf16"],
}
TURIN = {**GENOA, "brand_raw": "AMD EPYC 9755", "family": 26, "hz_advertised": [2_700_000_000, 0]}
SKYLAKE_CLIENT = {
    "vendor_id_raw": "GenuineIntel",
    "arch": "X86_64",
    "family": 6,
    "hz_advertised": [3_600_000_000, 0],
    "flags": ["avx", "avx2", "fma", "sse4_2"],
}


def peak(info: dict, logical: int | None, physical: int | None = None):
    """The estimate for a py-cpuinfo dict."""
    return estimate_cpu_peak(CpuFacts.from_cpuinfo(info, logical, physical))


def test_avx512_intel_with_amx_counts_physical_cores() -> None:
    est = peak(SAPPHIRE_RAPIDS, logical=16, physical=8)
    # 8 cores x 2.0 GHz x 64 float32 FLOP/cycle
    assert est.gflops == {"float32": 1024.0, "float64": 512.0, "bfloat16": 16384.0}
    assert est.label == "estimate"
    assert est.isa == "AVX-512 (2 x 512-bit FMA)"
    assert est.reason.startswith("estimate: 8 cores (physical cores behind 16 usable CPUs) x 2.00 GHz advertised x 64")


def test_zen4_avx512_runs_on_256_bit_datapaths_and_zen5_on_512() -> None:
    zen4 = peak(GENOA, logical=4, physical=4)
    assert zen4.isa == "AVX-512 (2 x 256-bit datapaths, Zen 4)"
    assert zen4.gflops == {"float32": 307.2, "float64": 153.6, "bfloat16": 614.4}
    zen5 = peak(TURIN, logical=4, physical=4)
    assert zen5.gflops == {"float32": 691.2, "float64": 345.6, "bfloat16": 1382.4}


def test_avx2_fma_and_unknown_smt() -> None:
    est = peak(SKYLAKE_CLIENT, logical=4)
    assert est.gflops == {"float32": 460.8, "float64": 230.4}
    assert est.isa == "AVX2 + FMA (2 x 256-bit FMA)"
    assert "4 usable CPUs, SMT unknown: each counted as a core" in est.reason


@pytest.mark.parametrize(
    ("info", "logical", "reason"),
    [
        ({**SKYLAKE_CLIENT, "flags": ["sse4_2", "avx"]}, 4, "no AVX2+FMA or AVX-512 in the CPU flags: no estimate"),
        ({**SKYLAKE_CLIENT, "flags": ["avx2"]}, 4, "no AVX2+FMA or AVX-512 in the CPU flags: no estimate"),
        (
            {"arch": "ARM_8", "flags": ["asimd", "sve"], "hz_advertised": [3e9, 0]},
            4,
            "ISA ARM_8 is not modelled (only x86 AVX2/AVX-512)",
        ),
        ({**SKYLAKE_CLIENT, "hz_advertised": [0, 0]}, 4, "py-cpuinfo gave no advertised clock: no estimate"),
        ({**SKYLAKE_CLIENT, "hz_advertised": None}, 4, "py-cpuinfo gave no advertised clock: no estimate"),
        (SKYLAKE_CLIENT, None, "the number of usable CPUs is unknown: no estimate"),
    ],
)
def test_no_estimate_without_a_known_isa_clock_or_core_count(info, logical, reason) -> None:
    est = peak(info, logical)
    assert est.gflops is None
    assert est.reason == reason
    assert est.as_dict()["label"] == "estimate"


def test_physical_cores_from_sysfs(tmp_path: Path) -> None:
    for cpu, siblings in {0: "0,2", 1: "1,3", 2: "0,2", 3: "1,3"}.items():
        topology = tmp_path / f"cpu{cpu}" / "topology"
        topology.mkdir(parents=True)
        (topology / "thread_siblings_list").write_text(siblings + "\n")
    assert physical_cores([0, 1, 2, 3], sysfs=tmp_path) == 2
    assert physical_cores([0, 2], sysfs=tmp_path) == 1
    assert physical_cores([0, 9], sysfs=tmp_path) is None


def test_this_host_gets_an_estimate_or_a_reason() -> None:
    est = host_cpu_peak()
    assert est.label == "estimate"
    assert (est.gflops is None) == (est.isa is None or "no estimate" in est.reason)
