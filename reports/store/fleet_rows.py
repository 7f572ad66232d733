"""The fleet from the store: each host's newest complete run as rows of cases and facts, without its document.

`fleet --store` judges from these rows (reports.fleet_facts.fleet_frame's columns that reports.fleet reads) and
reads full documents only for the runs its page shows in detail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from reports.load import Run
from reports.store.db import Store
from reports.store.ingest import FACT_COLUMNS, facts_row
from reports.store.queries import detail_runs

#: each host's newest complete run (its newest when none is complete): the order of queries.newest_complete_runs
NEWEST = """
WITH newest AS (
    SELECT run_key FROM (
        SELECT run_key, ROW_NUMBER() OVER (
            PARTITION BY host ORDER BY complete DESC, started_s DESC NULLS LAST, name DESC) AS rank
        FROM runs) AS ranked
    WHERE rank = 1)
"""
CASE_COLUMNS = [
    "host", "run", "name", "workload", "backend", "device", "device_kind", "device_name", "throughput",
    "throughput_unit", "median_s",
]  # fmt: skip
FACTS = [c for c in FACT_COLUMNS if c != "run_key"]


@dataclass(frozen=True)
class StoredRun:
    """A run judged from the store: its key, host, name, results file, start time (ISO) and state."""

    key: str
    host: str
    name: str
    source: Path
    started: str
    state: str

    @property
    def folder(self) -> Path:
        """The run's folder."""
        return self.source.parent


def _facts(store: Store) -> pd.DataFrame:
    """One row per host: its judged run and that run's facts (from its document where not stored yet)."""
    rows = store.execute(
        NEWEST
        + f"""SELECT r.run_key, r.host, r.name, r.source, r.started, f.run_key, {", ".join(f"f.{c}" for c in FACTS)}
              FROM runs r JOIN newest n ON n.run_key = r.run_key LEFT JOIN fleet_facts f ON f.run_key = r.run_key
              ORDER BY r.host"""
    )
    lacking = [str(row[0]) for row in rows if row[5] is None]
    if lacking:  # a store whose migrating ingest was stopped before it filled them: read those documents instead
        computed = {key: facts_row(run, key) for key, run in zip(lacking, detail_runs(store, lacking), strict=True)}
        rows = [(*row[:5], *computed[row[0]]) if row[0] in computed else row for row in rows]
    return pd.DataFrame(rows, columns=["key", "host", "run", "source", "started", "stored", *FACTS])


def fleet_rows(store: Store) -> tuple[pd.DataFrame, list[StoredRun]]:
    """The fleet frame (reports.fleet_facts.fleet_frame's columns that the judging reads) and the runs judged."""
    facts = _facts(store).drop(columns="stored")
    rows = store.execute(
        NEWEST
        + f"""SELECT {", ".join(f"c.{c}" for c in CASE_COLUMNS)} FROM cases c JOIN newest n ON n.run_key = c.run_key
              ORDER BY c.host, c.name"""
    )
    cases = pd.DataFrame(rows, columns=CASE_COLUMNS).drop_duplicates(["host", "device", "name"])
    for column in ("throughput", "median_s"):
        cases[column] = pd.to_numeric(cases[column], errors="coerce")
    runs = [
        StoredRun(str(k), str(h), str(n), Path(s), str(t), str(state))
        for k, h, n, s, t, state in facts[["key", "host", "run", "source", "started", "run_state"]].itertuples(
            index=False
        )
    ]
    frame = cases.merge(facts.drop(columns=["key", "run", "source", "started"]), on="host", how="left")
    return frame.reset_index(drop=True), runs


def newest_shown(runs: Sequence[StoredRun], most: int) -> list[str]:
    """The keys of the `most` runs shown in detail: the newest first (reports.build_cmd.newest_first, one per host)."""
    order = sorted(runs, key=lambda r: (r.started, r.name), reverse=True)
    return [run.key for run in order[: max(most, 1)]]


def shown_runs(store: Store, runs: Sequence[StoredRun], most: int) -> list[Run]:
    """The documents of the runs shown in detail, in the order judged."""
    keys = set(newest_shown(runs, most))
    return detail_runs(store, [run.key for run in runs if run.key in keys])
