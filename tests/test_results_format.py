"""The results format (results_format/): refused files, round trips, the published schema, the records' rules,
incomplete runs and atomic writes."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import results_format
from reports import cli
from reports.load import read_run
from results_format import ResultsFileError, ResultsWriteError, RunState
from tests.golden_runs import BAD, COMPARE, DATA, GPUBOX, KILLBOX, STOPBOX

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "docs" / "results-schema.json"
GOLDEN = sorted(p.parent for p in DATA.glob("*/*/benchmarks.json") if p.parent.parent.name != "v2")  # v2: schema 2
NAME = "test_matmul[tensorflow-CPU:0-n256-float32]"  # the first case of compare/baseline
FIRST = f"benchmarks[0] ({NAME})"

#: every file under tests/data/bad, and what its one line must say (after "<path>: ")
REFUSED = {
    "truncated.json": "truncated JSON: EOF while parsing",
    "corrupt.json": "corrupt JSON: expected ident at line 1 column 39",
    "deep-nesting.json": "JSON nested too deeply (recursion limit exceeded",
    "huge-integer.json": "a JSON number too large to be a measurement (number out of range",
    "extra-info-type.json": f"malformed: {FIRST}.extra_info: Input should be an object",
    "commit-info-type.json": "malformed: commit_info: Input should be an object",
    "list-params.json": f"malformed: {FIRST}.extra_info.params.n: "
    "a parameter is one string, number or true/false, not a list",
    "device-null.json": f"malformed: {FIRST}.extra_info.device: Input should be a valid string",
    "negative-round.json": f"malformed: {FIRST}.stats.data[0]: Input should be greater than 0",
    "zero-round.json": f"malformed: {FIRST}.stats.data[0]: Input should be greater than 0",
    "no-stats-data.json": f"malformed: {FIRST}.stats.data: Field required",
    "schema-1.json": "written by devicebench 0.1 (results schema 1); this devicebench reads schemas 2 and 3: "
    "run the benchmarks again",
    "schema-99.json": "results schema 99; this devicebench reads schemas 2 and 3 "
    "(the file is from a newer devicebench: upgrade)",
    "foreign.json": "not a pytest-benchmark JSON file (no 'benchmarks' list and 'machine_info')",
    "empty-folder": "folder has no benchmarks.json (is it a devicebench run folder?)",
}


def test_every_file_under_bad_has_an_expected_message():
    assert sorted(p.name for p in BAD.iterdir()) == sorted(REFUSED)


@pytest.mark.parametrize(("name", "problem"), sorted(REFUSED.items()))
def test_a_bad_file_is_refused_with_one_line_naming_it_and_the_problem(name: str, problem: str):
    path = BAD / name
    with pytest.raises(ResultsFileError) as info:
        results_format.read(path)
    message = str(info.value)
    assert "\n" not in message
    shown = path / "benchmarks.json" if path.is_dir() and (path / "benchmarks.json").exists() else path
    assert message.startswith(f"{shown}: {problem}"), message
    assert info.value.path == shown


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_summary_of_a_bad_file_exits_2_with_one_stderr_line(name: str, capsys: pytest.CaptureFixture):
    assert cli.main(["summary", str(BAD / name)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {BAD / name}: {REFUSED[name]}")


def test_python_m_reports_summary_of_a_bad_file_exits_2_with_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "reports", "summary", str(BAD / "schema-1.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [f"error: {BAD / 'schema-1.json'}: {REFUSED['schema-1.json']}"]


@pytest.mark.parametrize("folder", GOLDEN, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_golden_file_round_trips(folder: Path):
    path = folder / results_format.RESULTS_FILE
    run = results_format.read(path)
    text = results_format.dumps(run)
    assert results_format.parse(text, path) == run
    assert text == path.read_text(encoding="utf-8")  # the golden files are the writer's own output


def test_the_published_schema_is_the_models_schema():
    expected = json.dumps(results_format.json_schema(), indent=1, sort_keys=True) + "\n"
    assert SCHEMA.read_text(encoding="utf-8") == expected, (
        "docs/results-schema.json is out of date: regenerate it with "
        "`python -m results_format schema -o docs/results-schema.json`"
    )


def test_the_schema_command_prints_and_writes_the_schema(tmp_path: Path, capsys: pytest.CaptureFixture):
    from results_format.__main__ import main

    assert main(["schema", "-o", str(tmp_path / "schema.json")]) == 0
    assert (tmp_path / "schema.json").read_text(encoding="utf-8") == SCHEMA.read_text(encoding="utf-8")
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "devicebench results file (schema version 3)"


# --- the records' rules, on changed copies of golden files --------------------------------------------------------


def changed(source: Path, change: Any) -> str:
    """The JSON text of a golden run with `change` applied to its parsed JSON."""
    data = json.loads((source / results_format.RESULTS_FILE).read_text(encoding="utf-8"))
    change(data)
    return json.dumps(data)


def refusal(text: str) -> str:
    """The one line results_format gives for `text` (which must be refused)."""
    with pytest.raises(ResultsFileError) as info:
        results_format.parse(text, "run.json")
    assert "\n" not in str(info.value)
    return str(info.value)


def case(data: dict[str, Any], name: str) -> dict[str, Any]:
    """The extra_info of the benchmark `name` in a parsed results file."""
    return next(b for b in data["benchmarks"] if b["name"] == name)["extra_info"]


def test_a_case_whose_params_differ_from_its_workloads_is_refused():
    baseline = COMPARE / "baseline"
    name = "test_matmul[tensorflow-CPU:0-n256-float32]"
    missing = refusal(changed(baseline, lambda d: case(d, name)["params"].pop("dtype")))
    assert missing == f"run.json: malformed: benchmark {NAME!r}: matmul params are ['n'], expected ['dtype', 'n']"
    extra = refusal(changed(baseline, lambda d: case(d, name)["params"].update(batch_size=64)))
    assert "matmul params are ['batch_size', 'dtype', 'n'], expected ['dtype', 'n']" in extra
    unknown = refusal(changed(baseline, lambda d: case(d, name).update(workload="resnet")))
    assert f"benchmark {NAME!r}: unknown workload 'resnet' (devicebench.workloads describes: " in unknown
    other = refusal(changed(baseline, lambda d: case(d, name).update(workload_version=2)))
    assert other.endswith(f"benchmark {NAME!r}: matmul version 2, but devicebench.workloads says 1")


def test_a_latency_case_has_no_throughput_and_a_throughput_case_needs_one():
    latency = "test_transfer[tensorflow-CPU:0-d2h-view-pageable-1MiB]"  # a zero-copy view on the CPU: nothing moves
    copy = "test_transfer[tensorflow-CPU:0-d2h-pageable-1MiB]"
    run = results_format.read(GPUBOX)
    kinds = {b.name: (b.extra_info.measure, b.extra_info.throughput) for b in run.benchmarks}
    assert kinds[latency] == ("latency", None) and kinds[copy][0] == "throughput" and kinds[copy][1] > 0
    given = refusal(changed(GPUBOX, lambda d: case(d, latency).update(throughput=8.0, throughput_unit="GB/s")))
    assert given.endswith(f"({latency}).extra_info: a latency case has no throughput")
    dropped = refusal(changed(GPUBOX, lambda d: case(d, copy).update(throughput=None)))
    assert dropped.endswith(f"({copy}).extra_info: a throughput case needs throughput and throughput_unit")


@pytest.mark.parametrize(
    ("state", "complete", "ok"),
    [
        ("complete", True, True),
        ("complete", False, False),
        ("running", False, True),
        ("running", True, False),
        ("interrupted", False, True),
        ("interrupted", True, False),
        ("failed", False, True),
        ("failed", True, False),
    ],
)
def test_run_state_complete_is_true_exactly_when_the_state_is_complete(state: str, complete: bool, ok: bool):
    fields = {"state": state, "complete": complete, "started": "2026-11-24T10:00:00+00:00"}
    if ok:
        assert RunState(**fields).complete is complete
    else:
        with pytest.raises(ValidationError, match=f"complete is {complete} but the state is '{state}'"):
            RunState(**fields)


def test_a_file_whose_state_contradicts_itself_is_refused():
    text = changed(COMPARE / "baseline", lambda d: d["devicebench"]["run"].update(complete=False))
    assert refusal(text).endswith("devicebench.run: complete is False but the state is 'complete'")
    text = changed(COMPARE / "baseline", lambda d: d["devicebench"]["run"].update(measured=7))
    assert refusal(text).endswith("devicebench.run.measured is 7 but the file holds 6 benchmarks")


@pytest.mark.parametrize(
    ("folder", "state", "text"),
    [
        (STOPBOX, "interrupted", "incomplete (interrupted): stopped by SIGTERM"),
        (KILLBOX, "running", "incomplete: the run stopped without finishing (killed, out of memory or crashed)"),
    ],
    ids=["SIGTERM", "SIGKILL"],
)
def test_an_incomplete_golden_run_is_readable_and_says_so(folder: Path, state: str, text: str):
    record = results_format.read(folder)
    assert record.devicebench.run.state == state and not record.complete
    assert record.devicebench.run.measured == len(record.benchmarks) == 5
    run = read_run(folder)
    assert not run.complete and run.state_text.startswith(text)


# --- atomic writes -------------------------------------------------------------------------------------------------


@pytest.fixture
def old_file(tmp_path: Path) -> Path:
    """A results file already on disk (a copy of compare/baseline, written by the writer)."""
    path = tmp_path / "run" / results_format.RESULTS_FILE
    path.parent.mkdir()
    results_format.write(path, results_format.read(COMPARE / "baseline"))
    return path


def test_write_replaces_the_file_with_the_new_document(old_file: Path):
    newer = results_format.read(COMPARE / "same")
    results_format.write(old_file, newer)
    assert results_format.read(old_file) == newer
    assert sorted(p.name for p in old_file.parent.iterdir()) == [results_format.RESULTS_FILE]


def test_a_failed_rename_leaves_the_old_file_intact_and_no_temporary_file(
    old_file: Path, monkeypatch: pytest.MonkeyPatch
):
    before = old_file.read_bytes()

    def full_disk(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(results_format.io.os, "replace", full_disk)
    with pytest.raises(ResultsWriteError) as info:
        results_format.write(old_file, results_format.read(COMPARE / "same"))
    assert info.value.errno == errno.ENOSPC
    assert str(info.value) == f"cannot write {old_file}: No space left on device"
    assert old_file.read_bytes() == before
    assert sorted(p.name for p in old_file.parent.iterdir()) == [results_format.RESULTS_FILE]


def test_a_failed_fsync_leaves_the_old_file_intact(old_file: Path, monkeypatch: pytest.MonkeyPatch):
    before = old_file.read_bytes()

    def io_error(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(results_format.io.os, "fsync", io_error)
    with pytest.raises(ResultsWriteError, match="Input/output error"):
        results_format.write_atomic(old_file, "{}")
    assert old_file.read_bytes() == before
    assert sorted(p.name for p in old_file.parent.iterdir()) == [results_format.RESULTS_FILE]


def test_a_write_into_a_missing_folder_is_one_line(tmp_path: Path):
    path = tmp_path / "gone" / results_format.RESULTS_FILE
    with pytest.raises(ResultsWriteError) as info:
        results_format.write_atomic(path, "{}")
    assert str(info.value) == f"cannot write {path}: No such file or directory"
    assert info.value.errno == errno.ENOENT and not path.parent.exists()
