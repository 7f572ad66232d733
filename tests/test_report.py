"""Building the report end to end through the CLI: outputs, escaping, bad inputs, summary."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from reports import cli, plots
from reports.load import tidy

DATA = Path(__file__).parent / "data"
GPUBOX = DATA / "runs" / "20261121-120000-gpubox"
LAPTOP = DATA / "runs" / "20261120-090000-laptop"
WORKSTATION = DATA / "runs" / "20261122-080000-workstation"
BAD = DATA / "bad"


@pytest.fixture
def fast_plots(monkeypatch):
    """Replace the plots with placeholders, for tests of the page and CLI around them (plots are slow)."""

    def stub(frame, nvml):
        return [plots.Plot("stub", "Stub", "stub?", why_not="Plots are stubbed in this test.")]

    monkeypatch.setattr(plots, "all_plots", stub)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, int, str]:
    """A copy of the CPU+GPU run folder, its report built once by `python -m reports build FOLDER`."""
    folder = Path(shutil.copytree(GPUBOX, tmp_path_factory.mktemp("built") / GPUBOX.name))
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = cli.main(["build", str(folder)])
    return folder, code, stdout.getvalue()


def test_build_one_run_writes_page_and_csv_into_the_run_folder(built):
    gpubox, code, stdout = built
    assert code == 0
    html = (gpubox / "report.html").read_text()
    frame = pd.read_csv(gpubox / "report.csv")
    assert len(frame) == len(json.loads((gpubox / "benchmarks.json").read_text())["benchmarks"])
    assert stdout.startswith(f"wrote {gpubox / 'report.html'} and report.csv")
    assert "GPU:0 is 41.9x faster than CPU:0 at n=10000 (float32 matmul); the GPU wins from n&gt;=256." in html
    assert "n=10000: GPU:0 is 41.9x CPU:0 (book: 32x on a notebook GPU)" in html
    assert "OOM when allocating tensor" in html  # skipped cases with reasons
    assert "<dt>device GPU:0 (tensorflow)</dt><dd>NVIDIA H100 80GB HBM3, 79.6 GiB</dd>" in html  # environment
    assert "<dt>NVIDIA driver</dt><dd>560.35.03</dd>" in html
    assert html.count('<img src="data:image/svg+xml;base64,') == 7


def test_page_is_self_contained(built):
    html = (built[0] / "report.html").read_text()
    assert "<script" not in html
    assert re.search(r'(src|href)="(?!data:|#)', html) is None
    assert "@import" not in html and "url(http" not in html
    for uri in re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html):
        svg = base64.b64decode(uri).decode()
        assert "<svg" in svg and 'xlink:href="http' not in svg


def test_strings_from_results_files_are_escaped(tmp_path, fast_plots):
    data = json.loads((GPUBOX / "benchmarks.json").read_text())
    evil = "<script>alert(1)</script>"
    data["machine_info"]["node"] = evil
    data["benchmarks"][0]["extra_info"]["device_name"] = "<b>bold</b>"
    data["devicebench"]["skipped"][0]["reason"] = "<img src=x onerror=alert(2)>"
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "benchmarks.json").write_text(json.dumps(data))
    assert cli.main([str(folder)]) == 0
    html = (folder / "report.html").read_text()
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>bold</b>" not in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html


def test_several_runs_need_an_output_or_use_the_current_folder(tmp_path, monkeypatch, fast_plots):
    out = tmp_path / "out" / "all.html"
    assert cli.main([str(GPUBOX), str(LAPTOP), str(WORKSTATION), "-o", str(out)]) == 0
    assert out.is_file() and (tmp_path / "out" / "all.csv").is_file()
    html = out.read_text()
    assert "workstation GPU:0 is 78.8x faster than workstation CPU:0" in html
    monkeypatch.chdir(tmp_path)
    assert cli.main([str(GPUBOX), str(LAPTOP)]) == 0
    assert (tmp_path / "report.html").is_file() and (tmp_path / "report.csv").is_file()


def test_cpu_only_run_explains_missing_plots(tmp_path):
    out = tmp_path / "cpu.html"
    assert cli.main([str(LAPTOP), "-o", str(out)]) == 0
    html = out.read_text()
    assert "a CPU-only run has no speedup" in html
    assert "No transfer cases ran (they need a GPU)" in html
    assert "No nvml.csv in these runs" in html
    assert "profile smoke: n=4096 is above the CPU limit 1024" in html


@pytest.mark.parametrize("bad", ["truncated.json", "corrupt.json", "foreign.json", "no-stats-data.json"])
def test_a_bad_file_is_one_error_line_and_exit_2(bad, tmp_path, capsys, fast_plots):
    code = cli.main([str(GPUBOX), str(BAD / bad), "-o", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"error: {BAD / bad}: ")
    assert "Traceback" not in err
    assert not (tmp_path / "r.html").exists()


def test_skip_bad_builds_from_the_rest_and_lists_what_it_skipped(tmp_path, capsys, fast_plots):
    out = tmp_path / "r.html"
    code = cli.main([str(BAD / "truncated.json"), str(GPUBOX), str(BAD / "foreign.json"), "--skip-bad", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 0
    assert f"skipped: {BAD / 'truncated.json'}: truncated JSON" in err
    assert f"skipped: {BAD / 'foreign.json'}: not a pytest-benchmark JSON file" in err
    html = out.read_text()
    assert "Input files left out" in html and "foreign.json" in html


def test_skip_bad_with_nothing_readable_fails(tmp_path, capsys, fast_plots):
    code = cli.main([str(BAD / "corrupt.json"), "--skip-bad", "-o", str(tmp_path / "r.html")])
    assert code == 2
    assert "no readable results" in capsys.readouterr().err


def test_summary_prints_tables_speedup_book_and_skipped(capsys):
    assert cli.main(["summary", str(GPUBOX)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "n=10000: GPU:0 is 41.9x CPU:0 (book: 32x on a notebook GPU)" in out
    assert "n=100: GPU:0 is 0.86x CPU:0: no difference (book: no difference for small tensors)" in out
    assert "matmul (GFLOP/s)" in out and "48,770" in out
    assert "GPU/CPU speedup, float32 matmul" in out and "41.9x" in out
    assert "torch is not installed" in out


def test_summary_of_a_bad_file_exits_2(capsys):
    assert cli.main(["summary", str(BAD / "foreign.json")]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_help_lists_subcommands_and_exit_codes(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "build" in out and "summary" in out and "Exit codes" in out
    assert cli.main(["build", "--help"]) == 0
    assert "report.html" in capsys.readouterr().out


def test_default_command_and_missing_subcommands(monkeypatch):
    assert cli.with_default_command(["results/latest"], ["build", "summary"]) == ["build", "results/latest"]
    assert cli.with_default_command(["summary", "x"], ["build", "summary"]) == ["summary", "x"]
    assert cli.with_default_command(["-o", "a.html", "x"], ["build"]) == ["build", "-o", "a.html", "x"]
    assert cli.load_subcommand("no_such_thing") is None
    monkeypatch.setattr(cli, "SUBCOMMANDS", ("build", "no_such_thing"))
    assert cli.available_names() == ["build"]


def test_every_plot_has_an_image_or_a_reason(built):
    html = (built[0] / "report.html").read_text()
    keys = re.findall(r'<figure id="plot-([a-z]+)"', html)
    assert keys == ["matmul", "speedup", "mnist", "tfdata", "transfer", "nvml", "memory"]
    assert 'class="why-not"' not in html
    empty = plots.all_plots(tidy([]), plots.read_nvml([]))
    assert all(p.image is None and p.why_not and p.why_not.endswith(".") for p in empty)


def test_known_peak_matches_model_names():
    assert plots.known_peak("NVIDIA H100 80GB HBM3") == 66900.0
    assert plots.known_peak("Intel Xeon") is None
    assert plots.known_peak(None) is None
