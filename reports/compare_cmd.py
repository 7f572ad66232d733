"""Compare a run against a baseline and gate regressions (exit 0 clean, 1 regression, 2 bad input).

Exit 1 also when a baseline case is missing from the current run and the run recorded no reason for it
(unless --allow-missing); an interrupted or killed run is refused with exit 2 (unless --allow-incomplete).
Exit 2 also when no case could be judged (none measured in both runs with enough rounds): nothing passed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from reports.compare import (
    EXIT_NOTHING_JUDGED,
    Options,
    compare,
    machine_differences,
    nothing_judged_line,
    pool_runs,
    to_json,
    to_markdown,
)
from reports.load import RESULTS_FILE, ResultsFileError, Run, accept_incomplete, read_run
from reports.option_checks import seed_problem, workload_problem
from results_format import RunFile

BASELINES = Path("results") / "baselines"


def _fraction(text: str) -> float:
    """argparse type: a non-negative fraction such as 0.10."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < 10:
        raise argparse.ArgumentTypeError(f"expected a fraction such as 0.10, got {text!r}")
    return value


def _workload_fraction(text: str) -> tuple[str, float]:
    """argparse type: WORKLOAD=FRACTION."""
    workload, sep, value = text.partition("=")
    if not sep or not workload:
        raise argparse.ArgumentTypeError(f"expected WORKLOAD=FRACTION (e.g. mnist=0.2), got {text!r}")
    return workload.strip(), _fraction(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the compare options to `parser`."""
    parser.add_argument(
        "baseline",
        help="baseline run folder, benchmarks.json, a name under results/baselines/, "
        "or a results folder whose runs are pooled (interleaved mode)",
    )
    parser.add_argument("current", help="current run folder, benchmarks.json (e.g. results/latest) or results folder")
    parser.add_argument(
        "--threshold",
        type=_fraction,
        default=0.10,
        help="smallest slowdown that counts: a regression needs the whole interval of the time ratio above "
        "1+THRESHOLD, 'unchanged' needs it inside 1/(1+THRESHOLD) … 1+THRESHOLD (default 0.10 = 10%%)",
    )
    parser.add_argument(
        "--threshold-for",
        type=_workload_fraction,
        action="append",
        default=[],
        metavar="WORKLOAD=FRACTION",
        help="per-workload threshold, repeatable (e.g. mnist=0.2)",
    )
    parser.add_argument(
        "--alpha",
        type=float,
        default=0.01,
        help="family-wise error level: intervals at 1-ALPHA/m over the m judged cases, "
        "rank test after Holm (default 0.01)",
    )
    parser.add_argument(
        "--min-rounds",
        type=int,
        default=5,
        help="fewer rounds on either side: 'inconclusive', not judged (default 5)",
    )
    parser.add_argument("--markdown", type=Path, metavar="OUT.md", help="also write the Markdown table here")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="write the JSON verdict file here")
    parser.add_argument(
        "--allow-machine-change",
        action="store_true",
        help="compare runs from different machines/drivers/TF versions, saying what differs",
    )
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="a case in the baseline that the current run neither measured nor recorded a reason for does not "
        "fail the gate (it is still listed)",
    )
    parser.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="compare an interrupted or killed run (refused by default: its missing cases would pass unseen)",
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")


def resolve_side(text: str) -> Path:
    """A run path as given, or results/baselines/<text> when only that exists."""
    path = Path(text)
    if not path.exists() and (BASELINES / text).exists():
        return BASELINES / text
    return path


def run_folders(path: Path) -> list[Path]:
    """The run folders directly inside a results folder (not `latest`, not symlinks), oldest first."""
    if not path.is_dir() or (path / RESULTS_FILE).exists():
        return []
    return sorted(p for p in path.iterdir() if p.is_dir() and not p.is_symlink() and (p / RESULTS_FILE).is_file())


def read_side(text: str) -> tuple[RunFile, str, int]:
    """Read one side: a run, or every run of a results folder pooled (interleaved mode); record, label, runs."""
    path = resolve_side(text)
    folders = run_folders(path)
    if len(folders) < 2:
        return read_run(folders[0] if folders else path).record, text, 1
    runs: list[Run] = [read_run(folder) for folder in folders]
    for other in runs[1:]:
        diffs = machine_differences(runs[0].record.machine_info, other.record.machine_info)
        if diffs:
            raise ResultsFileError(
                other.json_path, f"pooled with {runs[0].name} but from another machine ({'; '.join(diffs)})"
            )
    return pool_runs([r.record for r in runs]), f"{text} ({len(runs)} runs pooled)", len(runs)


def _write(path: Path, text: str) -> None:
    """Write an output file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    """Run the comparison; print the Markdown table; return the gate's exit code."""
    if not 0 < args.alpha < 1:
        print(f"error: --alpha must be between 0 and 1, got {args.alpha}", file=sys.stderr)
        return 2
    problem = seed_problem(args.seed) or workload_problem("--threshold-for", (name for name, _ in args.threshold_for))
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        base, base_label, base_runs = read_side(args.baseline)
        cur, cur_label, cur_runs = read_side(args.current)
    except ResultsFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for record, label in ((base, base_label), (cur, cur_label)):
        if not accept_incomplete(record, label, args.allow_incomplete, "compare", "compared"):
            return 2
    options = Options(
        threshold=args.threshold,
        thresholds=dict(args.threshold_for),
        alpha=args.alpha,
        min_rounds=args.min_rounds,
        seed=args.seed,
        allow_missing=args.allow_missing,
    )
    comparison = compare(base, cur, options, labels=(base_label, cur_label), pooled_runs=(base_runs, cur_runs))
    diffs = comparison.machine_differences
    if diffs and not args.allow_machine_change:
        print(
            f"error: refusing to compare runs from different machines ({'; '.join(diffs)}); "
            "pass --allow-machine-change to compare anyway",
            file=sys.stderr,
        )
        return 2
    for diff in diffs:
        print(f"warning: machine changed: {diff}", file=sys.stderr)
    markdown = to_markdown(comparison, allowed_machine_change=bool(diffs))
    sys.stdout.write(markdown)
    try:
        if args.markdown:
            _write(args.markdown, markdown)
        if args.json:
            verdicts = to_json(comparison, base, cur, allowed_machine_change=bool(diffs))
            _write(args.json, json.dumps(verdicts, indent=1, ensure_ascii=False) + "\n")
    except OSError as exc:
        print(f"error: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    if comparison.exit_code == EXIT_NOTHING_JUDGED:
        print(f"error: {nothing_judged_line(comparison)}", file=sys.stderr)
    return comparison.exit_code
