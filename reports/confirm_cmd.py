"""Confirm flagged regressions from runs made base and head alternately (exit 1 confirmed, 0 not, 2 bad input).

BASE and HEAD are folders of run folders (one run per pair, oldest first): the i-th base run and the
i-th head run make pair i. Or both are single runs whose rounds were timed alternately (tools/confirm.py
--mode rounds): round i of each side make pair i. Every case both sides measured is judged (or only
--case NAME ...), with reports.confirm's paired rule at confidence 1 - alpha/m over the m cases.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from reports.confirm import Confirmation, confirm_case, pair_log_ratios
from reports.load import ResultsFileError, Run, read_run
from reports.window import resolve_side, run_folders


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the confirm options to `parser`."""
    parser.add_argument("base", help="folder of the base side's runs, one per pair")
    parser.add_argument("head", help="folder of the head side's runs, one per pair")
    parser.add_argument("--case", action="append", default=[], metavar="NAME", help="judge only this case (repeatable)")
    parser.add_argument("--threshold", type=float, default=0.10, help="smallest slowdown that counts (default 0.10)")
    parser.add_argument("--alpha", type=float, default=0.01, help="family-wise error level (default 0.01)")
    parser.add_argument("--markdown", type=Path, metavar="OUT.md", help="also write the Markdown here")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="write the verdicts here")


def to_markdown(results: list[Confirmation], base: str, head: str) -> str:
    """The confirmation's verdicts as Markdown."""
    confirmed = [r for r in results if r.confirmed]
    status = "❌ regression confirmed" if confirmed else "✅ not confirmed"
    lines = [
        f"## devicebench confirm: {status}",
        "",
        f"`{base}` (base) against `{head}` (head), re-timed alternately in pairs.",
        "",
        "| verdict | case | pairs | time change | interval | note |",
        "|---|---|---:|---:|---|---|",
    ]
    for r in results:
        verdict = "🔴 confirmed" if r.confirmed else "⚪ not confirmed"
        interval = f"{r.ci_low - 1:+.1%} … {r.ci_high - 1:+.1%}" if r.ci_low == r.ci_low else "–"
        lines.append(f"| {verdict} | `{r.name}` | {r.pairs} | {r.ratio - 1:+.1%} | {interval} | {r.reason} |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    """Judge the pairs; print the Markdown; 1 when any case is confirmed."""
    if not 0 < args.alpha < 1 or not 0 <= args.threshold < 10:
        print("error: --alpha must be in (0, 1) and --threshold a fraction such as 0.10", file=sys.stderr)
        return 2
    try:
        single = not run_folders(resolve_side(args.base)) and not run_folders(resolve_side(args.head))
        base, head = ([read_run(args.base)], [read_run(args.head)]) if single else (_runs(args.base), _runs(args.head))
    except ResultsFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if single:
        return _judge(_round_pairs(base[0], head[0], args.case), args)
    if len(base) != len(head):
        extra = f"{len(base)} base runs and {len(head)} head runs"
        print(f"warning: {extra}: the extra runs are not paired", file=sys.stderr)
    rounds: dict[str, tuple[list[list[float]], list[list[float]]]] = {}
    pairs = [(b.record, h.record) for b, h in zip(base, head, strict=False) if b.complete and h.complete]
    if len(pairs) < min(len(base), len(head)):
        dropped = min(len(base), len(head)) - len(pairs)
        print(f"warning: {dropped} pair(s) with an incomplete run left out", file=sys.stderr)
    for i, (b, h) in enumerate(pairs):
        head_cases = {bench.name: list(bench.stats.data) for bench in h.benchmarks}
        for bench in b.benchmarks:
            if bench.name in head_cases and (not args.case or bench.name in args.case):
                pair = rounds.setdefault(bench.name, ([], []))
                if len(pair[0]) == i:  # every earlier pair had this case too
                    pair[0].append(list(bench.stats.data))
                    pair[1].append(head_cases[bench.name])
    return _judge({name: pair_log_ratios(b, h) for name, (b, h) in rounds.items()}, args)


def _round_pairs(base: Run, head: Run, only: list[str]) -> dict[str, list[float]]:
    """Per case, log(head round i / base round i) for rounds timed alternately."""
    head_cases = {bench.name: list(bench.stats.data) for bench in head.record.benchmarks}
    return {
        bench.name: pair_log_ratios([[x] for x in bench.stats.data], [[x] for x in head_cases[bench.name]])
        for bench in base.record.benchmarks
        if bench.name in head_cases and (not only or bench.name in only)
    }


def _judge(ratios: dict[str, list[float]], args: argparse.Namespace) -> int:
    """Judge every case's pairs; print and write the verdicts; the exit code."""
    if not ratios:
        print(f"error: no case measured on both sides of {args.base} and {args.head}", file=sys.stderr)
        return 2
    confidence = 1 - args.alpha / len(ratios)
    results = [confirm_case(name, logs, args.threshold, confidence) for name, logs in sorted(ratios.items())]
    markdown = to_markdown(results, args.base, args.head)
    sys.stdout.write(markdown)
    if args.markdown:
        args.markdown.write_text(markdown, encoding="utf-8")
    if args.json:
        rows = [r.__dict__ for r in results]
        args.json.write_text(json.dumps({"schema": "devicebench-confirm/1", "cases": rows}, indent=1) + "\n")
    return 1 if any(r.confirmed for r in results) else 0


def _runs(text: str) -> list[Run]:
    """The run folders of one side, oldest first (by name: UTC time first)."""
    folders = run_folders(resolve_side(text))
    if not folders:
        raise ResultsFileError(text, "not a folder of run folders")
    return [read_run(folder) for folder in folders]
