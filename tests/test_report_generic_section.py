"""A workload reports has never heard of gets its section from the spec its results file carries: a table of its
keys, throughput and facts on the page and in the terminal, its headline facts among the findings, and its plot."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from reports import cli, sections, specs
from reports.load import read_run, tidy
from results_format import RESULTS_FILE, Fact, Plot, Section, WorkloadSpec

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "data" / "compare" / "baseline"

TOY = WorkloadSpec(
    name="toy",
    version=1,
    title="toy multiply",
    params=("n", "dtype"),
    keys=("n", "dtype"),
    work_unit="FLOP",
    throughput_unit="GFLOP/s",
    labels={"float32": "fp32"},
    facts=(
        Fact(name="us_per_call", description="time per call", unit="µs", better="lower", format=".1f", headline=True),
        Fact(name="resident", description="bytes kept on the device", hint="bytes"),
    ),
    section=Section(
        title="Toy multiply", table=("us_per_call", "resident"), plot=Plot(x="n", logx=True), note="A toy note."
    ),
)


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The baseline golden run with two cases of a `toy` workload added, as a newer devicebench would write them."""
    data = json.loads((GOLDEN / RESULTS_FILE).read_text(encoding="utf-8"))
    matmuls = [b for b in data["benchmarks"] if b["extra_info"]["workload"] == "matmul"][:2]
    for index, source in enumerate(matmuls):
        bench = copy.deepcopy(source)
        n = 100 * (index + 1)
        info = bench["extra_info"]
        info.update(workload="toy", params={"n": n, "dtype": "float32"}, case_label=f"toy n={n}")
        info.update(us_per_call=50.0 / (index + 1), resident=3 * 4 * n * n)
        bench["name"] = f"test_toy[tensorflow-CPU:0-n{n}]"
        bench["param"] = f"tensorflow-CPU:0-n{n}"
        data["benchmarks"].append(bench)
    data["devicebench"]["run"]["measured"] = len(data["benchmarks"])
    data["devicebench"]["workloads"]["toy"] = TOY.model_dump(mode="json")
    folder = tmp_path_factory.mktemp("toy") / "20261205-000000-toybox"
    folder.mkdir()
    (folder / RESULTS_FILE).write_text(json.dumps(data), encoding="utf-8")
    return folder


def test_the_spec_comes_from_the_file_and_makes_a_generic_section(toy_run: Path):
    frame = tidy([read_run(toy_run)])
    assert specs.spec_of("toy") == TOY
    assert [s.key for s in sections.ordered(frame)][-3:] == ["toy", "noise", "skipped"]
    table = sections.generic_table(frame, TOY)
    assert list(table.columns) == ["device", "n", "dtype", "GFLOP/s", "us_per_call (µs)", "resident"]
    assert list(table["dtype"]) == ["fp32", "fp32"]
    assert list(table["us_per_call (µs)"]) == ["50.0", "25.0"]
    assert list(table["resident"]) == ["117.2 KiB", "468.8 KiB"]
    lines = sections.headlines(frame)
    assert "Toy multiply on CPU:0: best time per call 25.0 µs (toy n=200)." in lines


@pytest.fixture
def unknown_toy(monkeypatch: pytest.MonkeyPatch) -> None:
    """No file read yet described `toy` (as in a fresh `python -m reports` process): only toy_run's file will."""
    monkeypatch.setattr(specs, "_FROM_FILES", {})
    assert specs.spec_of("toy") is None


def test_the_terminal_summary_and_the_page_show_the_section(
    toy_run: Path, tmp_path: Path, unknown_toy: None, capsys: pytest.CaptureFixture
):
    assert cli.main(["summary", str(toy_run)]) == 0
    summary = capsys.readouterr()
    assert summary.err == ""
    assert "Toy multiply on CPU:0: best time per call 25.0 µs (toy n=200)." in summary.out
    assert "Toy multiply" in summary.out and "468.8 KiB" in summary.out
    out = tmp_path / "report.html"
    assert cli.main(["build", str(toy_run), "-o", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert "<h3>Toy multiply</h3>" in html and "A toy note." in html and "468.8 KiB" in html
    assert 'id="plot-section-toy"' in html and "how does throughput change with n?" in html
    assert "toy multiply: throughput" not in html  # no second, plain throughput table for it


def test_compare_takes_a_threshold_for_a_workload_only_its_files_describe(
    toy_run: Path, unknown_toy: None, capsys: pytest.CaptureFixture
):
    assert cli.main(["compare", str(toy_run), str(toy_run), "--threshold-for", "toy=0.2"]) == 0
    done = capsys.readouterr()
    assert "toy" in done.out, done.err  # its cases are judged with the threshold given
