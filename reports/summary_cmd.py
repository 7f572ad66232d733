"""Print a run's findings and throughput tables to the terminal (rich tables).

Shows throughput per device and size (matmul) or mode/variant/direction (other workloads),
the GPU/CPU speedup where a GPU ran, the book's matmul claims next to this run's, TensorFlow vs
PyTorch where both backends ran, the runs' notes (an unavailable backend, a run that did not finish),
and the skipped cases with their reasons. PATH is a run folder,
results/latest or a benchmarks.json. With --store (and no PATH), each host's newest run comes from the
results store instead: the same summary as of those runs' files.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from reports import health, sections, serving, specs, summary, training
from reports import multidevice as md
from reports import speedup as sp
from reports.fmt import cell, fmt_ratio
from reports.labels import several_backends
from reports.sections import Section
from reports.store import add_store_option

if TYPE_CHECKING:
    from reports.load import Run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `summary`."""
    parser.add_argument(
        "paths", nargs="*", metavar="PATH", help="run folder, results/latest or benchmarks.json (or none, with --store)"
    )
    add_store_option(
        parser,
        "summarise each host's newest run in the results store instead of PATHs",
    )
    parser.add_argument(
        "--reference",
        type=Path,
        metavar="TOML",
        help="a reference table (bench/hardware/reference.toml) to judge runs recorded without one by their GPU's SKU",
    )


def rich_table(frame: pd.DataFrame, title: str, formats: dict | None = None):
    """A rich Table of a frame (index reset into columns), numbers right-aligned, every string as plain text."""
    from rich.table import Table
    from rich.text import Text

    # Text, not str: rich reads a str as markup, and host names, devices and skip reasons come from the files
    formats = formats or {}
    flat = frame.reset_index() if any(frame.index.names) else frame
    table = Table(title=Text(title), title_justify="left", title_style="bold")
    for column in flat.columns:
        numeric = pd.api.types.is_numeric_dtype(flat[column]) and column not in ("n", "bytes")
        table.add_column(Text(str(column)), justify="right" if numeric else "left")
    for values in flat.itertuples(index=False, name=None):
        table.add_row(
            *[
                Text(str(formats[c](v) if c in formats else cell(v, str(c))))
                for c, v in zip(flat.columns, values, strict=True)
            ]
        )
    return table


Formatters = dict[str, Callable[[Any], str]]


def terminal_tables(
    section: Section, frame: pd.DataFrame, left_out: pd.DataFrame, ratio: Formatters, backend: list[str]
) -> list[tuple[pd.DataFrame, str, Formatters | None]]:
    """The terminal tables of one report section (reports.sections), titled, in order."""
    key = section.key
    if section.generic and section.spec is not None:
        title = section.spec.section.title if section.spec.section else section.spec.title
        return [(sections.generic_table(frame, section.spec), title, None)]
    if key == "matmul":  # every workload's throughput table opens the tables, then matmul's GPU/CPU speedup
        out: list[tuple[pd.DataFrame, str, Formatters | None]] = []
        for workload, title in specs.titles().items():
            if workload in md.OWN_TABLES or sections.has_generic(workload):
                continue
            table = summary.throughput_table(frame, workload)
            unit = frame.loc[frame["workload"] == workload, "throughput_unit"].dropna() if not table.empty else None
            out.append(
                (table, f"{title} ({unit.iloc[0] if unit is not None and not unit.empty else 'throughput'})", None)
            )
        speed = sp.speedups(frame, "matmul")
        if not speed.empty:
            view = speed[["host", *backend, "gpu", "cpu", "n", "speedup"]]
            out.append((view, "GPU/CPU speedup, float32 matmul", ratio))
        return out
    if key == "versus":
        title = "TensorFlow vs PyTorch, same case on the same device"
        return [(summary.backend_table(frame), title, {"torch/TF": ratio["speedup"]})]
    if key == "training":
        return [
            (training.amp_view(frame), "Mixed precision: speedup over float32", ratio),
            (training.sweep_view(frame, left_out), "Throughput vs batch size: where it saturates", None),
        ]
    if key == "multidevice":
        percent = {"efficiency": lambda v: f"{v:.0%}" if v == v else "", "speedup": ratio["speedup"]}
        return [
            (md.scaling_table(frame), "Scaling: data-parallel training, fixed global batch", percent),
            (md.allreduce_table(frame), "All-reduce (float32 sum): nccl-tests' algbw and busbw", None),
        ]
    if key == "serving":
        return [(serving.latency_table(frame), "inference latency, batch 1 (percentiles of single requests)", None)]
    return []


def _stored_runs(location: str) -> list[Run] | str:
    """Each host's newest run from the results store (by host), or the one-line problem."""
    from reports.store import StoreError, default_store, detail_runs, latest_runs
    from reports.store.db import opened

    try:
        with opened(location or default_store()) as store:
            runs = detail_runs(store, latest_runs(store, per_host=1))
            if not runs:
                return f"{store.location}: no runs in the store (ingest some first)"
    except StoreError as exc:
        return str(exc)
    return sorted(runs, key=lambda run: run.host)


def run(args: argparse.Namespace) -> int:
    """Print findings, throughput tables, speedups and skipped cases."""
    from rich.console import Console
    from rich.text import Text

    from reports.load import notes, read_runs, skipped, tidy

    location = getattr(args, "store", None)  # a Namespace built by a caller may not have it
    if location is not None:
        if args.paths:
            print("error: name PATHs or --store, not both", file=sys.stderr)
            return 2
        stored = _stored_runs(location)
        if isinstance(stored, str):
            print(f"error: {stored}", file=sys.stderr)
            return 2
        runs = stored
    elif not args.paths:
        print("error: name at least one PATH (or read the results store with --store)", file=sys.stderr)
        return 2
    else:
        runs, _ = read_runs(args.paths)
    if getattr(args, "reference", None) is not None:
        from reports.envelope import add_reference

        runs = add_reference(runs, args.reference)
    frame = tidy(runs)
    left_out = skipped(runs)
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    console.rule(Text(f"devicebench summary: {', '.join(r.name for r in runs)}"), style="bold")
    for line in health.summary_lines(runs):  # first of all: a sick GPU's numbers are not its SKU's
        console.print(f"• {line}", markup=False, style="bold red" if "UNHEALTHY" in line else None)
    several = len(runs) > 1
    for run_name, note in notes(runs):  # first: an incomplete or drifting run colours every number below
        console.print(f"• note{f' ({run_name})' if several else ''}: {note}", markup=False)
    for line in sections.headlines(frame, left_out):
        console.print(f"• {line}", markup=False)
    ratio = {"speedup": lambda v: "" if v is None or math.isnan(v) else fmt_ratio(v)}
    backend = ["backend"] if several_backends(frame) else []
    for section in sections.ordered(frame):  # the registry's order, as the page and the findings
        for table, title, formatters in terminal_tables(section, frame, left_out, ratio, backend):
            if not table.empty:
                console.print(rich_table(table, title, formatters))
    if not left_out.empty:
        columns = ["host", *backend, "device", "workload", "params", "kind", "reason"]
        console.print(rich_table(left_out[columns], "Skipped cases"))
    return 0
