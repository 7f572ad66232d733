"""Putting runs into the store: validated by results_format first, then written in one transaction.

Ingest is idempotent: a run is keyed by its host and folder name, and its file's content hash says
whether the stored copy is current (the same run twice is one run; a rewritten file replaces it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import results_format
from reports.fleet_facts import health_notes, host_facts
from reports.load import Run
from reports.store.db import Store
from reports.store.queries import detail_runs

CASE_COLUMNS = (
    "run_key", "host", "run", "started_s", "name", "workload", "workload_version", "backend", "device",
    "device_kind", "device_name", "dtype", "throughput", "throughput_unit", "median_s", "iqr_rel", "rounds", "tf32",
)  # fmt: skip
RUN_COLUMNS = (
    "run_key", "host", "name", "source", "started", "started_s", "content_hash", "complete", "profile", "cases",
    "ingested", "document",
)  # fmt: skip
#: the fleet_facts table (migration 4): reports.fleet_facts.host_facts and health_notes of one run, and its state
FACT_COLUMNS = (
    "run_key", "run_state", "health", "throttled", "sm_clock_mhz", "pcie_link", "gpu_max_sm_clock_mhz",
    "gpu_power_limit_w", "nvidia_driver", "cuda_driver", "cuda", "cudnn", "frameworks", "cpu_model", "cpu_cores",
    "container_image", "python", "health_reason", "stragglers",
)  # fmt: skip
_NUMERIC_FACTS = {"sm_clock_mhz": float, "cpu_cores": int}


@dataclass
class IngestResult:
    """What one ingest did: run keys added, replaced (the file changed) and already current."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def text(self) -> str:
        """One line: how many runs were added, replaced and already in the store."""
        return (
            f"{len(self.added)} run(s) added, {len(self.replaced)} replaced (their file changed), "
            f"{len(self.unchanged)} already in the store"
        )


def run_key(run: Run) -> str:
    """The key of a run in the store: its host and its folder's name."""
    return f"{run.host}/{run.name}"


def content_hash(run: Run) -> str:
    """sha256 of the run's results file as it is on disk."""
    return hashlib.sha256(run.json_path.read_bytes()).hexdigest()


def started_seconds(text: str) -> float | None:
    """A run's ISO start time as POSIX seconds, or None when it is not a readable timestamp."""
    try:
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.timestamp()


def _finite(value: float | None) -> float | None:
    """A float for the store: None for missing, nan and infinite values."""
    return float(value) if value is not None and math.isfinite(value) else None


def case_rows(run: Run, key: str, started_s: float | None) -> list[tuple[Any, ...]]:
    """The cases table's rows of one run (what history, fleet and the gate's window read)."""
    rows = []
    for bench in run.record.benchmarks:
        info, stats = bench.extra_info, bench.stats
        rows.append(
            (
                key,
                run.host,
                run.name,
                started_s,
                bench.name,
                info.workload,
                info.workload_version,
                info.backend,
                info.device,
                info.device_kind,
                info.device_name,
                info.precision.dtype,
                _finite(info.throughput),
                info.throughput_unit,
                stats.median,
                _finite(stats.iqr / stats.median) if stats.median else None,
                stats.rounds,
                info.precision.tf32,
            )
        )
    return rows


def run_row(run: Run, key: str, digest: str, started_s: float | None) -> tuple[Any, ...]:
    """The runs table's row: facts, and the validated document (current schema) compressed."""
    document = zlib.compress(results_format.dumps(run.record).encode("utf-8"), 6)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        key, run.host, run.name, str(run.json_path), run.record.datetime, started_s, digest, run.complete,
        run.record.devicebench.profile, len(run.record.benchmarks), now, document,
    )  # fmt: skip


def facts_row(run: Run, key: str) -> tuple[Any, ...]:
    """The fleet_facts table's row: what `fleet` compares between hosts, as text (the two measured ones as numbers)."""
    facts: dict[str, Any] = {**host_facts(run), **health_notes(run), "run_key": key, "run_state": run.state_text}
    row = []
    for column in FACT_COLUMNS:
        value = facts[column]
        kind = _NUMERIC_FACTS.get(column, str)
        row.append(None if value is None else kind(value))
    return tuple(row)


def _insert_facts(store: Store, run: Run, key: str) -> None:
    """Insert one run's fleet facts (inside the caller's transaction)."""
    marks = ", ".join("?" for _ in FACT_COLUMNS)
    store.execute(f"INSERT INTO fleet_facts ({', '.join(FACT_COLUMNS)}) VALUES ({marks})", facts_row(run, key))


def _insert(store: Store, run: Run, key: str, digest: str) -> None:
    """Insert one run, its cases and its fleet facts (inside the caller's transaction)."""
    started_s = started_seconds(run.record.datetime)
    marks = ", ".join("?" for _ in RUN_COLUMNS)
    store.execute(f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({marks})", run_row(run, key, digest, started_s))
    marks = ", ".join("?" for _ in CASE_COLUMNS)
    store.executemany(f"INSERT INTO cases ({', '.join(CASE_COLUMNS)}) VALUES ({marks})", case_rows(run, key, started_s))
    _insert_facts(store, run, key)


def backfill_facts(store: Store) -> int:
    """Fleet facts for the stored runs that have none (a store migrated to 4 from 3), from their documents; how many.

    Inside the caller's transaction, so a reader never sees them half filled.
    """
    keys = [
        str(row[0])
        for row in store.execute(
            "SELECT run_key FROM runs WHERE run_key NOT IN (SELECT run_key FROM fleet_facts) ORDER BY run_key"
        )
    ]
    for start in range(0, len(keys), 100):  # a few documents at a time: a long history never sits in memory at once
        chunk = keys[start : start + 100]
        for key, run in zip(chunk, detail_runs(store, chunk), strict=True):
            _insert_facts(store, run, key)
    return len(keys)


def ingest_runs(store: Store, runs: Iterable[Run]) -> IngestResult:
    """Add runs, all in one transaction: a run that fails to read (an error from `runs`) leaves none of them.

    `runs` may be a generator reading one run at a time, so a long history never sits in memory at once.
    """
    result = IngestResult()
    with store.transaction():  # on its own: the facts of the runs already stored stay when a new run is refused
        backfill_facts(store)
    with store.transaction():
        for run in runs:
            key, digest = run_key(run), content_hash(run)
            found = store.execute("SELECT content_hash FROM runs WHERE run_key = ?", [key])
            if found and found[0][0] == digest:
                result.unchanged.append(key)
                continue
            if found:
                store.execute("DELETE FROM fleet_facts WHERE run_key = ?", [key])
                store.execute("DELETE FROM cases WHERE run_key = ?", [key])
                store.execute("DELETE FROM runs WHERE run_key = ?", [key])
                result.replaced.append(key)
            else:
                result.added.append(key)
            _insert(store, run, key, digest)
    return result


def rebuild(store: Store, runs: Iterable[Run]) -> IngestResult:
    """Empty the store and ingest `runs` (one transaction: on an error the old contents stay)."""
    result = IngestResult()
    with store.transaction():
        store.execute("DELETE FROM fleet_facts")
        store.execute("DELETE FROM cases")
        store.execute("DELETE FROM runs")
        for run in runs:
            key = run_key(run)
            if key in result.added:
                continue
            _insert(store, run, key, content_hash(run))
            result.added.append(key)
    return result


def stored_sources(store: Store) -> list[Path]:
    """The run files the store was built from (what `ingest --rebuild` rereads when given no RUN)."""
    return [Path(row[0]) for row in store.execute("SELECT source FROM runs ORDER BY started_s, run_key")]
