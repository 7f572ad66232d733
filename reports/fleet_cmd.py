"""Fleet health: slow hosts among same-GPU peers, unhealthy ones (exit 0 ok, 1 slow, unhealthy or missing, 2 bad input).

RESULTS are run folders, benchmarks.json files, or folders of them: a results folder of run folders,
or a fleet folder with one results folder per host (<fleet>/<host>/<run>/); the newest complete run
of each host is used (its newest run when none is complete). --html writes the HTML report of
those runs: its Fleet section judges all of them, and the newest (--detail N) is shown in detail. With
--store, each host's newest complete run comes from the results store, judged from its stored rows (cases
and fleet facts); only the runs shown in detail are read in full. Per device model, each host's throughput
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
from typing import TYPE_CHECKING, Any

from reports.fleet_facts import fleet_frame
from reports.load import ResultsFileError, Run, expand
from reports.option_checks import positive_int, seed_problem
from reports.store import StoreError, add_store_option

if TYPE_CHECKING:
    import pandas as pd

    from reports.store.fleet_rows import StoredRun

EXIT_BAD_INPUT = 2
#: runs shown in detail on the --html page: a fleet page is for the Fleet section (every host), and each run in
#: detail costs its plots and limits (about a second each at 256 hosts on a 2-core VM)
DETAIL_RUNS = 1


def _fraction(text: str) -> float:
    """argparse type: a fraction in [0, 1), such as 0.10."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction such as 0.10, got {text!r}")
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
        type=positive_int,
        default=3,
        help="hosts of one device model needed before any of them is judged (default 3, at least 2)",
    )
    parser.add_argument(
        "--min-cases", type=positive_int, default=3, help="cases a host must share with its peers (default 3)"
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    expected = parser.add_mutually_exclusive_group()
    expected.add_argument(
        "--hosts-file", type=Path, metavar="FILE", help="the expected hosts, one per line (# comments)"
    )
    expected.add_argument("--expect-hosts", type=positive_int, metavar="N", help="how many hosts should have a run")
    parser.add_argument("--skip-bad", action="store_true", help="leave out unreadable runs (listed) instead of failing")
    parser.add_argument("--markdown", type=Path, metavar="OUT.md", help="also write the Markdown table here")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="write the verdicts as JSON here")
    parser.add_argument(
        "--html",
        type=Path,
        metavar="OUT.html",
        help="also write the HTML report of the runs judged (one per host), with its Fleet section",
    )
    parser.add_argument(
        "--detail",
        type=positive_int,
        default=DETAIL_RUNS,
        metavar="N",
        help=f"with --html, show the N newest of the runs judged in detail (default {DETAIL_RUNS})",
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


def _stored_fleet(location: str, detail: int) -> tuple[pd.DataFrame, list[StoredRun], list[Run]]:
    """From the results store: the fleet frame of each host's newest complete run (its newest when none is
    complete), those runs, and the documents of the `detail` newest of them (none for 0)."""
    from reports.store import default_store
    from reports.store.db import opened
    from reports.store.fleet_rows import fleet_rows, shown_runs

    with opened(location or default_store()) as store:
        frame, judged = fleet_rows(store)
        return frame, judged, shown_runs(store, judged, detail) if detail and judged else []


def _write(path: Path, text: str) -> None:
    """Write an output file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    """Judge the fleet, print the Markdown table, write the outputs; return 0, 1 or 2."""
    from reports import fleet
    from reports.build_cmd import newest_first
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
            frame, stored, shown = _stored_fleet(args.store, args.detail if args.html else 0)
            bad, older = [], 0
            judged: list[Run] | list[StoredRun] = stored
            states = {run.host: run.state for run in stored}
        elif not args.paths:
            print("error: name the RESULTS to judge (or --store)", file=sys.stderr)
            return EXIT_BAD_INPUT
        else:
            runs, bad = read_runs(expand(args.paths), skip_bad=args.skip_bad)
            frame, older_runs = fleet_frame(runs)
            left_out = {id(run) for run in older_runs}
            judged = [run for run in runs if id(run) not in left_out]
            states = {run.host: run.state_text for run in judged}
            older = len(older_runs)
            shown = newest_first(judged, args.detail) if judged else []
    except (ResultsFileError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for error in bad:
        print(f"skipped: {error}", file=sys.stderr)
    if not judged:
        print(f"error: {(args.paths or [args.store])[0]}: no readable runs among the inputs", file=sys.stderr)
        return EXIT_BAD_INPUT
    if older:
        print(f"note: using the newest complete run of each host; left out {older} other run(s)", file=sys.stderr)
    for host, state in states.items():
        if state != "complete":
            print(f"note: {host} has no complete run; judged on its newest, {state}", file=sys.stderr)
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
        from reports.build_cmd import write_report

        with contextlib.redirect_stdout(sys.stderr):  # stdout is the Markdown table
            # the Fleet section judges every host from `frame`; only `shown` are read in full
            if write_report(shown, args.html, fleet_runs=shown, fleet_judged=(result, frame, older)) != 0:
                return EXIT_BAD_INPUT
    if result.exit_code == fleet.EXIT_NOTHING_JUDGED:
        print(f"error: {result.nothing_judged_text()}", file=sys.stderr)
    return result.exit_code
