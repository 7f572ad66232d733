"""Loading golden pytest-benchmark results into runs and the tidy frame."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reports.load import ResultsFileError, read_run, read_runs, skipped, tidy

DATA = Path(__file__).parent / "data"
GPUBOX = DATA / "runs" / "20261121-120000-gpubox"
LAPTOP = DATA / "runs" / "20261120-090000-laptop"
WORKSTATION = DATA / "runs" / "20261122-080000-workstation"
BAD = DATA / "bad"


def test_read_run_folder_names_host_run_and_nvml():
    run = read_run(GPUBOX)
    assert run.name == "20261121-120000-gpubox"
    assert run.host == "gpubox"
    assert run.folder == GPUBOX.resolve()
    assert run.json_path.name == "benchmarks.json"
    assert run.nvml_csv is not None and run.nvml_csv.name == "nvml.csv"
    assert read_run(LAPTOP).nvml_csv is None


def test_read_run_accepts_the_json_file_and_a_latest_symlink(tmp_path):
    assert read_run(GPUBOX / "benchmarks.json").name == "20261121-120000-gpubox"
    results = tmp_path / "results"
    shutil.copytree(LAPTOP, results / LAPTOP.name)
    (results / "latest").symlink_to(LAPTOP.name)
    run = read_run(results / "latest")
    assert run.name == LAPTOP.name
    assert run.folder == (results / LAPTOP.name).resolve()


def test_host_falls_back_to_the_folder_name(tmp_path):
    data = json.loads((LAPTOP / "benchmarks.json").read_text())
    del data["machine_info"]["node"]
    folder = tmp_path / "20260101-000000-box7"
    folder.mkdir()
    (folder / "benchmarks.json").write_text(json.dumps(data))
    assert read_run(folder).host == "box7"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("truncated.json", "truncated JSON"),
        ("corrupt.json", "corrupt JSON"),
        ("foreign.json", "not a pytest-benchmark JSON file: no top-level 'benchmarks' list"),
        ("no-stats-data.json", "benchmark #0 (test_matmul[tensorflow-CPU:0-n100-float32]) has no stats.data"),
        ("empty-folder", "folder has no benchmarks.json"),
        ("does-not-exist", "no such file or folder"),
    ],
)
def test_bad_inputs_give_one_line_errors_naming_the_file(path, expected):
    with pytest.raises(ResultsFileError) as info:
        read_run(BAD / path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(BAD / path))
    assert expected in message


def test_empty_and_non_object_files(tmp_path):
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ResultsFileError, match="file is empty"):
        read_run(tmp_path / "empty.json")
    with pytest.raises(ResultsFileError, match="top level is a list"):
        read_run(tmp_path / "list.json")


def test_read_runs_skip_bad_collects_errors():
    runs, bad = read_runs([LAPTOP, BAD / "foreign.json", GPUBOX], skip_bad=True)
    assert [r.host for r in runs] == ["laptop", "gpubox"]
    assert len(bad) == 1 and "foreign.json" in str(bad[0])
    with pytest.raises(ResultsFileError):
        read_runs([LAPTOP, BAD / "foreign.json"])


def test_tidy_has_one_row_per_case_with_flattened_params():
    runs = [read_run(GPUBOX), read_run(LAPTOP), read_run(WORKSTATION)]
    frame = tidy(runs)
    total = sum(len(r.data["benchmarks"]) for r in runs)
    assert len(frame) == total
    assert set(frame["host"]) == {"gpubox", "laptop", "workstation"}
    for column in (
        "host",
        "run",
        "backend",
        "device",
        "device_kind",
        "device_name",
        "workload",
        "name",
        "group",
        "n",
        "dtype",
        "mode",
        "variant",
        "direction",
        "bytes",
        "median_s",
        "iqr_s",
        "rounds",
        "throughput",
        "throughput_unit",
        "nvml_peak_mib",
        "tf_peak_bytes",
        "first_epoch_s",
        "final_accuracy",
        "input_bound",
        "pipeline_step_s",
        "premade_step_s",
        "data_source",
    ):
        assert column in frame.columns, column
    row = frame[
        (frame.host == "gpubox") & (frame.device == "GPU:0") & (frame.n == 10000) & (frame.dtype == "float32")
    ].iloc[0]
    bench = next(b for b in runs[0].data["benchmarks"] if b["name"] == "test_matmul[tensorflow-GPU:0-n10000-float32]")
    assert row["median_s"] == bench["stats"]["median"]
    assert row["iqr_s"] == bench["stats"]["iqr"]
    assert row["rounds"] == bench["stats"]["rounds"]
    assert row["throughput"] == bench["extra_info"]["throughput"]
    assert row["throughput_unit"] == "GFLOP/s"
    assert row["tf_peak_bytes"] == 3 * 10000 * 10000 * 4
    assert row["nvml_peak_mib"] == bench["extra_info"]["nvml"]["0"]["peak_mem_mib"]
    assert str(frame["n"].dtype) == "Int64"
    tfdata = frame[(frame.workload == "tfdata") & frame.input_bound.notna()]
    assert sorted(tfdata["device"]) == ["CPU:0", "CPU:0", "GPU:0"]


def test_tidy_of_no_runs_is_an_empty_frame_with_the_base_columns():
    frame = tidy([])
    assert frame.empty
    assert {"host", "median_s", "throughput"} <= set(frame.columns)


def test_skipped_lists_reasons():
    frame = skipped([read_run(LAPTOP), read_run(GPUBOX)])
    assert len(frame) == 5
    oom = frame[frame.kind == "oom"].iloc[0]
    assert oom["device"] == "GPU:0" and "OOM" in oom["reason"]
    assert "n=4096" in set(frame["params"].str.split(",").str[0])


def test_reports_never_imports_tensorflow_or_torch():
    code = (
        "import sys, reports.load, reports.cli, reports.__main__; "
        "import importlib; [importlib.import_module(m) for m in "
        "('reports.build_cmd','reports.summary_cmd','reports.page','reports.plots','reports.speedup',"
        "'reports.summary') if importlib.util.find_spec(m)]; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow','torch','keras')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
