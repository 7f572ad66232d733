"""Host-link ceilings: PCIe per-direction bandwidth after encoding, and NVLink-C2C from the spec table."""

from __future__ import annotations

import pytest

from bench.hardware.links import link_ceiling, pcie_gbs_per_direction, percent_of_link
from bench.hardware.specs import spec_by_id


@pytest.mark.parametrize(
    ("gen", "width", "gbs"),
    [
        (1, 16, 4.0),
        (2, 16, 8.0),
        (3, 16, 15.754),
        (4, 16, 31.508),
        (5, 16, 63.015),
        (6, 16, 121.0),
        (4, 8, 15.754),
        (3, 1, 0.985),
        (5, 4, 15.754),
    ],
)
def test_pcie_per_direction_after_line_encoding(gen, width, gbs) -> None:
    assert pcie_gbs_per_direction(gen, width) == pytest.approx(gbs, abs=0.001)


@pytest.mark.parametrize(("gen", "width"), [(0, 16), (7, 16), (None, 16), (5, None), (5, 3), (5, 0)])
def test_unknown_generation_or_width_has_no_ceiling(gen, width) -> None:
    assert pcie_gbs_per_direction(gen, width) is None


def test_the_ceiling_comes_from_the_link_maximum_not_the_idle_state() -> None:
    ceiling = link_ceiling(spec_by_id("h100-pcie"), max_gen=5, max_width=16, current_gen=1, current_width=16)
    assert ceiling.kind == "pcie"
    assert ceiling.gbs_per_direction == pytest.approx(63.015, abs=0.001)
    assert ceiling.current_gbs_per_direction == pytest.approx(4.0)
    assert ceiling.source == "NVML link maximum: PCIe gen5 x16"
    assert ceiling.note == "link seen at gen1 x16 (4.0 GB/s)"


def test_a_gen5_gpu_in_a_gen4_slot_is_judged_against_gen4_and_says_why() -> None:
    ceiling = link_ceiling(spec_by_id("h100-sxm"), max_gen=4, max_width=16, current_gen=4, current_width=16)
    assert ceiling.gbs_per_direction == pytest.approx(31.508, abs=0.001)
    assert ceiling.note == "the slot limits the link to gen4 x16; the GPU supports gen5 x16"


def test_nvlink_c2c_comes_from_the_spec_table() -> None:
    ceiling = link_ceiling(spec_by_id("gh200-96gb"), max_gen=5, max_width=16)
    assert (ceiling.kind, ceiling.gbs_per_direction) == ("nvlink-c2c", 450.0)
    assert ceiling.source == (
        "spec table: NVIDIA GH200 Grace Hopper Superchip (96GB HBM3) host link NVLink-C2C, 450 GB/s per direction"
    )


def test_without_nvml_link_facts_the_table_or_nothing() -> None:
    from_table = link_ceiling(spec_by_id("t4"), max_gen=None, max_width=None)
    assert from_table.gbs_per_direction == 15.8
    assert from_table.source == "spec table (NVML gave no link maximum): PCIe gen3 x16, 15.8 GB/s per direction"
    nothing = link_ceiling(None, max_gen=None, max_width=None)
    assert (nothing.kind, nothing.gbs_per_direction) == ("unknown", None)
    assert nothing.source == "NVML gave no PCIe link maximum and the SKU is unknown"
    unknown_sku = link_ceiling(None, max_gen=4, max_width=8)
    assert unknown_sku.gbs_per_direction == pytest.approx(15.754, abs=0.001)


def test_as_dict_and_percent_of_link() -> None:
    ceiling = link_ceiling(None, max_gen=4, max_width=16, current_gen=4, current_width=16)
    assert ceiling.as_dict() == {
        "kind": "pcie",
        "gbs_per_direction": 31.51,
        "source": "NVML link maximum: PCIe gen4 x16",
        "current_gbs_per_direction": 31.51,
        "note": "",
    }
    assert percent_of_link(25.2, ceiling) == pytest.approx(79.98, abs=0.01)
    assert percent_of_link(None, ceiling) is None
    assert percent_of_link(10.0, link_ceiling(None, None, None)) is None
