"""Fleet health: slow hosts among same-GPU peers, unhealthy ones (exit 0 ok, 1 slow, unhealthy or missing, 2 bad input).

RESULTS are run folders, benchmarks.json files, or folders of them: a results folder of run folders,
or a fleet folder with one results folder per host (<fleet>/<host>/<run>/); the newest complete run
of each host is used (its newest run when none is complete). --html writes the HTML report of
those runs: its Fleet section judges all of them, and the newest few are shown in detail. With --store,
each host's newest complete run comes from the results store. Per device model, each host's throughput
per case is divided by the fleet median of that case; a host is slow when its median ratio is at least
--threshold below 1 and the 95 % bootstrap interval over its cases stays below 1 - --floor. A model
needs 3 hosts before any is judged. Likely causes are the environment facts (driver, CUDA, framework
versions, clocks, throttling) in which a slow host differs from the majority of its peers. With
--hosts-file or --expect-hosts, hosts without a run are listed as missing. When no host could be
judged at all (no case, or no model with enough hosts), the check passed nothing: exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from reports.fleet_facts import fleet_frame
from reports.load import ResultsFileError, Run, expand
from reports.option_checks import seed_problem
from reports.store import StoreError, add_store_option

EXIT_BAD_INPUT = 2


def _fraction(text: str) -> float:
    """argparse type: a fraction in [0, 1), such as 0.10."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction such as 0.10, got {text!r}")
    return value


def _positive(text: str) -> int:
    """argparse type: a positive integer."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `fleet`."""
    parser.add_argument(
        "paths", nargs="*", metavar="RESULTS", help="run folder, benchmarks.json, results folder or fleet folder"
    )
    add_store_option(
        parser,
        "judge each host's newest complete run in the results store instead of RESULTS",
    )
    parser.add_argument(
        "--threshold", type=_fraction, default=0.10, help="how much slower than its peers is slow (default 0.10)"
    )
    parser.add_argument(
        "--floor",
        type=_fraction,
        default=0.02,
        help="the interval's upper end must stay below 1 - FLOOR (default 0.02)",
    )
    parser.add_argument(
        "--min-hosts",
        type=_positive,
        default=3,
        help="hosts of one device model needed before any of them is judged (default 3, at least 2)",
    )
    parser.add_argument(
        "--min-cases", type=_positive, default=3, help="cases a host must share with its peers (default 3)"
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    expected = parser.add_mutually_exclusive_group()
    expected.add_argument(
        "--hosts-file", type=Path, metavar="FILE", help="the expected hosts, one per line (# comments)"
    )
    expected.add_argument("--expect-hosts", type=_positive, metavar="N", help="how many hosts should have a run")
    parser.add_argument("--skip-bad", action="store_true", help="leave out unreadable runs (listed) instead of failing")
    parser.add_argument("--markdown", type=Path, metavar="OUT.md", help="also write the Markdown table here")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="write the verdicts as JSON here")
    parser.add_argument(
        "--html",
        type=Path,
        metavar="OUT.html",
        help="also write the HTML report of the runs judged (one per host), with its Fleet section",
    )


def read_hosts_file(path: Path) -> list[str]:
    """Host names, one per line; blank lines and # comments ignored."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsFileError(path, f"cannot read the hosts file: {getattr(exc, 'strerror', None) or exc}") from None
    hosts = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    hosts = [h for h in hosts if h]
    if not hosts:
        raise ResultsFileError(path, "the hosts file names no host")
    return hosts


def _stored_runs(location: str) -> list[Run]:
    """Each host's newest complete run (its newest when none is complete) from the results store."""
    from reports.store import default_store, detail_runs
    from reports.store.db import opened
    from reports.store.queries import newest_complete_runs

    with opened(location or default_store()) as store:
        return detail_runs(store, newest_complete_runs(store))


def _write(path: Path, text: str) -> None:
    """Write an output file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    """Judge the fleet, print the Markdown table, write the outputs; return 0, 1 or 2."""
    from reports import fleet
    from reports.load import read_runs

    if args.min_hosts < 2:
        print("error: --min-hosts must be at least 2 (with one host there are no peers)", file=sys.stderr)
        return EXIT_BAD_INPUT
    if problem := seed_problem(args.seed):
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        expected = read_hosts_file(args.hosts_file) if args.hosts_file else []
        if args.store is not None:
            runs, bad = _stored_runs(args.store), []
        elif not args.paths:
            print("error: name the RESULTS to judge (or --store)", file=sys.stderr)
            return EXIT_BAD_INPUT
        else:
            runs, bad = read_runs(expand(args.paths), skip_bad=args.skip_bad)
    except (ResultsFileError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for error in bad:
        print(f"skipped: {error}", file=sys.stderr)
    if not runs:
        print(f"error: {(args.paths or [args.store])[0]}: no readable runs among the inputs", file=sys.stderr)
        return EXIT_BAD_INPUT
    frame, older = fleet_frame(runs)
    left_out = {id(run) for run in older}
    judged = [run for run in runs if id(run) not in left_out]
    if older:
        print(f"note: using the newest complete run of each host; left out {len(older)} other run(s)", file=sys.stderr)
    for run in judged:
        if not run.complete:
            print(f"note: {run.host} has no complete run; judged on its newest, {run.state_text}", file=sys.stderr)
    options = fleet.Options(
        threshold=args.threshold,
        floor=args.floor,
        min_peer_hosts=args.min_hosts - 1,
        min_cases=args.min_cases,
        seed=args.seed,
    )
    result = fleet.judge(frame, options, expected=expected, expect_count=args.expect_hosts)
    markdown = fleet.to_markdown(result)
    sys.stdout.write(markdown)
    try:
        if args.markdown:
            _write(args.markdown, markdown)
        if args.json:
            document: dict[str, Any] = fleet.to_json(result)
            document["runs"] = {run.host: str(run.folder) for run in judged}
            document["bad_inputs"] = [str(error) for error in bad]
            _write(args.json, json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    except OSError as exc:
        print(f"error: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.html:
        from reports.build_cmd import DETAIL_RUNS, newest_first, write_report

        shown = newest_first(judged, DETAIL_RUNS)  # the page stays small: the Fleet section judges every host
        with contextlib.redirect_stdout(sys.stderr):  # stdout is the Markdown table
            if write_report(shown, args.html, fleet_runs=judged, fleet_judged=(result, frame, len(older))) != 0:
                return EXIT_BAD_INPUT
    if result.exit_code == fleet.EXIT_NOTHING_JUDGED:
        print(f"error: {result.nothing_judged_text()}", file=sys.stderr)
    return result.exit_code
