"""Export a run for other tools (github-action-benchmark's customSmallerIsBetter JSON)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reports.load import ResultsFileError, read_run

FORMATS = ("github-action-benchmark",)
UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}


def _case_label(bench: Mapping[str, Any]) -> str:
    """A chart name: the pytest name plus the device model, e.g. 'test_matmul[...] (NVIDIA H100)'."""
    extra = bench.get("extra_info") or {}
    name = str(bench.get("name", "?"))
    model = extra.get("device_name")
    return f"{name} ({model})" if model else name


def github_action_benchmark(data: Mapping[str, Any], unit: str = "ms") -> list[dict[str, Any]]:
    """customSmallerIsBetter entries: median time per case, IQR as range, throughput and rounds as extra."""
    scale = UNITS[unit]
    entries: list[dict[str, Any]] = []
    for bench in data.get("benchmarks", []):
        stats = bench.get("stats") or {}
        extra = bench.get("extra_info") or {}
        median = stats.get("median")
        if not isinstance(median, int | float) or not math.isfinite(median):
            continue
        entry: dict[str, Any] = {"name": _case_label(bench), "unit": unit, "value": round(median / scale, 6)}
        iqr = stats.get("iqr")
        if isinstance(iqr, int | float) and math.isfinite(iqr):
            entry["range"] = f"± {iqr / 2 / scale:.4g}"
        lines = []
        if isinstance(extra.get("throughput"), int | float):
            lines.append(f"throughput: {extra['throughput']:.6g} {extra.get('throughput_unit', '')}".rstrip())
        lines.append(f"rounds: {stats.get('rounds', len(stats.get('data') or []))}")
        if extra.get("device"):
            lines.append(f"device: {extra['device']} ({extra.get('device_kind', '?')})")
        lines.append("range: half the interquartile range")
        entry["extra"] = "\n".join(lines)
        entries.append(entry)
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
    parser.add_argument("-o", "--output", type=Path, metavar="OUT.json", help="write here instead of stdout")


def run(args: argparse.Namespace) -> int:
    """Write the export; 0 on success, 2 on bad input."""
    try:
        data = read_run(args.run).data
    except ResultsFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
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
