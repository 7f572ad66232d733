"""`python -m reports export --format github-action-benchmark`: customSmallerIsBetter JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reports.cli import main
from reports.export_cmd import github_action_benchmark
from results_format import read
from tests.golden_runs import BAD, COMPARE, GPUBOX, STOPBOX

DATA = COMPARE


def test_entries_follow_custom_smaller_is_better() -> None:
    run = read(DATA / "baseline")
    entries = github_action_benchmark(run)
    assert len(entries) == len(run.benchmarks)
    for entry, bench in zip(entries, run.benchmarks, strict=True):
        # name, unit and value are required; range and extra are optional strings.
        assert set(entry) <= {"name", "unit", "value", "range", "extra"}
        assert entry["name"] == f"{bench.name} ({bench.extra_info.device_name})" and entry["unit"] == "ms"
        assert entry["value"] == pytest.approx(bench.stats.median * 1e3, abs=1e-6)  # rounded to 1 ns
        assert entry["range"] == f"± {bench.stats.iqr / 2 * 1e3:.4g}"
        assert f"rounds: {bench.stats.rounds}" in entry["extra"]
        assert f"device: {bench.extra_info.device} ({bench.extra_info.device_kind})" in entry["extra"]
    first = run.benchmarks[0].extra_info
    assert f"throughput: {first.throughput:.6g} {first.throughput_unit}" in entries[0]["extra"]


def test_unit_seconds_and_device_model_in_name() -> None:
    run = read(GPUBOX)
    entries = {entry["name"]: entry for entry in github_action_benchmark(run, unit="s")}
    gpu = next(b for b in run.benchmarks if b.name == "test_matmul[tensorflow-GPU:0-n10000-float32]")
    entry = entries["test_matmul[tensorflow-GPU:0-n10000-float32] (NVIDIA H100 80GB HBM3)"]
    assert entry["unit"] == "s" and entry["value"] == round(gpu.stats.median, 6)
    assert entry["range"] == f"± {gpu.stats.iqr / 2:.4g}"


def test_a_latency_case_is_exported_without_a_throughput() -> None:
    run = read(GPUBOX)
    (bench,) = (b for b in run.benchmarks if b.name == "test_transfer[tensorflow-CPU:0-d2h-view-pageable-1MiB]")
    assert bench.extra_info.measure == "latency"
    (entry,) = (e for e in github_action_benchmark(run) if e["name"].startswith(bench.name))
    assert "throughput" not in entry["extra"] and entry["value"] == round(bench.stats.median * 1e3, 6)


def test_cli_writes_file_and_stdout(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "gab" / "bench.json"
    assert main(["export", "--format", "github-action-benchmark", str(DATA / "baseline"), "-o", str(out)]) == 0
    written = json.loads(out.read_text())
    assert isinstance(written, list) and written[0]["unit"] == "ms"
    assert main(["export", str(DATA / "baseline" / "benchmarks.json")]) == 0
    assert json.loads(capsys.readouterr().out) == written


def test_cli_bad_input_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = BAD / "foreign.json"
    assert main(["export", str(bad), "-o", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and str(bad) in err[0]
    assert not (tmp_path / "x.json").exists()
    assert main(["export", "--format", "nope", str(DATA / "baseline")]) == 2
    capsys.readouterr()


def test_an_incomplete_run_is_refused_unless_allowed(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    stopped = STOPBOX
    out = tmp_path / "bench.json"
    assert main(["export", str(stopped), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {stopped} is an incomplete run (stopped by SIGTERM")
    assert err[0].endswith("pass --allow-incomplete to export what it has") and not out.exists()
    assert main(["export", str(stopped), "-o", str(out), "--allow-incomplete"]) == 0
    assert "exported anyway (--allow-incomplete)" in capsys.readouterr().err
    assert len(json.loads(out.read_text())) == len(read(stopped).benchmarks)
