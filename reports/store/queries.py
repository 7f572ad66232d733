"""Reading the store: only what a page shows (the newest runs' documents, the history series as one query)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

import results_format
from reports import specs
from reports.load import Run
from reports.store.db import Store

#: reports.history.HISTORY_COLUMNS (that module is a page, above this one)
HISTORY_COLUMNS = [
    "host", "run", "datetime", "position", "name", "workload", "workload_version", "backend", "device",
    "throughput", "throughput_unit", "median_s", "iqr_rel", "profile", "tf32",
]  # fmt: skip
HISTORY_SQL = """
SELECT c.host, c.run, c.started_s, c.name, c.workload, c.workload_version, c.backend, c.device,
       c.throughput, c.throughput_unit, c.median_s, c.iqr_rel, r.profile, c.tf32,
       DENSE_RANK() OVER (PARTITION BY c.host ORDER BY c.started_s NULLS FIRST, c.run) - 1 AS position
FROM cases c JOIN runs r ON r.run_key = c.run_key {where}
ORDER BY c.host, position, c.name
"""


def run_count(store: Store) -> tuple[int, int]:
    """(runs, hosts) in the store."""
    runs, hosts = store.execute("SELECT count(*), count(DISTINCT host) FROM runs")[0]
    return int(runs), int(hosts)


def latest_runs(store: Store, per_host: int = 1, hosts: int | None = None) -> list[str]:
    """Run keys of the newest `per_host` runs of each host, newest first, of the `hosts` hosts run last."""
    rows = store.execute(
        """SELECT run_key, host FROM (
               SELECT run_key, host, started_s, ROW_NUMBER() OVER (
                   PARTITION BY host ORDER BY started_s DESC NULLS LAST, name DESC) AS newest
               FROM runs) AS ranked
           WHERE newest <= ? ORDER BY started_s DESC NULLS LAST, run_key DESC""",
        [per_host],
    )
    chosen: list[str] = []
    seen: list[str] = []
    for key, host in rows:
        if host not in seen:
            if hosts is not None and len(seen) >= hosts:
                continue
            seen.append(host)
        chosen.append(str(key))
    return chosen


def newest_complete_runs(store: Store) -> list[str]:
    """Run keys of each host's newest complete run (its newest run when none is complete), by host."""
    rows = store.execute(
        """SELECT run_key FROM (
               SELECT run_key, host, ROW_NUMBER() OVER (
                   PARTITION BY host ORDER BY complete DESC, started_s DESC NULLS LAST, name DESC) AS newest
               FROM runs) AS ranked
           WHERE newest = 1 ORDER BY host"""
    )
    return [str(row[0]) for row in rows]


def _stored_record(text: bytes, path: Path) -> results_format.RunFile:
    """A stored document (current schema, validated at ingest) validated once more, in one pass.

    results_format.parse first reads the file's envelope to tell an old schema or a foreign file; a stored
    document is neither, and the second pass doubled the cost of a fleet of 256 hosts. Should it not validate
    after all (a store written by another devicebench), parse says why in one line.
    """
    try:
        return results_format.RunFile.model_validate_json(text)
    except ValueError:
        return results_format.parse(text, path)


def _stored_run(host: str, name: str, source: str, document: bytes) -> Run:
    """A Run from its stored row: the compressed document validated once more, its nvml.csv where it still is."""
    path = Path(source)
    record = _stored_record(zlib.decompress(bytes(document)), path)
    specs.remember(record)  # as reports.load.read_run does for a file: a workload only these runs describe is known
    nvml = path.parent / results_format.NVML_FILE
    nvml_csv = nvml if nvml.is_file() else None
    return Run(json_path=path, folder=path.parent, name=name, host=host, record=record, nvml_csv=nvml_csv)


def detail_runs(store: Store, keys: Sequence[str]) -> list[Run]:
    """The runs of `keys` from their stored documents (validated again by results_format), in `keys` order."""
    if not keys:
        return []
    marks = ", ".join("?" for _ in keys)
    rows = store.execute(f"SELECT run_key, host, name, source, document FROM runs WHERE run_key IN ({marks})", keys)
    found = {key: _stored_run(host, name, source, document) for key, host, name, source, document in rows}
    return [found[key] for key in keys if key in found]


def history_frame(store: Store, hosts: Sequence[str] | None = None) -> pd.DataFrame:
    """The history columns (reports.history.HISTORY_COLUMNS) of every stored run of `hosts` (default: all)."""
    params: list[str] = list(hosts or [])
    where = f"WHERE c.host IN ({', '.join('?' for _ in params)})" if params else ""
    columns = [
        "host", "run", "started_s", "name", "workload", "workload_version", "backend", "device", "throughput",
        "throughput_unit", "median_s", "iqr_rel", "profile", "tf32", "position",
    ]  # fmt: skip
    # Column by column, each distinct string kept once: as rows, the 21,000 of 1,000 runs peaked ~15 MB higher
    values: list[list[object]] = [[] for _ in columns]
    strings: dict[str, str] = {}
    for rows in store.batches(HISTORY_SQL.format(where=where), params):
        for row in rows:
            for column, value in zip(values, row, strict=True):
                column.append(strings.setdefault(value, value) if isinstance(value, str) else value)
    frame = pd.DataFrame(dict(zip(columns, values, strict=True)))
    frame["datetime"] = pd.to_datetime(frame["started_s"], unit="s", utc=True)
    frame["throughput"] = frame["throughput"].astype(float)
    frame["iqr_rel"] = frame["iqr_rel"].astype(float)
    frame["position"] = frame["position"].astype(int)
    return frame.drop(columns="started_s")[HISTORY_COLUMNS]


# A host's runs started no later than a given run, newest first, each numbered by the complete runs up to it:
# the `count` newest complete runs, and the incomplete ones among them (a window leaves those out and counts them).
WINDOW_SQL = """
SELECT run_key, host, name, source, document FROM (
    SELECT run_key, host, name, source, document, complete,
           SUM(CASE WHEN complete THEN 1 ELSE 0 END) OVER (
               ORDER BY started_s DESC NULLS LAST, name DESC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
           ) AS complete_rank
    FROM runs WHERE host = ? AND run_key <> ? AND content_hash <> ? {before}) AS ranked
WHERE complete_rank < ? OR (complete AND complete_rank = ?)
"""


def window_runs(store: Store, host: str, count: int, started_s: float | None, not_key: str, not_hash: str) -> list[Run]:
    """The `count` newest complete runs of `host` started no later than `started_s` (None: any time), and the
    incomplete runs among them, in one query; never the run stored as `not_key` or with content hash `not_hash`."""
    before = "" if started_s is None else "AND started_s <= ?"
    params: list[object] = [host, not_key, not_hash, *([] if started_s is None else [started_s]), count, count]
    rows = store.execute(WINDOW_SQL.format(before=before), params)
    return [_stored_run(run_host, name, source, document) for _key, run_host, name, source, document in rows]


def host_run_count(store: Store, host: str) -> int:
    """How many runs of `host` the store holds."""
    return int(store.execute("SELECT count(*) FROM runs WHERE host = ?", [host])[0][0])
