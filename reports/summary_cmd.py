"""Print a run's findings and throughput tables to the terminal (rich tables).

Shows throughput per device and size (matmul) or mode/variant/direction (other workloads),
the GPU/CPU speedup where a GPU ran, the book's matmul claims next to this run's, TensorFlow vs
PyTorch where both backends ran, the runs' notes (an unavailable backend, a run that did not finish),
and the skipped cases with their reasons. PATH is a run folder,
results/latest or a benchmarks.json.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import pandas as pd

from reports.fmt import cell, fmt_ratio
from reports.labels import WORKLOAD_TITLES, several_backends


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `summary`."""
    parser.add_argument("paths", nargs="+", metavar="PATH", help="run folder, results/latest or benchmarks.json")
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


def run(args: argparse.Namespace) -> int:
    """Print findings, throughput tables, speedups and skipped cases."""
    from rich.console import Console
    from rich.text import Text

    from reports import health, serving, summary, training
    from reports import multidevice as md
    from reports import speedup as sp
    from reports.load import notes, read_runs, skipped, tidy

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
    for line in summary.headlines(frame, left_out):
        console.print(f"• {line}", markup=False)
    for workload, title in WORKLOAD_TITLES.items():
        if workload in md.OWN_TABLES:
            continue
        table = summary.throughput_table(frame, workload)
        if not table.empty:
            unit = frame.loc[frame["workload"] == workload, "throughput_unit"].dropna()
            console.print(rich_table(table, f"{title} ({unit.iloc[0] if not unit.empty else 'throughput'})"))
    latency = serving.latency_table(frame)
    if not latency.empty:
        console.print(rich_table(latency, "inference latency, batch 1 (percentiles of single requests)"))
    ratio = {"speedup": lambda v: "" if v is None or math.isnan(v) else fmt_ratio(v)}
    backend = ["backend"] if several_backends(frame) else []
    speed = sp.speedups(frame, "matmul")
    if not speed.empty:
        view = speed[["host", *backend, "gpu", "cpu", "n", "speedup"]]
        console.print(rich_table(view, "GPU/CPU speedup, float32 matmul", ratio))
    scaling, allreduce = md.scaling_table(frame), md.allreduce_table(frame)
    if not scaling.empty:
        percent = {"efficiency": lambda v: f"{v:.0%}" if v == v else "", "speedup": ratio["speedup"]}
        console.print(rich_table(scaling, "Scaling: data-parallel training, fixed global batch", percent))
    if not allreduce.empty:
        console.print(rich_table(allreduce, "All-reduce (float32 sum): nccl-tests' algbw and busbw"))
    amp = training.amp_view(frame)
    if not amp.empty:
        console.print(rich_table(amp, "Mixed precision: speedup over float32", ratio))
    sweep = training.sweep_view(frame, left_out)
    if not sweep.empty:
        console.print(rich_table(sweep, "Throughput vs batch size: where it saturates"))
    versus = summary.backend_table(frame)
    if not versus.empty:
        console.print(
            rich_table(versus, "TensorFlow vs PyTorch, same case on the same device", {"torch/TF": ratio["speedup"]})
        )
    if not left_out.empty:
        columns = ["host", *backend, "device", "workload", "params", "kind", "reason"]
        console.print(rich_table(left_out[columns], "Skipped cases"))
    return 0
