"""`python -m bench run`: pytest, then the summary and the report of that run; exit codes; stop signals passed on.

Against a stand-in for python3 (a shell script), so no TensorFlow and no real run is needed; the real suite
stopped by SIGTERM as PID 1 is in tests/test_docker.py.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import run_cmd

ROOT = Path(__file__).resolve().parent.parent

FAKE_PYTHON = """#!/bin/sh
# stands in for python3: `-m pytest ...` makes a run folder (or not), `-m reports DIR` writes report.html
echo "$*" >> "$FAKE_LOG"
if [ "$2" = pytest ]; then
    shift 2
    while [ $# -gt 0 ]; do
        if [ "$1" = --results-dir ]; then results="$2"; fi
        case "$1" in --results-dir=*) results="${1#--results-dir=}" ;; esac
        if [ "$1" = --run-path-file ]; then path_file="$2"; fi
        shift
    done
    if [ "$FAKE_WRITES" = 1 ]; then
        mkdir -p "$results" && results="$(cd "$results" && pwd)"  # the plugin writes an absolute path
        run="$results/run-$(date +%s%N)"
        mkdir -p "$run" && echo '{}' > "$run/benchmarks.json" && ln -sfn "$run" "$results/latest"
        echo "$run" > "$path_file"
    fi
    if [ -n "${FAKE_WAIT:-}" ]; then
        # a run that goes on until stopped: note the signals it gets, stop as pytest does (exit 2)
        for name in TERM INT HUP; do
            trap "echo got $name >> '$FAKE_LOG'; exit 2" "$name"
        done
        touch "$FAKE_WAIT"
        i=0
        while [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
    fi
    exit "$FAKE_BENCH_STATUS"
fi
if [ "$3" = summary ]; then
    exit "${FAKE_SUMMARY_STATUS:-0}"
fi
if [ "$3" = ingest ]; then
    exit "${FAKE_INGEST_STATUS:-0}"
fi
echo report > "$3/report.html"
exit "$FAKE_REPORT_STATUS"
"""


@pytest.fixture
def fake_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake python3 at tmp_path/fake-python, its settings in the environment; the call log is tmp_path/calls.log."""
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    (tmp_path / "calls.log").write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DEVICEBENCH_RESULTS", raising=False)
    for name, value in {"FAKE_LOG": "calls.log", "FAKE_WRITES": "1", "FAKE_BENCH_STATUS": "0"}.items():
        monkeypatch.setenv(name, str(tmp_path / value) if name == "FAKE_LOG" else value)
    monkeypatch.setenv("FAKE_REPORT_STATUS", "0")
    return fake


def bench_run(fake: Path, *args: str, **settings: int | str) -> tuple[int, list[str]]:
    """run_cmd.main in-process with the fake python; (exit code, the fake's calls)."""
    log = fake.parent / "calls.log"
    log.write_text("")
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update({name: str(value) for name, value in settings.items()})
    try:
        code = run_cmd.main(list(args), python=str(fake))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return code, log.read_text().splitlines()


def test_runs_pytest_then_the_summary_then_the_report_of_that_run(fake_env: Path, tmp_path: Path, capsys) -> None:
    code, calls = bench_run(fake_env, "--suite", "/src/bench", "--devices", "CPU:0", "-k", "matmul")
    assert code == 0
    run = (tmp_path / "results" / "latest").resolve()
    assert re.fullmatch(r"-m pytest /src/bench --run-path-file \S+ --results-dir results --devices CPU:0 -k matmul",
                        calls[0])  # fmt: skip
    store = "results/devicebench.duckdb"
    assert calls[1:] == [f"-m reports ingest {run} --store {store}", f"-m reports summary {run}",
                         f"-m reports {run} --store {store}"]  # fmt: skip
    assert (run / "report.html").read_text() == "report\n"
    assert f"devicebench: run folder {run}" in capsys.readouterr().out
    path_file = calls[0].split("--run-path-file ")[1].split()[0]
    assert not Path(path_file).exists()  # its own temporary file is removed


def test_the_suite_defaults_to_the_bench_package_and_results_to_devicebench_results(fake_env: Path) -> None:
    _, calls = bench_run(fake_env, "--profile", "full", DEVICEBENCH_RESULTS="elsewhere")
    bench_dir = Path(run_cmd.__file__).resolve().parent
    assert calls[0].startswith(f"-m pytest {bench_dir} --run-path-file ")
    assert calls[0].endswith("--results-dir elsewhere --profile full")


def test_given_results_dir_and_run_path_file_are_kept(fake_env: Path, tmp_path: Path) -> None:
    code, calls = bench_run(fake_env, "--suite=a.py", "--suite", "b.py", "--", "--results-dir=out", "--run-path-file",
                            "run.path")  # fmt: skip
    assert code == 0
    assert calls[0] == "-m pytest a.py b.py --results-dir=out --run-path-file run.path"
    assert (tmp_path / "run.path").read_text().strip() == str((tmp_path / "out" / "latest").resolve())  # kept


def test_listing_runs_pytest_only(fake_env: Path) -> None:
    code, calls = bench_run(fake_env, "--suite", "s", "--collect-only", FAKE_BENCH_STATUS=5)
    assert code == 5 and calls == ["-m pytest s --collect-only"]


def test_a_bench_failure_still_gets_its_report_and_its_status(fake_env: Path, tmp_path: Path, capsys) -> None:
    code, calls = bench_run(fake_env, FAKE_BENCH_STATUS=1, FAKE_REPORT_STATUS=0)
    assert code == 1 and len(calls) == 4
    assert (tmp_path / "results" / "latest" / "report.html").exists()
    assert "the benchmarks did not all pass (pytest exited 1)" in capsys.readouterr().err


def test_a_failed_report_is_the_status_of_a_passing_run(fake_env: Path) -> None:
    assert bench_run(fake_env, FAKE_REPORT_STATUS=2)[0] == 2


def test_a_failed_ingest_is_said_and_the_report_built_from_the_file(fake_env: Path, tmp_path: Path, capsys) -> None:
    code, calls = bench_run(fake_env, FAKE_INGEST_STATUS=2, DEVICEBENCH_STORE="postgresql://ci@db/bench")
    run = (tmp_path / "results" / "latest").resolve()
    assert code == 0 and calls[1] == f"-m reports ingest {run} --store postgresql://ci@db/bench"
    assert calls[-1] == f"-m reports {run}"  # no --store: the store does not have this run
    assert "was not ingested into postgresql://ci@db/bench" in capsys.readouterr().err


def test_a_failed_summary_is_said_and_the_report_still_built(fake_env: Path, capsys) -> None:
    code, calls = bench_run(fake_env, FAKE_SUMMARY_STATUS=1)
    assert code == 0 and len(calls) == 4
    assert "the summary failed (the report follows)" in capsys.readouterr().err


def test_no_report_without_a_new_run_and_never_of_an_older_one(fake_env: Path, capsys) -> None:
    bench_run(fake_env)  # an earlier run: results/latest exists, and must not be reported as this one
    code, calls = bench_run(fake_env, FAKE_WRITES=0, FAKE_BENCH_STATUS=4)
    assert code == 4 and len(calls) == 1
    assert "this run measured no case (pytest exited 4); no report built" in capsys.readouterr().err


def test_a_run_that_measured_nothing_fails_even_if_pytest_passed(fake_env: Path) -> None:
    code, calls = bench_run(fake_env, FAKE_WRITES=0, FAKE_BENCH_STATUS=0)
    assert code == 1 and len(calls) == 1


def test_usage_and_help(capsys) -> None:
    from bench.__main__ import main

    assert main(["run", "--help"]) == 0
    assert "usage: python -m bench run [--suite PATH]" in capsys.readouterr().out
    assert main(["run", "--suite"]) == 2
    assert capsys.readouterr().err == "usage error: --suite needs a PATH (see python -m bench run --help)\n"
    assert main([]) == 2 and capsys.readouterr().err.startswith("usage: python -m bench run")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_a_stop_signal_goes_to_pytest_once_and_the_report_is_still_built(fake_env: Path, tmp_path: Path, stop) -> None:
    started = tmp_path / "started"
    env = {
        **os.environ,
        "FAKE_WAIT": str(started),
        "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    code = f"import sys; from bench import run_cmd; sys.exit(run_cmd.main(sys.argv[1:], python={str(fake_env)!r}))"
    proc = subprocess.Popen([sys.executable, "-c", code, "-k", "matmul"], env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists(), "the fake pytest never started"
        proc.send_signal(stop)
        assert proc.wait(timeout=60) == 2  # pytest's status for an interrupted run
    finally:
        proc.kill()
    calls = (tmp_path / "calls.log").read_text().splitlines()
    run = (tmp_path / "results" / "latest").resolve()
    assert calls[1] == f"got {stop.name[3:]}"  # once
    assert [c.split(" --store")[0] for c in calls[2:]] == [f"-m reports ingest {run}", f"-m reports summary {run}",
                                                           f"-m reports {run}"]  # fmt: skip
    assert (run / "report.html").exists()


def test_a_signal_while_the_report_is_built_waits_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    steps = run_cmd.Forwarder()
    sent: list[int] = []

    class Child:
        returncode = None

        def send_signal(self, signum: int) -> None:
            sent.append(signum)

    steps.child, steps.hold = Child(), 1  # type: ignore[assignment]
    steps(signal.SIGTERM, None)
    assert sent == []  # docker stop after pytest ended: the report finishes
    steps(signal.SIGTERM, None)
    assert sent == [signal.SIGTERM]  # a second one stops it
    steps.child = None
    steps(signal.SIGINT, None)
    assert steps.pending == [signal.SIGINT]
