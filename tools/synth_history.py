"""Synthetic histories from a golden run, and what the results store and the reports cost on them.

    python -m tools.synth_history make OUT --runs 365              # 365 nightly runs of one host
    python -m tools.synth_history make OUT --runs 1 --hosts 64     # a fleet: one run on each of 64 hosts
    python -m tools.synth_history measure --runs 1 100 1000 --hosts 4 64 [--store postgresql://...]

`make` copies the source run (default: the golden nightly run in tests/data/history) into distinct runs:
one day apart, each with its own folder, host, start and end time, and its times scaled by a small
deterministic wobble (±1 %), with matmul 15 % slower from 60 % of the history on (a change point to find).
Every written file is a valid results file (the first and last are checked with results_format).

`measure` makes each history in a temporary folder and runs, each as a child process: ingest (all runs, shown per
run), the report from the store (`build --store`), the report of the newest run with its host's history (`build RUN
--store`, what `bench run` does) and, for fleets, `fleet --store --html`; for each, the wall time, the child's CPU
time (user + system: steadier than wall time on a busy machine), its peak memory (its maximum resident set) and the
page's size, as a Markdown table.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import results_format
from reports.store.db import opened

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tests" / "data" / "history" / "20261101-020000-nightly"
START = dt.datetime(2025, 1, 1, 2, 0, tzinfo=dt.UTC)
TIME_FIELDS = ("min", "max", "mean", "stddev", "median", "iqr", "q1", "q3", "ld15iqr", "hd15iqr", "total")


def wobble(run: int, case: int) -> float:
    """A deterministic factor within ±1 % for one case of one run (no random state: the same every time)."""
    return 1.0 + 0.01 * math.sin(run * 12.9898 + case * 78.233)


def scale(bench: dict[str, Any], factor: float) -> None:
    """Make a case `factor` times slower: its times, rates and throughput."""
    stats = bench["stats"]
    for name in TIME_FIELDS:
        stats[name] *= factor
    stats["data"] = [value * factor for value in stats["data"]]
    stats["ops"] /= factor
    info = bench["extra_info"]
    if isinstance(info.get("throughput"), int | float):
        info["throughput"] /= factor


def synth_run(source: dict[str, Any], host: str, index: int, runs: int) -> dict[str, Any]:
    """Run `index` of `runs` on `host`: the source with its host, times and measurements changed."""
    data = copy.deepcopy(source)
    data["machine_info"]["devicebench"]["host"] = host
    data["machine_info"]["node"] = host
    started = START + dt.timedelta(days=index)
    state = data["devicebench"]["run"]
    length = dt.datetime.fromisoformat(state["ended"]) - dt.datetime.fromisoformat(state["started"])
    data["datetime"] = state["started"] = started.isoformat()
    state["ended"] = (started + length).isoformat()
    stepped = index >= 0.6 * runs
    for number, bench in enumerate(data["benchmarks"]):
        slower = 1.15 if stepped and bench["extra_info"].get("workload") == "matmul" else 1.0
        scale(bench, wobble(index, number) * slower)
    return data


def folder_name(host: str, index: int) -> str:
    """The run folder's name, as the plugin names it (start time, then host)."""
    return f"{(START + dt.timedelta(days=index)):%Y%m%d-%H%M%S}-{host}"


def make(out: Path, runs: int, hosts: int = 1, source: Path = SOURCE) -> list[Path]:
    """Write `runs` runs of each of `hosts` hosts under OUT (OUT/<host>/<run>/ for a fleet); their folders."""
    base = json.loads((source / results_format.RESULTS_FILE).read_text(encoding="utf-8"))
    folders: list[Path] = []
    for h in range(hosts):
        host = "nightly" if hosts == 1 else f"node-{h:03d}"
        for index in range(runs):
            folder = (out if hosts == 1 else out / host) / folder_name(host, index)
            folder.mkdir(parents=True, exist_ok=True)
            text = json.dumps(synth_run(base, host, index, runs), indent=1, ensure_ascii=False) + "\n"
            (folder / results_format.RESULTS_FILE).write_text(text, encoding="utf-8")
            folders.append(folder)
    for folder in {folders[0], folders[-1]}:
        results_format.read(folder)  # valid: the reader raises with one line if not
    return folders


def timed(command: list[str]) -> tuple[float, float, float]:
    """Run a child; (wall seconds, its CPU seconds, its peak resident memory in MB). Exits on failure."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    with tempfile.TemporaryFile("w+") as log:  # not a pipe: a fleet's table would fill it
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        log.seek(0)
        output = log.read()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit(f"failed ({code}): {' '.join(command)}\n{output[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _size(path: Path) -> str:
    """A page's size in MB, or '' when it was not written."""
    return f"{path.stat().st_size / 1e6:.2f}" if path.is_file() else ""


def measure_one(runs: int, hosts: int, store: str | None, work: Path) -> list[list[str]]:
    """The table rows for one history (runs × hosts)."""
    out = work / f"h{runs}x{hosts}"
    folders = make(out, runs, hosts)
    location = store or str(work / f"h{runs}x{hosts}.duckdb")
    if store:  # a server store is shared: start it empty
        with opened(store, write=True) as emptied:
            emptied.execute("DELETE FROM cases")
            emptied.execute("DELETE FROM runs")
    python = [sys.executable, "-m", "reports"]
    engine = "postgresql" if store else "duckdb"
    label = f"{runs} run(s) × {hosts} host(s)"
    rows = []
    wall, cpu, peak = timed([*python, "ingest", str(out), "--store", location])
    n = len(folders)
    rows.append([label, engine, "ingest (per run)", f"{wall / n:.3f}", f"{cpu / n:.3f}", f"{peak:.0f}", ""])
    page = work / f"h{runs}x{hosts}.html"
    wall, cpu, peak = timed([*python, "build", "--store", location, "-o", str(page)])
    rows.append([label, engine, "report from the store", f"{wall:.1f}", f"{cpu:.1f}", f"{peak:.0f}", _size(page)])
    newest = work / f"h{runs}x{hosts}-newest.html"
    wall, cpu, peak = timed([*python, "build", str(folders[-1]), "--store", location, "-o", str(newest)])
    rows.append([label, engine, "newest run + history", f"{wall:.1f}", f"{cpu:.1f}", f"{peak:.0f}", _size(newest)])
    if hosts > 1:
        fleet = work / f"h{runs}x{hosts}-fleet.html"
        wall, cpu, peak = timed([*python, "fleet", "--store", location, "--html", str(fleet)])
        rows.append([label, engine, "fleet", f"{wall:.1f}", f"{cpu:.1f}", f"{peak:.0f}", _size(fleet)])
    shutil.rmtree(out)
    return rows


def main(argv: list[str] | None = None) -> int:
    """`make` or `measure` (see the module's docstring)."""
    parser = argparse.ArgumentParser(prog="python -m tools.synth_history", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    maker = sub.add_parser("make", help="write a synthetic history")
    maker.add_argument("out", type=Path)
    maker.add_argument("--runs", type=int, default=365)
    maker.add_argument("--hosts", type=int, default=1)
    maker.add_argument("--source", type=Path, default=SOURCE, help="the run folder to copy")
    measurer = sub.add_parser("measure", help="time ingest and the reports on synthetic histories")
    measurer.add_argument("--runs", type=int, nargs="*", default=[1, 100, 1000], help="runs of one host")
    measurer.add_argument("--hosts", type=int, nargs="*", default=[4, 64, 256], help="fleets: hosts of one run")
    measurer.add_argument("--store", help="a postgresql:// URL (emptied for each history); default: a DuckDB file")
    measurer.add_argument("--work", type=Path, help="where to write (default: a temporary folder)")
    args = parser.parse_args(argv)
    if args.command == "make":
        folders = make(args.out, args.runs, args.hosts, args.source)
        print(f"wrote {len(folders)} runs under {args.out}")
        return 0
    work = args.work or Path(tempfile.mkdtemp(prefix="synth-history."))
    work.mkdir(parents=True, exist_ok=True)
    print(
        "| history | store | step | wall s | CPU s | peak MB | page MB |\n|---|---|---|---:|---:|---:|---:|", flush=True
    )
    plans = [(runs, 1) for runs in args.runs] + [(1, hosts) for hosts in args.hosts]
    for runs, hosts in plans:
        for row in measure_one(runs, hosts, args.store, work):
            print("| " + " | ".join(row) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
