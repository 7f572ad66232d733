"""The GPU spec table: its shipped content, its validation and the peak a case is judged against."""

from __future__ import annotations

import copy
import tomllib
from importlib import resources
from typing import Any

import pytest

from bench.hardware.links import pcie_gbs_per_direction
from bench.hardware.specs import (
    PEAK_KEYS,
    SpecTableError,
    load_specs,
    parse_spec_table,
    peak_key,
    peak_tflops,
    percent_of_peak,
    spec_by_id,
)
from tests.gpu_identities import ISSUE_SKUS


def shipped_document() -> dict[str, Any]:
    """The shipped gpu_specs.toml, parsed but not validated."""
    text = resources.files("bench.hardware").joinpath("gpu_specs.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


# --- the shipped table --------------------------------------------------------------------------------


def test_every_gpu_the_issue_names_is_in_the_table() -> None:
    ids = {spec.id for spec in load_specs()}
    assert set(ISSUE_SKUS) <= ids


def test_h100_sxm_dense_figures_not_the_sparsity_ones() -> None:
    h100 = spec_by_id("h100-sxm")
    assert dict(h100.tflops) == {
        "fp64": 34.0,
        "fp64_tensor": 67.0,
        "fp32": 67.0,
        "tf32": 494.5,
        "bf16": 989.5,
        "fp16": 989.5,
        "fp8": 1979.0,
    }
    assert (h100.memory_gib, h100.memory_bandwidth_gbs, h100.tdp_w) == (80, 3350, 700)
    assert (h100.host_link.kind, h100.host_link.pcie_gen, h100.host_link.pcie_lanes) == ("pcie", 5, 16)


def test_h200_has_the_h100_sxm_compute_with_141_gb_at_4_8_tb_s() -> None:
    h200, h100 = spec_by_id("h200-sxm"), spec_by_id("h100-sxm")
    assert h200.tflops == h100.tflops
    assert (h200.memory_gib, h200.memory_bandwidth_gbs) == (141, 4800)


def test_h100_sxm_and_pcie_differ_where_it_matters() -> None:
    sxm, pcie = spec_by_id("h100-sxm"), spec_by_id("h100-pcie")
    assert sxm.tflops["bf16"] / pcie.tflops["bf16"] == pytest.approx(1.308, abs=0.001)
    assert (sxm.tdp_w, pcie.tdp_w) == (700, 350)
    assert (sxm.memory_bandwidth_gbs, pcie.memory_bandwidth_gbs) == (3350, 2000)


def test_a100_variants_share_compute_and_differ_in_memory_and_power() -> None:
    rows = {s: spec_by_id(s) for s in ("a100-sxm4-40gb", "a100-sxm4-80gb", "a100-pcie-40gb", "a100-pcie-80gb")}
    assert len({tuple(r.tflops.items()) for r in rows.values()}) == 1
    assert {s: (r.memory_gib, r.memory_bandwidth_gbs, r.tdp_w) for s, r in rows.items()} == {
        "a100-sxm4-40gb": (40, 1555, 400),
        "a100-sxm4-80gb": (80, 2039, 400),
        "a100-pcie-40gb": (40, 1555, 250),
        "a100-pcie-80gb": (80, 1935, 300),
    }


def test_chips_without_tensor_formats_have_no_such_peak() -> None:
    assert set(spec_by_id("t4").tflops) == {"fp64", "fp32", "fp16"}
    assert set(spec_by_id("v100-sxm2-16gb").tflops) == {"fp64", "fp32", "fp16"}
    assert "fp8" not in spec_by_id("a100-sxm4-80gb").tflops


@pytest.mark.parametrize("spec", load_specs(), ids=lambda s: s.id)
def test_each_row_is_consistent_and_cited(spec) -> None:
    peaks = spec.tflops
    assert set(peaks) <= set(PEAK_KEYS)
    if "tf32" in peaks:
        assert peaks["fp32"] <= peaks["tf32"] <= peaks["bf16"]
    if "bf16" in peaks:
        assert peaks["bf16"] == peaks["fp16"]
    if "fp8" in peaks:  # the L40S datasheet's FP8 is 1.2 % above twice its FP16
        assert peaks["fp8"] == pytest.approx(2 * peaks["fp16"], rel=0.02)
    if "fp64_tensor" in peaks:
        assert peaks["fp64_tensor"] >= peaks["fp64"]
    assert spec.sources and all(url.startswith("https://") for url in spec.sources)
    assert spec.checked_against, "every row says where its figures were checked"
    if spec.host_link.kind == "pcie":
        computed = pcie_gbs_per_direction(spec.host_link.pcie_gen, spec.host_link.pcie_lanes)
        assert spec.host_link.gbs_per_direction == pytest.approx(computed, abs=0.05)
    low, high = spec.match.memory_mib
    assert low <= spec.memory_gib * 1024 * 1.01 and high >= spec.memory_gib * 1000 * 0.97
    assert spec.match.default_power_w[0] <= spec.tdp_w <= spec.match.default_power_w[1]


def test_figures_the_datasheets_do_not_state_are_marked_derived() -> None:
    for sku in ("l40s", "l4", "a10", "t4", "rtx-4090"):
        assert "tflops.fp64" in spec_by_id(sku).derived


# --- validation -----------------------------------------------------------------------------------------


def broken(change) -> dict[str, Any]:
    """The shipped document with `change(doc)` applied."""
    doc = copy.deepcopy(shipped_document())
    change(doc)
    return doc


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(schema_version=2), "schema_version must be 1, got 2"),
        (lambda d: d.update(gpu=[]), "no [[gpu]] tables"),
        (lambda d: d["gpu"][0].pop("tdp_w"), "gpu h100-sxm: missing 'tdp_w'"),
        (lambda d: d["gpu"][0].update(tdp_w="700"), "gpu h100-sxm: 'tdp_w' must be a number, got '700'"),
        (lambda d: d["gpu"][0]["tflops"].update(fp4=1), "gpu h100-sxm: unknown peak(s) fp4"),
        (lambda d: d["gpu"][0]["tflops"].update(fp8=0), "gpu h100-sxm.tflops: fp8 must be above 0, got 0"),
        (lambda d: d["gpu"][0]["tflops"].pop("fp32"), "gpu h100-sxm: tflops: missing 'fp32'"),
        (lambda d: d["gpu"][1].update(id="h100-sxm"), "gpu h100-sxm: duplicate id"),
        (
            lambda d: d["gpu"][1]["match"].update(nvml_names=["nvidia h100 80gb hbm3"]),
            "gpu h100-pcie: NVML name 'nvidia h100 80gb hbm3' is also listed for h100-sxm",
        ),
        (
            lambda d: d["gpu"][0]["match"].update(memory_mib=[82000, 79000]),
            "gpu h100-sxm.match: 'memory_mib' low 82000 is above high 79000",
        ),
        (lambda d: d["gpu"][0]["match"].update(family="(h100"), "'family' is not a valid regular expression"),
        (
            lambda d: d["gpu"][0]["match"].update(pci_device_ids=[0x12345]),
            "gpu h100-sxm.match: 'pci_device_ids.0' Input should be less than or equal to 65535",
        ),
        (
            lambda d: d["gpu"][0]["host_link"].update(kind="nvlink"),
            "gpu h100-sxm.host_link: 'kind' Input should be 'pcie' or 'nvlink-c2c'",
        ),
        (lambda d: d["gpu"][0].update(sources=[]), "gpu h100-sxm: 'sources': List should have at least 1 item"),
        (lambda d: d["gpu"][0].update(unverified=["tflops.fp4"]), "'tflops.fp4' in unverified/derived is not"),
        (lambda d: d["gpu"][0].pop("match"), "gpu h100-sxm: missing [gpu.match] table"),
    ],
)
def test_a_malformed_table_is_refused_with_the_sku_and_field(change, message) -> None:
    with pytest.raises(SpecTableError) as err:
        parse_spec_table(broken(change))
    assert message in str(err.value)


def test_an_unknown_id_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="no SKU 'b200' in the spec table \\(known: h100-sxm, "):
        spec_by_id("b200")


# --- peaks ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dtype", "key"),
    [
        ("float32", "fp32"),
        ("torch.float32", "fp32"),
        ("tf.bfloat16", "bf16"),
        ("float16", "fp16"),
        ("half", "fp16"),
        ("float64", "fp64"),
        ("float8_e4m3fn", "fp8"),
        ("fp8", "fp8"),
        ("int8", None),
        ("complex64", None),
    ],
)
def test_dtype_spellings(dtype, key) -> None:
    assert peak_key(dtype) == key


def test_float32_is_judged_against_tf32_when_tf32_is_on_and_says_so() -> None:
    h100 = spec_by_id("h100-sxm")
    on = peak_tflops(h100, "float32", tf32=True)
    off = peak_tflops(h100, "float32", tf32=False)
    assert (on.tflops, on.key) == (494.5, "tf32")
    assert on.note == "float32 with TF32 on: judged against the TF32 tensor-core peak of NVIDIA H100 SXM5 80GB"
    assert (off.tflops, off.key) == (67.0, "fp32")
    assert off.note == "float32 with TF32 off: the FP32 (CUDA-core) peak"


def test_tf32_on_a_chip_without_tf32_falls_back_to_fp32_and_says_why() -> None:
    peak = peak_tflops(spec_by_id("v100-pcie-16gb"), "float32", tf32=True)
    assert (peak.tflops, peak.key) == (14.0, "fp32")
    assert "has no TF32 tensor cores: judged against the FP32 peak" in peak.note


def test_float64_uses_the_fp64_tensor_peak_where_there_is_one() -> None:
    assert peak_tflops(spec_by_id("a100-sxm4-80gb"), "float64").key == "fp64_tensor"
    assert peak_tflops(spec_by_id("a100-sxm4-80gb"), "float64").tflops == 19.5
    l4 = peak_tflops(spec_by_id("l4"), "float64")
    assert (l4.tflops, l4.key) == (0.47, "fp64")
    assert "derived: 1/64 of FP32" in l4.note


def test_bf16_and_fp8_peaks_and_their_absence() -> None:
    assert peak_tflops(spec_by_id("h100-pcie"), "bfloat16").tflops == 756.5
    assert peak_tflops(spec_by_id("h100-nvl"), "float8_e5m2").tflops == 1670.5
    t4 = peak_tflops(spec_by_id("t4"), "bfloat16")
    assert t4.tflops is None and t4.key is None
    assert t4.note == "NVIDIA T4 has no bf16 peak in the spec table"
    assert peak_tflops(spec_by_id("t4"), "int8").note == "no peak for dtype 'int8'"


def test_percent_of_peak() -> None:
    peak = peak_tflops(spec_by_id("h100-sxm"), "bfloat16")
    assert percent_of_peak(791.6, peak) == pytest.approx(80.0)
    assert percent_of_peak(None, peak) is None
    assert percent_of_peak(10.0, peak_tflops(spec_by_id("t4"), "bfloat16")) is None
