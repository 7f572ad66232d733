"""Compare a run against a baseline and gate regressions (exit 0 clean, 1 regression, 2 bad input, 3 unhealthy).

Each side is a run or a window of runs (a folder of run folders, e.g. results/baselines/NAME/); every
judged case gets its verdict across runs (reports.across, reports.runs_model). With --store, only CURRENT
is named and the baseline window comes from the results store: the --window N newest complete runs of
CURRENT's host (or --host's) started no later than CURRENT, never CURRENT itself.
Exit 1 also when a baseline case is missing from the current run and the run recorded no reason for it
(unless --allow-missing); an interrupted or killed run is refused with exit 2 (unless --allow-incomplete);
in a window, incomplete runs are left out and counted in a note.
Exit 2 also when no case could be judged (none measured on both sides with enough rounds): nothing passed.
Exit 3 when a regression would have been called but a run of either side recorded an unhealthy GPU host
(bench.health): the slowdown is not called a regression (each such case says why, and a top line names the
side and its reason); a sick GPU's numbers say nothing about the code.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from reports import across, health
from reports.compare import EXIT_NOTHING_JUDGED, Options, compare, nothing_judged_line, pool_runs
from reports.gate_page import gate_page
from reports.load import ResultsFileError, accept_incomplete
from reports.option_checks import positive_int, seed_problem, workload_problem
from reports.store import add_store_option
from reports.window import BASELINES, Side, machine_change, read_side_runs, resolve_side, run_folders, window_of
from results_format import RunFile

__all__ = ["BASELINES", "add_arguments", "resolve_side", "run", "run_folders"]

STORE_WINDOW = 5  # runs in a baseline window from the store, as --baseline-window keeps a saved one


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
        nargs="?",
        help="baseline run folder, benchmarks.json, a name under results/baselines/, "
        "or a results folder whose runs are pooled (interleaved mode); with --store, name only CURRENT",
    )
    parser.add_argument(
        "current", nargs="?", help="current run folder, benchmarks.json (e.g. results/latest) or results folder"
    )
    add_store_option(
        parser,
        "take the baseline window from the results store: the --window newest complete runs of CURRENT's host "
        "started no later than CURRENT (CURRENT itself never among them; incomplete runs left out and counted); "
        "name CURRENT alone, e.g. `compare --store --window 30 results/latest`",
    )
    parser.add_argument(
        "--window",
        type=positive_int,
        default=None,
        metavar="N",
        help=f"with --store: how many complete runs the baseline window holds (default {STORE_WINDOW}; "
        "fewer when the store has fewer, with a note)",
    )
    parser.add_argument(
        "--host",
        metavar="NAME",
        help="with --store: the baseline window is this host's runs, not CURRENT's "
        "(where its machine differs, add --allow-machine-change)",
    )
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
        "--html",
        type=Path,
        metavar="OUT.html",
        help="write the gate page here: the verdicts, each case's interval and MDE against the threshold band "
        "(as <current run>/gate.html, the run's report links it)",
    )
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
    parser.add_argument(
        "--history",
        metavar="WINDOW",
        help="a folder of earlier runs of one code on this machine (e.g. results/baselines/main): its "
        "run-to-run scatter is borrowed when a side has too few runs to show its own",
    )


def _sides_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the paths and store options named (one line), or None."""
    store = getattr(args, "store", None)  # a Namespace built by a caller may lack the store options
    if store is None:
        if getattr(args, "window", None) is not None or getattr(args, "host", None) is not None:
            return "--window and --host choose runs from the results store: add --store"
        if args.baseline is None or args.current is None:
            return "name BASELINE and CURRENT (or CURRENT and --store, for a baseline window from the results store)"
        return None
    if args.baseline is None:
        return "name the CURRENT run (`compare --store --window N CURRENT`; a path right after --store is the store's)"
    if args.current is not None:
        return "with --store the baseline comes from the store: name CURRENT alone, not BASELINE and CURRENT"
    return None


def _store_window(location: str, current: Side, count: int, host: str | None) -> Side | str:
    """The baseline window from the results store for `current` (one run), or the one-line problem."""
    from reports.store import StoreError, default_store
    from reports.store.db import opened
    from reports.store.ingest import content_hash, run_key, started_seconds
    from reports.store.queries import host_run_count, window_runs

    if current.window:
        return f"{current.label}: with --store, CURRENT is one run, not a folder of runs"
    run = current.runs[0]
    host = host or run.host
    try:
        with opened(location or default_store()) as store:
            runs = window_runs(
                store, host, count, started_seconds(run.record.datetime), run_key(run), content_hash(run)
            )
            if not runs:
                if not host_run_count(store, host):
                    return f"{store.location}: no run of host {host} in the store (ingest its runs first)"
                return f"{store.location}: no run of host {host} started before {current.label}: no baseline for it"
            side = window_of(f"{host} in {store.location}", runs, wanted=count)
    except StoreError as exc:
        return str(exc)
    if not side.runs:
        return f"{side.label}: no complete run in this window ({len(side.left_out)} incomplete)"
    return side


def _write(path: Path, text: str) -> None:
    """Write an output file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    """Run the comparison; print the Markdown table; return the gate's exit code."""
    if not 0 < args.alpha < 1:
        print(f"error: --alpha must be between 0 and 1, got {args.alpha}", file=sys.stderr)
        return 2
    problem = seed_problem(args.seed)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    problem = _sides_problem(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        if args.store is not None:
            current = read_side_runs(args.baseline)  # the one path named
            stored = _store_window(args.store, current, args.window or STORE_WINDOW, args.host)
            if isinstance(stored, str):
                print(f"error: {stored}", file=sys.stderr)
                return 2
            sides = [stored, current]
        else:
            sides = [read_side_runs(args.baseline), read_side_runs(args.current)]
        if args.history:
            sides.append(read_side_runs(args.history))
    except ResultsFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # after reading: the runs' files describe their workloads, a new one included
    problem = workload_problem("--threshold-for", (name for name, _ in args.threshold_for))
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    for side in sides[:2]:
        if not side.window and not accept_incomplete(
            side.runs[0].record, side.label, args.allow_incomplete, "compare", "compared"
        ):
            return 2
    inside = [machine_change([side]) for side in sides]
    if any(inside) and not args.allow_machine_change:
        which = next(why for why in inside if why)
        print(
            f"error: refusing a window that holds runs of two machines ({which}); "
            "pass --allow-machine-change to compare anyway",
            file=sys.stderr,
        )
        return 2
    base, cur = (_pooled(side) for side in sides[:2])
    options = Options(
        threshold=args.threshold,
        thresholds=dict(args.threshold_for),
        alpha=args.alpha,
        min_rounds=args.min_rounds,
        seed=args.seed,
        allow_missing=args.allow_missing,
    )
    labels = (_label(sides[0]), _label(sides[1]))
    within = compare(base, cur, options, labels=labels, pooled_runs=(len(sides[0].runs), len(sides[1].runs)))
    comparison = across.judge_runs(
        within,
        sides[0].records,
        sides[1].records,
        sides[2].records if len(sides) > 2 else (),
        base_names=[run.name for run in sides[0].runs],
        notes=_window_notes(sides),
    )
    diffs = within.machine_differences
    if diffs and not args.allow_machine_change:
        print(
            f"error: refusing to compare runs from different machines ({'; '.join(diffs)}); "
            "pass --allow-machine-change to compare anyway",
            file=sys.stderr,
        )
        return 2
    for diff in diffs:
        print(f"warning: machine changed: {diff}", file=sys.stderr)
    gate = health.compare_gate(sides[0].records, sides[1].records)
    exit_code = comparison.exit_code
    if gate is not None:
        comparison, refused = _refuse_regressions(comparison, gate.case_note)
        if refused and exit_code == 1:
            exit_code = health.EXIT_UNHEALTHY_SIDE
        print(f"warning: {gate.top_line.replace('**', '')}", file=sys.stderr)
    markdown = across.to_markdown(comparison, allowed_machine_change=bool(diffs))
    if gate is not None:
        markdown = f"{gate.top_line}\n\n{markdown}"
    sys.stdout.write(markdown)
    try:
        if args.markdown:
            _write(args.markdown, markdown)
        verdicts = across.to_json(comparison, base, cur, allowed_machine_change=bool(diffs))
        if gate is not None:
            verdicts["health"] = {"unhealthy_sides": list(gate.sides), "reasons": list(gate.reasons)}
            verdicts["exit_code"] = exit_code
        if args.json:
            _write(args.json, json.dumps(verdicts, indent=1, ensure_ascii=False) + "\n")
        if args.html:
            _write(args.html, gate_page(verdicts, report=_report_link(args.html, sides[1])))
    except OSError as exc:
        print(f"error: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    if comparison.exit_code == EXIT_NOTHING_JUDGED:
        print(f"error: {nothing_judged_line(comparison.comparison)}", file=sys.stderr)
    return exit_code


def _refuse_regressions(comparison: across.AcrossComparison, note: str) -> tuple[across.AcrossComparison, int]:
    """Each regressed case with the note that an unhealthy side keeps it from being called one; how many."""
    cases = [
        dataclasses.replace(case, notes=(*case.notes, note)) if case.verdict == "regression" else case
        for case in comparison.comparison.cases
    ]
    refused = sum(case.verdict == "regression" for case in cases)
    inner = dataclasses.replace(comparison.comparison, cases=cases)
    return dataclasses.replace(comparison, comparison=inner), refused


def _report_link(page: Path, side: Side) -> str | None:
    """The current run's report.html relative to the gate page, when one run is compared and it has one."""
    if side.window or not (side.runs[0].folder / "report.html").is_file():
        return None
    return os.path.relpath(side.runs[0].folder / "report.html", page.resolve().parent)


def _pooled(side: Side) -> RunFile:
    """A side's runs as one record (rounds concatenated) for the within-run view and the case list."""
    return pool_runs(side.records)


def _label(side: Side) -> str:
    """A side's label for the report."""
    return f"{side.label} ({len(side.runs)} runs)" if side.window else side.label


def _window_notes(sides: list[Side]) -> list[str]:
    """One note per window that left incomplete runs out, and one for a window of one run."""
    notes = []
    for role, side in zip(("baseline", "current", "history"), sides, strict=False):
        if side.left_out:
            left = "; ".join(side.left_out)
            notes.append(f"{role} window {side.label}: {len(side.left_out)} incomplete run(s) left out: {left}")
        if side.wanted is not None and len(side.runs) < side.wanted:
            notes.append(
                f"{role} window {side.label}: {len(side.runs)} complete run(s) of the {side.wanted} asked for "
                "(--window): the store holds no more of this host before the current run"
            )
        if side.window and len(side.runs) == 1:
            notes.append(f"{role} window {side.label} holds one complete run: its between-run noise is unknown")
    return notes
