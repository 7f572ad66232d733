"""compare --store: the baseline window read from the results store judges as the folder window of the same runs.

The runs are the golden nightly history (one host, five runs a day apart) cut to its four GPU matmul cases (each
comparison costs a fifth of the whole run's), written by the real writer; the store holds them, an incomplete run
among them, the current run itself, a byte-identical copy of it, a later run and another host's two runs.
DuckDB always; PostgreSQL too when DEVICEBENCH_TEST_PG names a server (.ci/run starts one and sets it).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from reports.cli import main
from reports.store import SCHEMA_VERSION
from reports.store.db import opened
from tests.golden_runs import DATA, derive, rename_host

HISTORY = sorted((DATA / "history").iterdir())
PG = os.environ.get("DEVICEBENCH_TEST_PG")


def _gpu_matmul(data: dict[str, Any]) -> None:
    """The run's GPU matmul cases only."""
    data["benchmarks"] = [
        bench for bench in data["benchmarks"] if bench["name"].startswith("test_matmul[tensorflow-GPU")
    ]
    data["devicebench"]["run"]["measured"] = len(data["benchmarks"])


def _interrupted(data: dict[str, Any]) -> None:
    """An evening run of the third day, stopped by SIGTERM."""
    data["datetime"] = "2026-11-03T14:00:00+00:00"
    data["devicebench"]["run"].update(
        state="interrupted", complete=False, reason="stopped by SIGTERM", started=data["datetime"], ended=None
    )


def _later(data: dict[str, Any]) -> None:
    """A run of the day after the current one."""
    data["datetime"] = data["devicebench"]["run"]["started"] = "2026-11-06T02:00:00+00:00"
    data["devicebench"]["run"]["ended"] = "2026-11-06T02:00:06+00:00"


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The five runs (the last is current), a window folder of the four before it and an incomplete one, and the
    other runs the store gets."""
    root = tmp_path_factory.mktemp("history")
    runs = [derive(run, root / "runs" / run.name, _gpu_matmul) for run in HISTORY]
    window = root / "window"
    for run in runs[:-1]:
        shutil.copytree(run, window / run.name)
    derive(runs[2], window / "20261103-140000-nightly", _interrupted)
    later = derive(runs[0], root / "later" / "20261106-020000-nightly", _later)
    copy = shutil.copytree(runs[-1], root / "copy" / "20261105-020000-nightly-copy")
    for run in runs[:2]:  # another host's first two days
        derive(
            run, root / "gpu-ref" / run.name.replace("nightly", "gpu-ref"), lambda data: rename_host(data, "gpu-ref")
        )
    return {
        "runs": runs,
        "current": runs[-1],
        "window": window,
        "later": later,
        "copy": copy,
        "gpu-ref": root / "gpu-ref",
    }


def _all_runs(history: dict[str, Any]) -> list[str]:
    """Every run the store gets: the window's, the current one, its copy, the later run and another host's two."""
    runs = [*sorted(history["window"].iterdir()), history["current"], history["copy"], history["later"]]
    return [str(run) for run in [*runs, history["gpu-ref"]]]


@pytest.fixture(scope="module")
def duck(history: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> str:
    """A DuckDB store holding every run (CURRENT already ingested)."""
    store = str(tmp_path_factory.mktemp("store") / "devicebench.duckdb")
    assert main(["ingest", *_all_runs(history), "--store", store]) == 0
    return store


def _verdicts(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """compare's exit code and JSON verdict file."""
    out = tmp_path / f"verdicts-{len(list(tmp_path.iterdir()))}.json"
    code = main(["compare", *args, "--json", str(out)])
    return code, json.loads(out.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def from_folder(history: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any]]:
    """compare's verdicts against the folder window."""
    return _verdicts(tmp_path_factory.mktemp("folder"), str(history["window"]), str(history["current"]))


def _as_folder(verdicts: dict[str, Any], label: str, folder: Path) -> dict[str, Any]:
    """The verdicts with the store window's label written as the folder window's."""
    return json.loads(json.dumps(verdicts).replace(json.dumps(label)[1:-1], json.dumps(str(folder))[1:-1]))


def test_the_store_window_judges_as_the_folder_window_of_the_same_runs(
    history: dict[str, Any], duck: str, from_folder: tuple[int, dict[str, Any]], tmp_path: Path, capsys
) -> None:
    code, verdicts = _verdicts(tmp_path, "--store", duck, "--window", "4", str(history["current"]))
    assert (code, _as_folder(verdicts, f"nightly in {duck}", history["window"])) == from_folder
    # CURRENT, its byte-identical copy and the later run are in the store, but not in its window
    assert verdicts["pooled_runs"] == [4, 1] and verdicts["baseline"]["path"] == f"nightly in {duck} (4 runs)"
    assert verdicts["notes"] == [
        f"baseline window nightly in {duck}: 1 incomplete run(s) left out: "
        "20261103-140000-nightly (incomplete (interrupted): stopped by SIGTERM)"
    ]
    assert len(verdicts["cases"]) == 4
    assert "(4 runs)" in capsys.readouterr().out


def test_a_window_longer_than_the_history_uses_what_there_is_with_a_note(
    history: dict[str, Any], duck: str, from_folder: tuple[int, dict[str, Any]], tmp_path: Path
) -> None:
    code, verdicts = _verdicts(tmp_path, "--store", duck, "--window", "30", str(history["current"]))
    asked = (
        f"baseline window nightly in {duck}: 4 complete run(s) of the 30 asked for (--window): "
        "the store holds no more of this host before the current run"
    )
    assert asked in verdicts["notes"]
    verdicts["notes"].remove(asked)
    assert (code, _as_folder(verdicts, f"nightly in {duck}", history["window"])) == from_folder


def test_the_window_ends_before_the_current_run(history: dict[str, Any], duck: str, tmp_path: Path) -> None:
    # judged against the first three days: the run of day 4 is current, day 5's is newer than it
    _, verdicts = _verdicts(tmp_path, "--store", duck, "--window", "2", str(history["runs"][3]))
    assert verdicts["pooled_runs"] == [2, 1]
    assert verdicts["baseline"]["datetime"] == "2026-11-02T02:00:00+00:00"  # its oldest run: days 2 and 3
    assert verdicts["notes"] == [
        f"baseline window nightly in {duck}: 1 incomplete run(s) left out: "
        "20261103-140000-nightly (incomplete (interrupted): stopped by SIGTERM)"
    ]


def test_host_takes_another_hosts_runs_as_the_baseline(history: dict[str, Any], duck: str, tmp_path: Path) -> None:
    _, verdicts = _verdicts(tmp_path, "--store", duck, "--host", "gpu-ref", str(history["current"]))
    assert verdicts["pooled_runs"] == [2, 1] and verdicts["baseline"]["host"] == "gpu-ref"
    assert verdicts["notes"] == [
        f"baseline window gpu-ref in {duck}: 2 complete run(s) of the 5 asked for (--window): "
        "the store holds no more of this host before the current run"
    ]


def _error(capsys: pytest.CaptureFixture, *args: str) -> str:
    """compare's one error line, asserting exit 2."""
    assert main(["compare", *args]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1, err
    return err[0]


def test_no_store_an_absent_host_or_no_earlier_run_is_one_line(
    history: dict[str, Any], duck: str, tmp_path: Path, capsys
) -> None:
    missing = tmp_path / "none.duckdb"
    assert _error(capsys, "--store", str(missing), str(history["current"])) == (
        f"error: {missing}: no store here (make one with `python -m reports ingest RUN... --store {missing}`)"
    )
    assert _error(capsys, "--store", duck, "--host", "gpubox", str(history["current"])) == (
        f"error: {duck}: no run of host gpubox in the store (ingest its runs first)"
    )
    assert _error(capsys, "--store", duck, str(history["runs"][0])).startswith(
        f"error: {duck}: no run of host nightly started before {history['runs'][0]}"
    )
    assert not missing.exists()


def test_store_options_without_a_store_or_with_two_paths_are_one_line(
    history: dict[str, Any], duck: str, capsys
) -> None:
    assert "CURRENT is one run, not a folder of runs" in _error(capsys, "--store", duck, str(history["window"]))
    assert "add --store" in _error(capsys, "--window", "3", str(history["runs"][0]), str(history["current"]))
    assert "name CURRENT alone" in _error(capsys, "--store", duck, str(history["runs"][0]), str(history["current"]))
    assert "name the CURRENT run" in _error(capsys, "--store", str(history["current"]))  # the path went to --store
    assert "name BASELINE and CURRENT" in _error(capsys, str(history["current"]))


def test_a_store_from_a_newer_devicebench_is_refused(history: dict[str, Any], tmp_path: Path, capsys) -> None:
    store = str(tmp_path / "devicebench.duckdb")
    assert main(["ingest", str(history["runs"][0]), "--store", store]) == 0
    with opened(store, write=True) as db:
        db.execute("INSERT INTO schema_version VALUES (?, ?)", [SCHEMA_VERSION + 1, "later"])
    capsys.readouterr()
    assert f"store schema {SCHEMA_VERSION + 1} is from a newer devicebench" in _error(
        capsys, "--store", store, str(history["current"])
    )


@pytest.mark.skipif(not PG, reason="set DEVICEBENCH_TEST_PG=postgresql://... to test against a PostgreSQL server")
def test_a_postgresql_store_window_judges_as_the_folder_window(
    history: dict[str, Any], from_folder: tuple[int, dict[str, Any]], tmp_path: Path
) -> None:
    import psycopg

    assert PG is not None
    # a schema of its own: tests/test_store.py empties the public one, maybe at the same time (pytest-xdist)
    with psycopg.connect(PG, autocommit=True) as connection:
        connection.execute("DROP SCHEMA IF EXISTS compare_store CASCADE")
        connection.execute("CREATE SCHEMA compare_store")
    url = f"{PG}{'&' if '?' in PG else '?'}options=-csearch_path%3Dcompare_store"
    assert main(["ingest", *_all_runs(history), "--store", url]) == 0
    code, verdicts = _verdicts(tmp_path, "--store", url, "--window", "4", str(history["current"]))
    label = f"nightly in postgresql://…@{url.split('@')[-1]}"
    assert (code, _as_folder(verdicts, label, history["window"])) == from_folder
