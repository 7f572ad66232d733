"""`python -m reports export --format github-action-benchmark`: customSmallerIsBetter JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reports.cli import main
from reports.export_cmd import github_action_benchmark

DATA = Path(__file__).parent / "data" / "compare"


def test_entries_follow_custom_smaller_is_better() -> None:
    data = json.loads((DATA / "baseline" / "benchmarks.json").read_text())
    entries = github_action_benchmark(data)
    assert len(entries) == len(data["benchmarks"])
    for entry in entries:
        # name, unit and value are required; range and extra are optional strings.
        assert set(entry) <= {"name", "unit", "value", "range", "extra"}
        assert isinstance(entry["name"], str) and entry["unit"] == "ms"
        assert isinstance(entry["value"], float) and entry["value"] > 0
        assert isinstance(entry["range"], str) and entry["range"].startswith("± ")
        assert isinstance(entry["extra"], str)
    first = data["benchmarks"][0]
    assert entries[0]["name"] == f"{first['name']} ({first['extra_info']['device_name']})"
    assert entries[0]["value"] == pytest.approx(first["stats"]["median"] * 1e3, abs=1e-6)  # rounded to 1 ns
    assert "throughput:" in entries[0]["extra"] and f"rounds: {first['stats']['rounds']}" in entries[0]["extra"]


def test_unit_seconds_and_device_model_in_name() -> None:
    data = {
        "benchmarks": [
            {
                "name": "test_matmul[tensorflow-GPU:0-n1024-float32]",
                "extra_info": {"device": "GPU:0", "device_kind": "gpu", "device_name": "NVIDIA H100"},
                "stats": {"median": 0.25, "iqr": 0.02, "rounds": 5, "data": [0.25] * 5},
            },
            {"name": "test_broken", "stats": {"median": None, "data": []}},
        ]
    }
    (entry,) = github_action_benchmark(data, unit="s")
    assert entry["name"] == "test_matmul[tensorflow-GPU:0-n1024-float32] (NVIDIA H100)"
    assert entry["value"] == 0.25 and entry["unit"] == "s"
    assert entry["range"] == "± 0.01"


def test_cli_writes_file_and_stdout(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "gab" / "bench.json"
    assert main(["export", "--format", "github-action-benchmark", str(DATA / "baseline"), "-o", str(out)]) == 0
    written = json.loads(out.read_text())
    assert isinstance(written, list) and written[0]["unit"] == "ms"
    assert main(["export", str(DATA / "baseline" / "benchmarks.json")]) == 0
    assert json.loads(capsys.readouterr().out) == written


def test_cli_bad_input_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = Path(__file__).parent / "data" / "bad" / "foreign.json"
    assert main(["export", str(bad), "-o", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and str(bad) in err[0]
    assert not (tmp_path / "x.json").exists()
    assert main(["export", "--format", "nope", str(DATA / "baseline")]) == 2
    capsys.readouterr()
