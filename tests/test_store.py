"""The results store (reports/store): ingest, idempotence, migrations, bad input, two writers, reports on it.

DuckDB always; PostgreSQL when DEVICEBENCH_TEST_PG names a server (.ci/run starts one and sets it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from reports.cli import main
from reports.store import SCHEMA_VERSION, StoreError, open_store, run_count
from reports.store.db import migrate, opened
from tests.golden_runs import BAD, DATA, derive

if TYPE_CHECKING:
    import pandas as pd

HISTORY = sorted((DATA / "history").iterdir())
ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("DEVICEBENCH_TEST_PG")


def _rows(location: str | Path) -> tuple[int, int]:
    """(runs, cases) in a store."""
    with opened(location) as store:
        return store.execute("SELECT count(*) FROM runs")[0][0], store.execute("SELECT count(*) FROM cases")[0][0]


def _ingest(*args: str | Path) -> int:
    """`python -m reports ingest ...` in-process."""
    return main(["ingest", *map(str, args)])


@pytest.fixture
def duck(tmp_path: Path) -> Path:
    """A fresh DuckDB store's path."""
    return tmp_path / "results" / "devicebench.duckdb"


def test_the_same_run_twice_is_one_run(duck: Path, capsys) -> None:
    assert _ingest(*HISTORY[:3], "--store", duck) == 0
    assert "3 run(s) added" in capsys.readouterr().out
    assert _ingest(DATA / "history", "--store", duck) == 0  # a results folder: its run folders
    assert "2 run(s) added, 0 replaced (their file changed), 3 already in the store" in capsys.readouterr().out
    runs, cases = _rows(duck)
    assert runs == 5 and cases == 5 * 21


def test_a_rewritten_run_replaces_its_old_copy(duck: Path, tmp_path: Path, capsys) -> None:
    run = derive(HISTORY[0], tmp_path / "r" / HISTORY[0].name, lambda data: None)
    assert _ingest(run, "--store", duck) == 0
    derive(HISTORY[1], run, lambda data: None)  # the same folder, another file
    assert _ingest(run, "--store", duck) == 0
    assert "0 run(s) added, 1 replaced" in capsys.readouterr().out.splitlines()[-1]
    assert _rows(duck) == (1, 21)


def test_a_corrupt_run_is_refused_with_one_line_and_the_store_unchanged(duck: Path, capsys) -> None:
    assert _ingest(HISTORY[0], "--store", duck) == 0
    capsys.readouterr()
    assert _ingest(HISTORY[1], BAD / "corrupt.json", "--store", duck) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "corrupt.json: corrupt JSON" in err and "the store is unchanged" in err
    assert _rows(duck) == (1, 21)  # not even the good run beside it
    assert _ingest(HISTORY[1], BAD / "corrupt.json", "--store", duck, "--skip-bad") == 0
    assert _rows(duck) == (2, 42)


def test_a_store_from_a_newer_devicebench_is_refused(duck: Path, capsys) -> None:
    assert _ingest(HISTORY[0], "--store", duck) == 0
    with opened(duck, write=True) as store:
        store.execute("INSERT INTO schema_version VALUES (?, ?)", [SCHEMA_VERSION + 1, "later"])
    capsys.readouterr()
    assert _ingest(HISTORY[1], "--store", duck) == 2
    assert main(["build", "--store", str(duck), "-o", str(duck.parent / "r.html")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(f"store schema {SCHEMA_VERSION + 1} is from a newer devicebench" in e for e in err)


def test_an_old_store_is_migrated_on_the_next_ingest(duck: Path) -> None:
    duck.parent.mkdir(parents=True)
    import duckdb

    from reports.store.db import Store

    store = Store("duckdb", str(duck), duckdb.connect(str(duck)))
    assert migrate(store, upto=1) == 1  # what the first devicebench with a store made
    store.close()
    with pytest.raises(StoreError, match="store schema 1 is older"):
        open_store(duck)  # a reader does not migrate
    assert _ingest(HISTORY[0], "--store", duck) == 0
    with opened(duck) as store:
        assert store.version() == SCHEMA_VERSION == 4
        assert [r[0] for r in store.execute("SELECT version FROM schema_version ORDER BY version")] == [1, 2, 3, 4]
        assert store.execute("SELECT count(*) FROM cases WHERE tf32 IS NULL")[0][0] == 0  # written since migration 3


def test_a_store_at_migration_3_gets_the_fleet_facts_of_its_runs_on_the_next_ingest(duck: Path) -> None:
    duck.parent.mkdir(parents=True)
    with opened(duck, write=True) as store:  # today's store, then back to migration 3 as the last devicebench left it
        pass
    assert _ingest(*HISTORY[:2], "--store", duck) == 0
    with opened(duck, write=True) as store:
        facts = store.execute("SELECT * FROM fleet_facts ORDER BY run_key")
        store.execute("DROP TABLE fleet_facts")
        store.execute("DELETE FROM schema_version WHERE version = 4")
    with pytest.raises(StoreError, match="store schema 3 is older than this devicebench's 4: run `python -m reports"):
        open_store(duck)  # a reader asks for one ingest
    assert _ingest(HISTORY[2], "--store", duck) == 0
    with opened(duck) as store:
        assert store.version() == 4
        migrated = store.execute("SELECT * FROM fleet_facts ORDER BY run_key")
    assert len(facts) == 2 and migrated[:2] == facts and len(migrated) == 3  # the old runs' from their documents


def test_two_writers_at_once_both_get_in(duck: Path) -> None:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [sys.executable, "-m", "reports", "ingest", "--store", str(duck)]
    writers = [subprocess.Popen([*command, str(run)], env=env, stderr=subprocess.PIPE, text=True) for run in HISTORY]
    problems = [w.communicate(timeout=120)[1] for w in writers]
    assert [w.returncode for w in writers] == [0] * len(HISTORY), problems
    assert _rows(duck) == (5, 105)


def test_rebuild_rereads_the_run_files(duck: Path, capsys) -> None:
    assert _ingest(*HISTORY, "--store", duck) == 0
    assert _ingest("--rebuild", "--store", duck) == 0
    assert "5 run(s) added" in capsys.readouterr().out
    assert _ingest(HISTORY[0], "--rebuild", "--store", duck) == 0
    assert _rows(duck) == (1, 21)


def test_no_store_and_a_missing_store_are_one_line(tmp_path: Path, capsys) -> None:
    assert main(["build", "--store", str(tmp_path / "none.duckdb")]) == 2
    assert "no store here" in capsys.readouterr().err
    (tmp_path / "junk.duckdb").write_text("not a database")
    assert _ingest(HISTORY[0], "--store", tmp_path / "junk.duckdb") == 2
    assert capsys.readouterr().err.count("\n") == 1


def _report_from_store(location: str | Path, out: Path) -> str:
    """Ingest the history runs, build the report from the store; the page's text."""
    assert _ingest(*HISTORY, "--store", location) == 0
    assert main(["build", "--store", str(location), "-o", str(out)]) == 0
    return out.read_text(encoding="utf-8")


def test_the_report_from_the_store_shows_the_newest_run_and_the_whole_history(duck: Path, tmp_path: Path) -> None:
    html = _report_from_store(duck, tmp_path / "report.html")
    assert 'id="history"' in html and "Throughput over 5 runs of" in html
    assert "History covers 5 runs; only the newest are shown in detail." in html
    assert 'href="report-history.parquet"' in html
    import pandas as pd

    exported = _parquet(tmp_path / "report-history.parquet")
    assert exported["run"].nunique() == 5 and len(exported) == 105
    assert pd.read_csv(tmp_path / "report.csv")["run"].unique().tolist() == [HISTORY[-1].name]


def _parquet(path: Path) -> pd.DataFrame:
    """A Parquet file read back by DuckDB (not pandas: pyarrow is not a dependency), timestamps in UTC."""
    import duckdb

    with duckdb.connect() as connection:
        connection.execute("SET TimeZone = 'UTC'")
        return connection.execute("SELECT * FROM read_parquet(?)", [str(path)]).df()


def test_the_parquet_export_is_the_csv_export_and_needs_no_pyarrow(tmp_path: Path, monkeypatch) -> None:
    import pandas as pd

    from reports.build_cmd import write_exports
    from reports.history import history_frame
    from reports.load import read_runs

    history = history_frame(read_runs(list(map(str, HISTORY)))[0])
    python_str = pd.StringDtype("python", na_value=float("nan"))  # pandas' str without pyarrow
    history = history.astype({c: python_str for c in history.select_dtypes("string").columns})
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # an import of pyarrow fails, as if it were not installed
    assert write_exports(history, tmp_path / "report.html") == ["report-history.csv", "report-history.parquet"]
    exported = _parquet(tmp_path / "report-history.parquet")
    assert list(exported.columns) == list(history.columns) and len(exported) == 105
    assert exported.to_csv(index=False) == (tmp_path / "report-history.csv").read_text(encoding="utf-8")


@pytest.mark.skipif(not PG, reason="set DEVICEBENCH_TEST_PG=postgresql://... to test against a PostgreSQL server")
def test_postgresql_store_ingest_report_history_and_fleet(tmp_path: Path, capsys) -> None:
    assert PG is not None
    with opened(PG, write=True) as store:
        for table in ("fleet_facts", "cases", "runs", "schema_version"):
            store.execute(f"DROP TABLE IF EXISTS {table}")
    html = _report_from_store(PG, tmp_path / "report.html")
    assert "Throughput over 5 runs of" in html
    assert _ingest(*HISTORY, "--store", PG) == 0
    assert "5 already in the store" in capsys.readouterr().out
    with opened(PG) as store:
        assert run_count(store) == (5, 1) and store.version() == SCHEMA_VERSION
    fleet = sorted((DATA / "fleet").iterdir())
    assert _ingest(*fleet, "--store", PG) == 0
    capsys.readouterr()
    assert main(["fleet", str(HISTORY[-1]), *map(str, fleet)]) == 1  # each host's newest run, as in the store
    from_files = capsys.readouterr().out
    assert main(["fleet", "--store", PG, "--html", str(tmp_path / "fleet.html")]) == 1
    assert capsys.readouterr().out == from_files and "slow: node-c" in from_files  # the same verdicts from rows
    assert "node-c" in (tmp_path / "fleet.html").read_text(encoding="utf-8")


def test_without_a_store_the_page_details_the_newest_runs_and_history_covers_all(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert main(["build", *map(str, HISTORY), "--detail", "2", "-o", str(out)]) == 0
    import pandas as pd

    assert sorted(pd.read_csv(tmp_path / "report.csv")["run"].unique()) == [p.name for p in HISTORY[-2:]]
    html = out.read_text(encoding="utf-8")
    assert "Throughput over 5 runs of" in html and "History covers 5 runs" in html
    assert _parquet(tmp_path / "report-history.parquet")["run"].nunique() == 5


def test_a_parquet_export_that_cannot_be_written_is_an_os_error_naming_it(tmp_path: Path) -> None:
    import pandas as pd

    from reports.build_cmd import write_parquet

    (tmp_path / "report-history.parquet").mkdir()  # write_report turns an OSError into one line and exit 2
    with pytest.raises(OSError, match=r"report-history\.parquet"):
        write_parquet(pd.DataFrame({"run": ["a"]}), tmp_path / "report-history.parquet")


def test_the_stored_history_holds_each_distinct_string_once(duck: Path) -> None:
    """Read in batches, one object per distinct string, not one per row: 1,000 runs peaked ~15 MB lower."""
    from reports.store import history_frame

    assert _ingest(*HISTORY, "--store", duck) == 0
    with opened(duck) as store:
        assert [len(rows) for rows in store.batches("SELECT name FROM cases", size=40)] == [40, 40, 25]
        frame = history_frame(store)
    if frame["name"].dtype.storage != "python":
        pytest.skip("pandas keeps its strings in pyarrow here (installed): they are not Python objects")
    for column in ("host", "run", "name", "workload", "backend", "device", "throughput_unit", "profile"):
        values = frame[column].to_numpy(dtype=object)
        assert len({id(value) for value in values}) == frame[column].nunique(dropna=False), column


def test_the_store_and_the_files_give_the_same_history_frame(duck: Path) -> None:
    from reports.history import history_frame as from_files
    from reports.load import read_run
    from reports.store import history_frame

    assert _ingest(*HISTORY, "--store", duck) == 0
    with opened(duck) as store:
        stored = history_frame(store)
    files = from_files([read_run(p) for p in HISTORY])
    assert list(stored.columns) == list(files.columns)
    columns = ["host", "run", "position", "name", "throughput", "profile"]
    assert stored[columns].equals(files[columns])


def test_summary_from_the_store_is_the_summary_of_each_hosts_newest_run_file(duck: Path, capsys) -> None:
    fleet = sorted((DATA / "fleet").iterdir())  # four hosts, one run each
    assert _ingest(*HISTORY, *fleet, "--store", duck) == 0
    capsys.readouterr()
    assert main(["summary", str(HISTORY[-1]), *map(str, fleet)]) == 0
    from_files = capsys.readouterr().out
    assert main(["summary", "--store", str(duck)]) == 0
    from_store = capsys.readouterr().out
    assert from_store == from_files and HISTORY[-1].name in from_store and HISTORY[-2].name not in from_store


def test_summary_from_a_missing_store_or_with_paths_too_is_one_line(tmp_path: Path, capsys) -> None:
    assert main(["summary", "--store", str(tmp_path / "none.duckdb")]) == 2
    assert main(["summary", str(HISTORY[0]), "--store", str(tmp_path / "none.duckdb")]) == 2
    assert main(["summary"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and "no store here" in err[0] and "not both" in err[1] and "--store" in err[2]
