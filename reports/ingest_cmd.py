"""Put runs into the results store (a DuckDB file, or PostgreSQL with --store postgresql://...).

RUN is a run folder, benchmarks.json, or a results folder (its run folders are ingested). Every run is validated by
the results format; all of them go in one transaction, so one that is not a readable results file is refused with
one line and nothing is written (the store is unchanged) unless --skip-bad leaves it out. The same run twice is one
run (keyed by host and folder, with the file's content hash); a run whose file changed replaces its old copy.
--rebuild empties the store and ingests RUN... (with no RUN, the run files it was built from). The default store is
devicebench.duckdb in $DEVICEBENCH_RESULTS, else in ./results. Exit codes: 0 ok, 2 bad input or store.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from reports.load import ResultsFileError, Run, expand, read_run
from reports.store import StoreError, default_store
from reports.store.db import opened
from reports.store.ingest import ingest_runs, rebuild, stored_sources


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `ingest`."""
    parser.add_argument("paths", nargs="*", metavar="RUN", help="run folder, benchmarks.json or results folder")
    parser.add_argument(
        "--store",
        default=None,
        metavar="PATH|URL",
        help="a DuckDB file or postgresql://user:password@host/db (default: $DEVICEBENCH_RESULTS/devicebench.duckdb)",
    )
    parser.add_argument("--rebuild", action="store_true", help="empty the store, then ingest RUN... (or its sources)")
    parser.add_argument(
        "--skip-bad", action="store_true", help="leave unreadable runs out (listed) instead of refusing"
    )


def one_at_a_time(paths: Sequence[Path], skip_bad: bool) -> Iterator[Run]:
    """The runs read and validated one by one; a bad one raises (or, with skip_bad, is listed and left out)."""
    for path in paths:
        try:
            yield read_run(path)
        except ResultsFileError as exc:
            if not skip_bad:
                raise
            print(f"skipped: {exc}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Validate the runs, then write them in one transaction; print what changed."""
    location = args.store or default_store()
    if not args.paths and not args.rebuild:
        print("error: name at least one RUN (or --rebuild to reread the store's own sources)", file=sys.stderr)
        return 2
    try:
        with opened(location, write=True) as store:
            paths = expand(args.paths) if args.paths else stored_sources(store)
            runs = one_at_a_time(paths, args.skip_bad)
            result = rebuild(store, runs) if args.rebuild else ingest_runs(store, runs)
    except ResultsFileError as exc:
        print(f"error: {exc} (nothing ingested; the store is unchanged)", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{store.location}: {result.text()}")
    return 0
