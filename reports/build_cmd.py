"""Build the HTML report (and report.csv beside it) from one or more runs.

PATH is a run folder (results/<run>), results/latest, or a benchmarks.json file.
Output: with one PATH and no -o, <run folder>/report.html; with several PATHs, -o OUT.html
or ./report.html. The tidy table (one row per case) goes beside the page as <name>.csv (report.csv).

The page stays small whatever the number of runs: at most --detail runs (each host's newest first) are shown
in detail; History draws every run of the host, downsampled, with its change points, and every run's
throughput per case is one click away in <name>-history.csv and <name>-history.parquet beside the page.
With --store (and no PATH) the runs come from the results store, and only what the page shows is read.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from reports.load import ResultsFileError, Run
from reports.store import add_store_option

DETAIL_RUNS = 6


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `build`."""
    parser.add_argument(
        "paths", nargs="*", metavar="PATH", help="run folder, results/latest or benchmarks.json (or none, with --store)"
    )
    add_store_option(
        parser,
        "read from the results store: with no PATH its newest runs in detail; History and the export cover every "
        "stored run of the hosts shown",
    )
    parser.add_argument(
        "--detail",
        type=int,
        default=DETAIL_RUNS,
        metavar="N",
        help=f"show at most N runs in detail, each host's newest first (default {DETAIL_RUNS})",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        help="the HTML file to write (default: <run>/report.html for one run, ./report.html for several)",
    )
    parser.add_argument(
        "--reference",
        type=Path,
        metavar="TOML",
        help="a reference table (bench/hardware/reference.toml) to judge runs recorded without one by their GPU's SKU",
    )
    parser.add_argument(
        "--skip-bad",
        action="store_true",
        help="with several PATHs, leave out unreadable ones (listed on stderr and in the page) instead of failing",
    )


def default_output(paths: list[str], run_folders: list[Path]) -> Path:
    """<run>/report.html for a single input, else report.html in the current folder."""
    if len(paths) == 1 and len(run_folders) == 1:
        return run_folders[0] / "report.html"
    return Path("report.html")


def newest_first(runs: Sequence[Run], most: int) -> list[Run]:
    """At most `most` runs for the detailed sections: each host's newest run first (newest host first), then
    the next newest runs; in the order given."""
    order = sorted(runs, key=lambda r: (r.record.datetime, r.name), reverse=True)
    chosen: list[Run] = []
    for run in order:
        if run.host not in {c.host for c in chosen}:
            chosen.append(run)
    chosen += [run for run in order if run not in chosen]
    kept = {id(run) for run in chosen[: max(most, 1)]}
    return [run for run in runs if id(run) in kept]


def run(args: argparse.Namespace) -> int:
    """Read the runs (from files, or the store), build the page and the CSV, print where they went."""
    from reports.load import read_runs

    if args.store is not None:
        return _from_store(args)
    if not args.paths:
        print("error: name at least one PATH (or read the results store with --store)", file=sys.stderr)
        return 2
    runs, bad = read_runs(args.paths, skip_bad=args.skip_bad)
    for error in bad:
        print(f"skipped: {error}", file=sys.stderr)
    if not runs:
        raise ResultsFileError(args.paths[0], "no readable results among the inputs")
    if getattr(args, "reference", None) is not None:
        from reports.envelope import add_reference

        runs = add_reference(runs, args.reference)
    from reports.history import history_frame

    shown = newest_first(runs, args.detail) if len(runs) > args.detail else list(runs)
    output = args.output or default_output(args.paths, [r.folder for r in runs])
    history = history_frame(runs) if len(runs) > 1 else None
    return write_report(shown, output, bad, history=history, total=len(runs))


def _from_store(args: argparse.Namespace) -> int:
    """The report from the results store: PATHs (or the newest runs) in detail, History from the store."""
    from reports.load import read_runs
    from reports.store import StoreError, default_store, detail_runs, history_frame, latest_runs
    from reports.store.db import opened

    location = args.store or default_store()
    try:
        with opened(location) as store:
            if args.paths:
                runs, bad = read_runs(args.paths, skip_bad=args.skip_bad)
                for error in bad:
                    print(f"skipped: {error}", file=sys.stderr)
            else:
                runs, bad = detail_runs(store, latest_runs(store, per_host=1, hosts=args.detail)), []
            if not runs:
                print(f"error: {store.location}: no runs in the store (ingest some first)", file=sys.stderr)
                return 2
            history = history_frame(store, sorted({r.host for r in runs}))
            total = history["run"].nunique() if not history.empty else len(runs)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "reference", None) is not None:
        from reports.envelope import add_reference

        runs = add_reference(runs, args.reference)
    output = args.output or (
        default_output(args.paths, [r.folder for r in runs]) if args.paths else Path("report.html")
    )
    return write_report(runs, output, bad, history=history, total=int(total))


def gate_link(runs: Sequence[Run], output: Path) -> str | None:
    """The gate page (`compare --html <run>/gate.html`) of a run shown, relative to the report; None without one."""
    for run in runs:
        if (run.folder / "gate.html").is_file():
            return os.path.relpath(run.folder / "gate.html", output.resolve().parent)
    return None


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """`frame` (without its index) as a Parquet file, written by DuckDB; a failure to write it is an OSError.

    Not pandas' to_parquet: that needs pyarrow, whose import alone is ~35 MB of a report's peak memory.
    """
    import duckdb

    quoted = str(path).replace("'", "''")  # COPY takes no parameter for its file name
    with duckdb.connect() as connection:
        connection.register("frame", frame)
        try:
            connection.execute(f"COPY frame TO '{quoted}' (FORMAT PARQUET)")
        except duckdb.Error as exc:
            raise OSError(0, " ".join(str(exc).split())) from None


def write_exports(history: pd.DataFrame, output: Path) -> list[str]:
    """Every run's throughput per case beside the page as <name>-history.csv and .parquet; their file names."""
    csv_path = output.with_name(f"{output.stem}-history.csv")  # the names build_page links
    parquet_path = csv_path.with_suffix(".parquet")
    history.to_csv(csv_path, index=False)
    write_parquet(history, parquet_path)
    return [csv_path.name, parquet_path.name]


def write_report(
    runs: Sequence[Run],
    output: Path,
    bad: Sequence[ResultsFileError] = (),
    history: pd.DataFrame | None = None,
    total: int | None = None,
    fleet_runs: Sequence[Run] | None = None,
    fleet_judged: Any = None,
) -> int:
    """Build the page of runs already read and the CSV beside it; print where they went; 0, or 2 if unwritable.

    `history` (reports.history.history_frame's columns, over every run of the hosts, not only `runs`) feeds the
    History section and the export files; `total` is how many runs it covers. `fleet_runs` (default `runs`) are
    the runs the Fleet section judges: every host's, while only some of them are shown in detail; `fleet_judged`
    (reports.fleet_page.fleet_section's `judged`) their verdicts when already judged.
    """
    from reports import page, plots, sections
    from reports.fleet_page import fleet_section
    from reports.history import history_frame, history_section
    from reports.labels import several_backends
    from reports.limits_page import limits_section
    from reports.load import notes, skipped, tidy
    from reports.scorecard import cards

    frame = tidy(runs)
    left_out = skipped(runs)
    nvml, unreadable = plots.read_nvml_files([(r.host, r.name, r.nvml_csv) for r in runs])
    for _, problem in unreadable:
        print(f"warning: {problem}", file=sys.stderr)
    figures = plots.all_plots(frame, nvml)
    if nvml.empty and unreadable:  # not "no GPU, or NVML was not available": there was a timeline, unreadable
        why = f"No readable nvml.csv in these runs: {'; '.join(problem for _, problem in unreadable)}."
        figures = [dataclasses.replace(p, why_not=why) if p.key == "nvml" and p.image is None else p for p in figures]
    csv_path = output.with_suffix(".csv")
    has_history = history is not None and not history.empty
    export_names = [f"{output.stem}-history.csv", f"{output.stem}-history.parquet"] if has_history else []
    html = page.build_page(
        runs,
        frame,
        left_out,
        figures,
        sections.headlines(frame, left_out),
        bad=bad,
        notes=[*notes(runs), *unreadable],
        csv_name=csv_path.name,
        exports=export_names,
        gate=gate_link(runs, output),
        scorecard=cards(frame, runs, history if history is not None else history_frame(runs)),
        total_runs=total,
        history=history_section(runs) if history is None else history_section(frame=history),
        versus_plot=plots.versus(frame) if several_backends(frame) else None,
        fleet=fleet_section(runs if fleet_runs is None else fleet_runs, fleet_judged),
        limits=limits_section(runs, frame, nvml),
    )
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(html, encoding="utf-8")
        frame.to_csv(csv_path, index=False)
        exports = write_exports(history, output) if has_history else []
    except OSError as exc:
        print(f"error: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    more = f"; every run's throughput in {' and '.join(exports)}" if exports else ""
    over = f" ({total} run(s) in History)" if total and total > len(runs) else ""
    print(f"wrote {output} and {csv_path.name} ({len(frame)} cases from {len(runs)} run(s){over}){more}")
    return 0
