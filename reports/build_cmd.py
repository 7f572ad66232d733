"""Build the HTML report (and report.csv beside it) from one or more runs.

PATH is a run folder (results/<run>), results/latest, or a benchmarks.json file.
Output: with one PATH and no -o, <run folder>/report.html; with several PATHs, -o OUT.html
or ./report.html. The tidy table (one row per case) goes beside the page as <name>.csv (report.csv).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from reports.load import ResultsFileError, Run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `build`."""
    parser.add_argument("paths", nargs="+", metavar="PATH", help="run folder, results/latest or benchmarks.json")
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


def run(args: argparse.Namespace) -> int:
    """Read the runs, build the page and the CSV, print where they went."""
    from reports.load import read_runs

    runs, bad = read_runs(args.paths, skip_bad=args.skip_bad)
    for error in bad:
        print(f"skipped: {error}", file=sys.stderr)
    if not runs:
        raise ResultsFileError(args.paths[0], "no readable results among the inputs")
    if getattr(args, "reference", None) is not None:
        from reports.envelope import add_reference

        runs = add_reference(runs, args.reference)
    return write_report(runs, args.output or default_output(args.paths, [r.folder for r in runs]), bad)


def write_report(runs: Sequence[Run], output: Path, bad: Sequence[ResultsFileError] = ()) -> int:
    """Build the page of runs already read and the CSV beside it; print where they went; 0, or 2 if unwritable."""
    from reports import page, plots, sections
    from reports.fleet_page import fleet_section
    from reports.history import history_section
    from reports.labels import several_backends
    from reports.limits_page import limits_section
    from reports.load import notes, skipped, tidy

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
    html = page.build_page(
        runs,
        frame,
        left_out,
        figures,
        sections.headlines(frame, left_out),
        bad=bad,
        notes=[*notes(runs), *unreadable],
        csv_name=csv_path.name,
        history=history_section(runs),
        versus_plot=plots.versus(frame) if several_backends(frame) else None,
        fleet=fleet_section(runs),
        limits=limits_section(runs, frame, nvml),
    )
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(html, encoding="utf-8")
        frame.to_csv(csv_path, index=False)
    except OSError as exc:
        print(f"error: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"wrote {output} and {csv_path.name} ({len(frame)} cases from {len(runs)} run(s))")
    return 0
