"""Loading golden pytest-benchmark results into runs and the tidy frame."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from bench.workloads import WORKLOADS
from reports.limits import LIMIT_COLUMNS
from reports.load import BASE_COLUMNS, META_COLUMNS, STAT_COLUMNS, ResultsFileError, read_run, read_runs, skipped, tidy
from tests.golden_runs import BAD, GPUBOX, KILLBOX, LAPTOP, STOPBOX, WORKSTATION, derive


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


def test_the_host_is_the_one_devicebench_recorded_not_the_folder_or_node(tmp_path):
    def change(data):
        data["machine_info"]["devicebench"]["host"] = "box7"
        data["machine_info"]["node"] = "ip-10-0-0-7"

    run = read_run(derive(LAPTOP, tmp_path / "20260101-000000-laptop", change))
    assert run.host == "box7"
    assert run.name == "20260101-000000-laptop"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("truncated.json", "truncated JSON"),
        ("corrupt.json", "corrupt JSON"),
        ("foreign.json", "not a pytest-benchmark JSON file (no 'benchmarks' list and 'machine_info')"),
        ("no-stats-data.json", "benchmarks[0] (test_matmul[tensorflow-CPU:0-n256-float32]).stats.data: Field required"),
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
    with pytest.raises(ResultsFileError, match="not a pytest-benchmark JSON file: the top level is a list, not an"):
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
    assert len(frame) == sum(len(r.record.benchmarks) for r in runs)
    assert set(frame["host"]) == {"gpubox", "laptop", "workstation"}
    assert list(frame.columns[: len(BASE_COLUMNS)]) == BASE_COLUMNS
    # the statistics and run facts close the case's columns; the limits derived from them (% of peak, work per
    # joule) come after
    tail = STAT_COLUMNS + META_COLUMNS + LIMIT_COLUMNS
    assert list(frame.columns[-len(tail) :]) == tail
    assert set(frame["workload"]) == set(WORKLOADS) - {"sustained", "peaks"}  # every workload but the opt-in ones
    params = {p for w in WORKLOADS.values() if w.name not in ("sustained", "peaks") for p in w.spec.params}
    extras = {"final_accuracy", "input_bound", "pipeline_step_s", "premade_step_s", "data_source", "zero_copy"}
    assert params | extras <= set(frame.columns)
    row = frame[
        (frame.host == "gpubox") & (frame.device == "GPU:0") & (frame.n == 10000) & (frame.dtype == "float32")
    ].iloc[0]
    bench = next(b for b in runs[0].record.benchmarks if b.name == "test_matmul[tensorflow-GPU:0-n10000-float32]")
    stats, info = bench.stats, bench.extra_info
    assert (row["median_s"], row["iqr_s"], row["rounds"]) == (stats.median, stats.iqr, stats.rounds)
    assert row["iqr_rel"] == pytest.approx(stats.iqr / stats.median)
    assert (row["throughput"], row["throughput_unit"]) == (info.throughput, "GFLOP/s")
    assert row["throughput"] == pytest.approx(info.work_per_call / stats.median / 1e9)  # from the median
    assert row["allocator"] == "tensorflow" and row["allocator_peak_bytes"] == 3 * 10000 * 10000 * 4
    assert row["nvml_peak_mib"] == info.nvml["0"].peak_mem_mib
    assert (row["tf32"], row["profile"], row["complete"]) == (True, "full", True)
    assert row["one_time_cost_s"] == info.one_time_cost_s
    assert str(frame["n"].dtype) == "Int64" and str(frame["input_bound"].dtype) == "boolean"
    verdicts = frame[(frame.workload == "tfdata") & frame.input_bound.notna()]
    assert sorted(zip(verdicts["host"], verdicts["device"], verdicts["input_bound"], strict=True)) == [
        ("gpubox", "CPU:0", False),
        ("gpubox", "GPU:0", True),
        ("laptop", "CPU:0", True),  # its slow CPU cannot feed even its own training step
        ("workstation", "CPU:0", False),
        ("workstation", "GPU:0", True),
        ("workstation", "GPU:1", True),  # GPUs wait for their input
    ]


def test_a_latency_case_has_no_throughput_in_the_frame():
    frame = tidy([read_run(GPUBOX)])
    views = frame[(frame.device == "CPU:0") & (frame.direction == "d2h-view")]
    assert not views.empty and set(views["measure"]) == {"latency"}
    assert views["throughput"].isna().all() and views["zero_copy"].all()


def test_no_workload_parameter_is_named_like_a_column_of_the_frame():
    """tidy() puts a case's parameters beside its fixed columns, so no parameter may shadow one."""
    fixed = set(BASE_COLUMNS + STAT_COLUMNS + META_COLUMNS)
    assert not {p for w in WORKLOADS.values() for p in w.spec.params} & fixed


def test_tidy_of_no_runs_is_an_empty_frame_with_the_base_columns():
    frame = tidy([])
    assert frame.empty
    assert {"host", "median_s", "throughput"} <= set(frame.columns)


def test_skipped_lists_reasons():
    runs = [read_run(LAPTOP), read_run(WORKSTATION)]
    frame = skipped(runs)
    records = [(run.host, s) for run in runs for s in run.record.devicebench.skipped]
    assert list(zip(frame["host"], frame["name"], frame["device"], frame["kind"], frame["reason"], strict=True)) == [
        (host, s.name, s.device, s.kind, s.reason) for host, s in records
    ]
    assert list(frame["params"]) == [", ".join(f"{k}={v}" for k, v in s.params.items()) for _, s in records]
    matmul = frame[frame["params"] == "n=2048, dtype=float32"]
    assert list(matmul["reason"]) == ["profile smoke: n=2048 is above its CPU limit n=1024"]  # the laptop's CPU
    oom = frame[frame["kind"] == "oom"]
    assert set(oom["host"]) == {"workstation"} and set(oom["device"]) == {"GPU:1"}  # the A4000 others share
    assert all(
        r.startswith("out of memory on GPU:1: ResourceExhaustedError: OOM when allocating") for r in oom["reason"]
    )


def test_an_incomplete_run_is_read_and_its_rows_say_so():
    stopped, killed = read_run(STOPBOX), read_run(KILLBOX)
    frame = tidy([stopped, killed])
    assert len(frame) == 10 and not frame["complete"].any()
    assert stopped.state_text.startswith("incomplete (interrupted): stopped by SIGTERM")
    assert killed.state_text == "incomplete: the run stopped without finishing (killed, out of memory or crashed)"


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
