"""Reference envelopes in the reports: the verdict on each headline figure against the best published for the SKU."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from reports import cli, envelope
from reports.load import read_run, read_runs, tidy
from reports.sections import headlines
from tests.golden_runs import GPUBOX, PEAKS, WORKSTATION
from tests.plot_stubs import stub_plots

REPO = Path(__file__).resolve().parents[1]
TABLE = REPO / "bench" / "hardware" / "reference.toml"
REAL = Path(__file__).parent / "data" / "real" / "20261126-h200"
REAL_RUNS = [REAL / "main", REAL / "peaks", REAL / "peaks-tf32"]


@pytest.mark.parametrize(
    ("measured", "text"),
    [
        (98.0, "in line (\u22122 % of the best published)"),
        (100.0, "in line (\u00b10 % of the best published)"),
        (95.0, "in line (\u22125 % of the best published)"),
        (105.0, "in line (+5 % of the best published)"),
        (89.0, "low by 11 % (likely: a sync per call)"),
        (106.0, "above the best published by 6 % (check: the FLOP count)"),
    ],
)
def test_a_verdict_is_in_line_low_with_the_likely_causes_or_above_with_what_to_check(measured, text) -> None:
    assert envelope.verdict(measured, 100.0, "a sync per call", "the FLOP count") == text


@pytest.fixture(scope="module")
def real_frame():
    runs, _ = read_runs(REAL_RUNS)
    return tidy(runs), tidy(envelope.add_reference(runs, TABLE))


def test_a_run_recorded_before_envelopes_gets_no_verdict_and_says_how_to_get_one(real_frame) -> None:
    old, _ = real_frame
    lines = envelope.envelope_lines(old)
    assert lines == [
        "Is GPU:0 (NVIDIA H200) giving what it should? No verdict: no published reference figures were recorded "
        "with this run (build the report with --reference bench/hardware/reference.toml to judge it)."
    ]
    assert envelope.verdict_table(old).empty


def test_the_real_h200_against_the_table_by_its_recorded_sku(real_frame) -> None:
    _, judged = real_frame
    lines = envelope.envelope_lines(judged)
    assert lines[0] == (
        "Is GPU:0 (NVIDIA H200) giving what it should? Against the best published figures for its SKU: "
        "5 in line, 3 low (of 8 figures measured)."
    )
    bf16 = next(line for line in lines if line.startswith("GPU:0 bf16 matmul"))
    assert bf16.startswith("GPU:0 bf16 matmul: 708 TFLOP/s (n=4096) against 790 published: low by 10 % (likely: ")
    assert "torch-performance-test-data/issues/45" in bf16
    table = envelope.verdict_table(judged).set_index("figure")
    assert table.loc["fp16 matmul", "verdict"] == "low by 8 %"
    assert table.loc["TF32 matmul", "verdict"] == "low by 11 %" and table.loc["TF32 matmul", "at"] == "n=8192"
    assert table.loc["HBM triad", "verdict"] == "in line (+4 %)" and table.loc["HBM triad", "at"] == "1 GiB"
    assert table.loc["pinned host-to-device copy", "verdict"] == "in line (\u22121 %)"
    assert pd.isna(table.loc["fp32 matmul (TF32 off)", "likely cause or check"])  # in line: nothing to explain
    assert headlines(judged)[0] == lines[0]  # the first finding answers the user's first question


def test_the_fake_h100_records_its_envelope_and_the_peak_search_is_judged_by_it() -> None:
    lines = envelope.envelope_lines(tidy([read_run(PEAKS)]))
    assert lines[0].startswith("Is GPU:0 (NVIDIA H100 80GB HBM3) giving what it should? Against the best published")
    fp8 = next(line for line in lines if line.startswith("GPU:0 FP8 matmul"))
    assert "(best searched shape " in fp8 and "against 1,453 published: in line" in fp8


def test_a_sku_missing_a_figure_is_judged_on_the_figures_it_has() -> None:
    frame = tidy([read_run(GPUBOX)])  # the H100 SXM's table has no HBM figure
    triad = frame[(frame["workload"] == "membw") & (frame["device"] == "GPU:0") & (frame["kernel"] == "triad")]
    assert triad["ref_value"].isna().all()
    assert triad["ref_basis"].iloc[0] == "no published HBM triad figure for h100-sxm in the table"
    table = envelope.verdict_table(frame)
    assert "HBM triad" not in set(table["figure"]) and "bf16 matmul" in set(table["figure"])


def test_an_unknown_sku_gets_no_verdict_with_its_reason() -> None:
    lines = envelope.envelope_lines(tidy([read_run(WORKSTATION)]))
    a4000 = next(line for line in lines if "A4000" in line)
    assert "No verdict: unknown SKU: no % shown" in a4000 and a4000.endswith("no published reference figures.")


def test_the_report_s_first_screen_shows_the_verdicts_and_a_bad_table_is_one_line(
    tmp_path, capsys, golden_page, monkeypatch
) -> None:
    # without --reference: the real runs' page with its plots, shared with tests/test_real_gpu.py
    assert "Against the best published figures</h3>" not in golden_page(*REAL_RUNS).read_text(encoding="utf-8")
    stub_plots(monkeypatch)  # the verdicts are findings: the plots of these runs are drawn in the page above
    out = tmp_path / "report.html"
    paths = [str(p) for p in REAL_RUNS]
    assert cli.main(["build", *paths, "--reference", str(TABLE), "-o", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    findings = html[html.index('<section id="findings">') : html.index("</section>", html.index('id="findings"'))]
    assert "Is the GPU giving what it should? Against the best published figures" in findings
    assert "<td>low by 10 %</td>" in findings
    bad = tmp_path / "bad.toml"
    bad.write_text("schema_version = 1\n[[sku]]\nsku = 'x'\nfigures = 3\n", encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["summary", paths[0], "--reference", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {bad}: sku.0.figures") and "\n" not in err
