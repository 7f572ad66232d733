"""SKU detection from NVML identities: every named GPU, the look-alikes, and an explicit unknown otherwise."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bench import nvml
from bench.hardware.sku import UNKNOWN, GpuIdentity, detect_sku
from bench.nvml import Telemetry, nvml_available
from tests.fake_nvml import FakeGpu, FakeNvml
from tests.gpu_identities import IDENTITIES, ISSUE_SKUS, NAMED, FakeIdentity

MIB = 1024 * 1024


def ident(name: str | None, mib: float | None = None, watts: float | None = None, **kw: object) -> GpuIdentity:
    """A GpuIdentity from MiB and watts."""
    return GpuIdentity(
        name=name,
        memory_total_bytes=int(mib * MIB) if mib is not None else None,
        default_power_limit_w=watts,
        **kw,  # type: ignore[arg-type]
    )


# --- the table of fake identities -----------------------------------------------------------------------


@pytest.mark.parametrize("row", IDENTITIES, ids=lambda r: r.label)
def test_each_fake_identity_is_detected_as_expected(row: FakeIdentity) -> None:
    match = detect_sku(row.identity())
    assert (match.spec.id if match.spec else None) == row.expected
    if row.expected is None:
        assert match.reason.startswith("unknown SKU: no % shown (")
    else:
        assert match.reason == "" and match.known


def test_the_table_covers_every_gpu_the_issue_names() -> None:
    assert {row.expected for row in NAMED} >= set(ISSUE_SKUS)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (
            "B200",
            "unknown SKU: no % shown (NVML name 'NVIDIA B200' is not in the spec table)",
        ),
        (
            "A10G (AWS)",
            "unknown SKU: no % shown (NVML name 'NVIDIA A10G' is not in the spec table)",
        ),
        (
            "V100 FHHL 150 W",
            "unknown SKU: no % shown (PCI device id 0x1db3, but v100-sxm2-16gb has device id 0x1db1/0x1df5; "
            "v100-sxm2-32gb has device id 0x1db5; v100-pcie-16gb has device id 0x1db4; "
            "v100-pcie-32gb has device id 0x1db6)",
        ),
    ],
)
def test_unknown_gpus_say_why(row: str, reason: str) -> None:
    identity = next(r for r in IDENTITIES if r.label == row).identity()
    assert detect_sku(identity).reason == reason


# --- telling look-alikes apart --------------------------------------------------------------------------


def test_h100_sxm_pcie_and_nvl_by_name_agree_with_memory_and_power() -> None:
    assert detect_sku(ident("NVIDIA H100 80GB HBM3", 81559, 700)).spec.id == "h100-sxm"
    assert detect_sku(ident("NVIDIA H100 PCIe", 81559, 350)).spec.id == "h100-pcie"
    assert detect_sku(ident("NVIDIA H100 NVL", 95830, 400)).spec.id == "h100-nvl"


def test_a_name_contradicted_by_power_is_not_guessed() -> None:
    match = detect_sku(ident("NVIDIA H100 PCIe", 81559, 700))
    assert match.spec is None
    assert match.reason == (
        "unknown SKU: no % shown (default power limit 700 W, but h100-pcie has a default limit of 300-350 W)"
    )
    assert match.evidence == ("NVML name 'NVIDIA H100 PCIe'", "memory 81559 MiB")


def test_without_a_pci_id_the_power_limit_rules_out_a_low_power_variant() -> None:
    match = detect_sku(ident("Tesla V100-FHHL-16GB", 16160, 150))
    assert match.reason == (
        "unknown SKU: no % shown (default power limit 150 W, but v100-sxm2-16gb has a default limit of "
        "275-300 W; v100-pcie-16gb has a default limit of 200-250 W)"
    )


def test_a_name_contradicted_by_memory_or_pci_id_is_not_guessed() -> None:
    small = detect_sku(ident("NVIDIA A100-SXM4-80GB", 40960, 400))
    assert small.reason == "unknown SKU: no % shown (memory 40960 MiB, but a100-sxm4-80gb has 79000-82500 MiB)"
    wrong_id = detect_sku(ident("NVIDIA H100 80GB HBM3", 81559, 700, pci_device_id=0x2331))
    assert wrong_id.reason == "unknown SKU: no % shown (PCI device id 0x2331, but h100-sxm has device id 0x2330)"


def test_a_generic_name_is_resolved_by_memory_and_power_within_its_family() -> None:
    sxm = detect_sku(ident("NVIDIA H100", 81559, 700))
    pcie = detect_sku(ident("NVIDIA H100", 81559, 350))
    nvl = detect_sku(ident("NVIDIA H100", 95830, 400))
    assert (sxm.spec.id, pcie.spec.id, nvl.spec.id) == ("h100-sxm", "h100-pcie", "h100-nvl")
    assert "matched by name family, memory and power limit, not by an exact NVML name" in pcie.notes
    a100 = {
        (mib, watts): detect_sku(ident("NVIDIA A100", mib, watts)).spec.id
        for mib, watts in [(40960, 400), (40960, 250), (81920, 400), (81920, 300)]
    }
    assert a100 == {
        (40960, 400): "a100-sxm4-40gb",
        (40960, 250): "a100-pcie-40gb",
        (81920, 400): "a100-sxm4-80gb",
        (81920, 300): "a100-pcie-80gb",
    }
    v100 = detect_sku(ident("Tesla V100-SXM2-16GB-N", 16160, 300))
    assert v100.spec.id == "v100-sxm2-16gb"


def test_a_generic_name_without_power_is_ambiguous_not_guessed() -> None:
    match = detect_sku(ident("NVIDIA H100", 81559, None))
    assert match.reason == "unknown SKU: no % shown ('NVIDIA H100', 81559 MiB fits several SKUs: h100-sxm, h100-pcie)"
    no_memory = detect_sku(ident("NVIDIA H100", None, 700))
    assert no_memory.reason == (
        "unknown SKU: no % shown (NVML name 'NVIDIA H100' is not listed and NVML reported no memory size)"
    )


def test_family_patterns_do_not_swallow_neighbours() -> None:
    for name in ("NVIDIA A10G", "NVIDIA L40", "NVIDIA GeForce RTX 4090 D", "NVIDIA GH200 144G HBM3e", "NVIDIA A100X"):
        assert detect_sku(ident(name, 24000, 300)).spec is None, name


def test_old_driver_names_without_the_nvidia_prefix_match() -> None:
    assert detect_sku(ident("A100-SXM4-40GB", 40536, 400)).spec.id == "a100-sxm4-40gb"
    assert detect_sku(ident("  nvidia  h100 pcie ", 81559, 350)).spec.id == "h100-pcie"


def test_missing_readings_are_skipped_and_said_so() -> None:
    match = detect_sku(ident("NVIDIA L4", None, None))
    assert match.spec.id == "l4"
    assert match.notes == (
        "NVML reported no PCI device id: not checked",
        "NVML reported no memory size: not checked",
        "NVML reported no default power limit: not checked",
    )
    assert detect_sku(ident(None)).reason == "unknown SKU: no % shown (NVML reported no device name)"
    assert detect_sku(ident("  ")).reason == "unknown SKU: no % shown (NVML reported no device name)"


def test_a_lowered_power_limit_is_noted() -> None:
    match = detect_sku(ident("NVIDIA H100 80GB HBM3", 81559, 700, enforced_power_limit_w=400.0))
    assert match.spec.id == "h100-sxm"
    assert match.notes == (
        "NVML reported no PCI device id: not checked",
        "power limit set to 400 W, below the 700 W default: the peaks assume the full power budget",
    )


def test_as_dict() -> None:
    assert detect_sku(ident("NVIDIA B200", 183359, 1000)).as_dict() == {
        "known": False,
        "id": None,
        "name": None,
        "reason": "unknown SKU: no % shown (NVML name 'NVIDIA B200' is not in the spec table)",
        "evidence": [],
        "notes": [],
    }
    assert UNKNOWN == "unknown SKU: no % shown"


# --- through the scripted NVML ----------------------------------------------------------------------------


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[list[FakeGpu]], FakeNvml]]:
    """Install a FakeNvml on the real pynvml module for one test."""
    monkeypatch.delenv(nvml.ENV_SWITCH, raising=False)
    nvml_available.cache_clear()

    def make(gpus: list[FakeGpu]) -> FakeNvml:
        fake_nvml = FakeNvml(gpus)
        fake_nvml.install(monkeypatch.setattr)
        return fake_nvml

    yield make
    nvml_available.cache_clear()


def test_every_fake_identity_through_telemetry(fake) -> None:
    fake([row.fake_gpu(pci_bus_id=f"00000000:{i + 1:02X}:00.0") for i, row in enumerate(IDENTITIES)])
    tel = Telemetry.start()
    gpus = tel.machine_info()["gpus"]
    assert [g["sku"]["id"] for g in gpus] == [row.expected for row in IDENTITIES]
    for gpu, row in zip(gpus, IDENTITIES, strict=True):
        assert gpu["sku"]["known"] is (row.expected is not None)
        assert gpu["host_link"]["kind"] == ("nvlink-c2c" if row.expected == "gh200-96gb" else "pcie")
    tel.close()


def test_telemetry_records_identity_facts_and_the_link_ceiling(fake) -> None:
    t4 = next(r for r in IDENTITIES if r.label == "T4")
    fake([t4.fake_gpu(pcie_gen=1, pcie_width=8)])
    tel = Telemetry.start()
    gpu = tel.machine_info()["gpus"][0]
    assert gpu["pci_device_id"] == "10de:1eb8"
    assert gpu["power_default_limit_w"] == 70.0
    assert (gpu["pcie_gpu_max_gen"], gpu["pcie_link_max_gen"], gpu["pcie_link_max_width"]) == (3, 3, 16)
    assert (gpu["pcie_gen_at_start"], gpu["pcie_width_at_start"]) == (1, 8)
    assert gpu["sku"]["id"] == "t4"
    assert gpu["host_link"] == {
        "kind": "pcie",
        "gbs_per_direction": 15.75,
        "source": "NVML link maximum: PCIe gen3 x16",
        "current_gbs_per_direction": 2.0,
        "note": "link seen at gen1 x8 (2.0 GB/s)",
    }
    tel.close()


def test_a_case_records_the_fastest_link_state_it_saw(fake) -> None:
    gpu = FakeGpu(pcie_gen=1)  # idle at the start of the case
    fake([gpu])
    tel = Telemetry.start()
    with tel.sample("copy", background=False) as rec:
        gpu.pcie_gen = 5  # trained up while copying
    summary = rec.summary["0"]
    assert (summary["pcie_link_gen"], summary["pcie_link_width"]) == (5, 16)
    assert summary["pcie_link_gbs_per_direction"] == 63.02
    tel.close()


def test_a_driver_without_identity_queries_still_samples_and_says_unknown(fake) -> None:
    gpu = FakeGpu(
        name="NVIDIA H100",
        default_power_limit_mw=None,
        pci_device_id=None,
        board_part_number=None,
        compute_capability=None,
        pcie_gpu_max_gen=None,
        pcie_link_max_gen=None,
        pcie_max_width=None,
        pcie_gen=None,
        pcie_width=None,
    )
    fake([gpu])
    tel = Telemetry.start()
    assert tel.enabled
    info = tel.machine_info()["gpus"][0]
    assert info["pci_device_id"] is None and info["power_default_limit_w"] is None
    assert info["sku"]["reason"] == (
        "unknown SKU: no % shown ('NVIDIA H100', 81559 MiB fits several SKUs: h100-sxm, h100-pcie)"
    )
    assert info["host_link"]["kind"] == "unknown"
    with tel.sample("c", background=False) as rec:
        pass
    assert rec.summary["0"]["pcie_link_gen"] is None
    tel.close()
