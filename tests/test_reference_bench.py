"""Reference envelopes on the measuring side: the shipped table is sound and a matched GPU records its SKU's."""

from __future__ import annotations

import pytest

from bench.hardware.reference import load_reference, reference_for, reference_text
from bench.hardware.specs import load_specs
from bench.nvml import Telemetry, nvml_available
from results_format import FIGURES, DeviceRecord, ReferenceTableError, read_reference_table
from tests.fake_nvml import FakeNvml
from tests.gpu_identities import IDENTITIES


@pytest.fixture
def fake(monkeypatch):
    nvml_available.cache_clear()

    def install(gpus) -> FakeNvml:
        fake_nvml = FakeNvml(gpus)
        fake_nvml.install(monkeypatch.setattr)
        return fake_nvml

    yield install
    nvml_available.cache_clear()


def identity(label: str):
    return next(row for row in IDENTITIES if row.label == label)


def test_every_envelope_is_a_sku_of_the_spec_table_and_every_figure_is_sourced() -> None:
    ids = {spec.id for spec in load_specs()}
    table = load_reference()
    assert {e.sku for e in table.sku} == {"h200-sxm", "h100-sxm"} and {e.sku for e in table.sku} <= ids
    for envelope in table.sku:
        for figure in envelope.figures:
            assert figure.figure in FIGURES and figure.source and figure.method and figure.if_low and figure.if_high


def test_the_h200_envelope_holds_issue_21s_figures() -> None:
    h200 = reference_for("h200-sxm")
    assert h200 is not None
    values = {f.figure: (f.value, f.unit) for f in h200.figures}
    assert values["matmul.bf16"] == (790, "TFLOP/s") and values["matmul.fp8"] == (1453, "TFLOP/s")
    assert values["membw.triad"] == (4150, "GB/s") and values["transfer.h2d_pinned"] == (55.3, "GB/s")
    assert h200.get("matmul.bf16").suite_value == 790_000  # GFLOP/s, the unit matmul cases are measured in
    assert reference_for("a100-sxm4-80gb") is None and reference_for(None) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("schema_version = 1\n[[sku]]\nsku = 'x'\n[[sku.figures]]\nfigure = 'matmul.int4'\nvalue = 1\n"
         "unit = 'TFLOP/s'\nsource = 's'\nmethod = 'm'\n", "sku.0.figures.0.figure"),
        ("schema_version = 1\n[[sku]]\nsku = 'x'\n[[sku.figures]]\nfigure = 'matmul.bf16'\nvalue = -1\n"
         "unit = 'TFLOP/s'\nsource = 's'\nmethod = 'm'\n", "sku.0.figures.0.value"),
        ("schema_version = 2\nsku = []\n", "schema_version"),
        ("not = [toml", "not TOML"),
    ],
)  # fmt: skip
def test_a_bad_table_is_one_line_naming_the_field(text: str, message: str) -> None:
    with pytest.raises(ReferenceTableError, match=message) as info:
        read_reference_table(text)
    assert "\n" not in str(info.value)


def test_a_figure_listed_twice_is_refused() -> None:
    row = "[[sku.figures]]\nfigure = 'matmul.bf16'\nvalue = 1\nunit = 'TFLOP/s'\nsource = 's'\nmethod = 'm'\n"
    with pytest.raises(ReferenceTableError, match=r"figure matmul\.bf16 is listed twice"):
        read_reference_table(f"schema_version = 1\n[[sku]]\nsku = 'x'\n{row}{row}")


@pytest.mark.parametrize("label", ["H200 SXM", "H100 SXM"])
def test_a_matched_gpu_records_its_sku_s_envelope(fake, label: str) -> None:
    row = identity(label)
    fake([row.fake_gpu()])
    record = DeviceRecord.model_validate(
        {"backend": "torch", "name": "GPU:0", "kind": "gpu", "model": row.name, **Telemetry.start().gpu_hardware(0)}
    )
    assert record.reference is not None and record.reference.sku == row.expected
    assert record.reference == reference_for(row.expected)


def test_a_sku_without_an_envelope_records_none(fake) -> None:
    row = identity("H100 PCIe")
    fake([row.fake_gpu()])
    hardware = Telemetry.start().gpu_hardware(0)
    assert hardware["sku"]["id"] == "h100-pcie" and hardware["reference"] is None


def test_the_table_ships_with_the_package() -> None:
    assert reference_text().startswith("# Reference envelopes")
