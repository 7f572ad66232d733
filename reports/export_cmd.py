"""Export a run for other tools (github-action-benchmark's customSmallerIsBetter JSON).

An interrupted or killed run is refused with exit 2 (unless --allow-incomplete): a chart fed its finished cases
would show the others as gone.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from reports.load import ResultsFileError, accept_incomplete, read_run
from results_format import Benchmark, RunFile

FORMATS = ("github-action-benchmark",)
UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}


def _case_label(bench: Benchmark) -> str:
    """A chart name: the pytest name plus the device model, e.g. 'test_matmul[...] (NVIDIA H100)'."""
    return f"{bench.name} ({bench.extra_info.device_name})"


def github_action_benchmark(run: RunFile, unit: str = "ms") -> list[dict[str, Any]]:
    """customSmallerIsBetter entries: median time per case, IQR as range, throughput and rounds as extra."""
    scale = UNITS[unit]
    entries: list[dict[str, Any]] = []
    for bench in run.benchmarks:
        stats, info = bench.stats, bench.extra_info
        lines = []
        if info.throughput is not None:
            lines.append(f"throughput: {info.throughput:.6g} {info.throughput_unit}")
        lines.append(f"rounds: {stats.rounds}")
        lines.append(f"device: {info.device} ({info.device_kind})")
        lines.append("range: half the interquartile range")
        entries.append(
            {
                "name": _case_label(bench),
                "unit": unit,
                "value": round(stats.median / scale, 6),
                "range": f"± {stats.iqr / 2 / scale:.4g}",
                "extra": "\n".join(lines),
            }
        )
    return entries


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the export options to `parser`."""
    parser.add_argument("run", help="run folder or benchmarks.json (e.g. results/latest)")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="github-action-benchmark",
        help="output format (default github-action-benchmark: customSmallerIsBetter)",
    )
    parser.add_argument("--unit", choices=sorted(UNITS), default="ms", help="time unit of the values (default ms)")
    parser.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="export the finished cases of an interrupted or killed run (refused by default)",
    )
    parser.add_argument("-o", "--output", type=Path, metavar="OUT.json", help="write here instead of stdout")


def run(args: argparse.Namespace) -> int:
    """Write the export; 0 on success, 2 on bad input."""
    try:
        run = read_run(args.run)
    except ResultsFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    data = run.record
    if not accept_incomplete(data, str(run.folder), args.allow_incomplete, "export", "exported"):
        return 2
    text = json.dumps(github_action_benchmark(data, args.unit), indent=1, ensure_ascii=False) + "\n"
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"error: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
        return 2
    return 0
