"""Opening a store: a DuckDB file (one writer process at a time, behind a file lock) or a PostgreSQL URL.

Statements are written once with `?` placeholders; for PostgreSQL they become `%s`. Every problem opening
a store (a locked or corrupt file, a server that refuses, a newer schema) is one StoreError line.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reports.store.schema import MIGRATIONS, SCHEMA_VERSION

DEFAULT_NAME = "devicebench.duckdb"
LOCK_WAIT_S = 300.0  # a writer waits this long for another one (an ingest takes about a second per run)
RETRY_S = 0.05


class StoreError(Exception):
    """A store that cannot be opened, read or written; the message is one line."""


def default_store() -> str:
    """The default store: devicebench.duckdb in $DEVICEBENCH_RESULTS, else in ./results."""
    return str(Path(os.environ.get("DEVICEBENCH_RESULTS") or "results") / DEFAULT_NAME)


def is_postgres(url: str) -> bool:
    """Whether `url` names a PostgreSQL server rather than a DuckDB file."""
    return url.startswith(("postgresql://", "postgres://"))


@dataclass
class Store:
    """An open store: its engine ('duckdb' or 'postgres'), location and connection."""

    kind: str
    location: str
    connection: Any
    _lock: Any = field(default=None, repr=False)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement; its rows (empty for statements without a result). An engine error: StoreError."""
        with self._engine_errors():
            return self._execute(sql, params)

    @contextlib.contextmanager
    def _engine_errors(self) -> Iterator[None]:
        """DuckDB's and psycopg's errors (a full disk, a lost server) as one StoreError line."""
        try:
            yield
        except Exception as exc:
            if type(exc).__module__.split(".")[0].lstrip("_") not in ("duckdb", "psycopg"):
                raise
            raise StoreError(f"{self.location}: {' '.join(str(exc).split())}") from None

    def _execute(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """execute without the error translation."""
        if self.kind == "postgres":
            with self.connection.cursor() as cursor:
                cursor.execute(sql.replace("?", "%s"), tuple(params))
                return list(cursor.fetchall()) if cursor.description else []
        result = self.connection.execute(sql, list(params))
        return result.fetchall() if result.description else []

    def batches(self, sql: str, params: Sequence[Any] = (), size: int = 2048) -> Iterator[list[tuple[Any, ...]]]:
        """Run one query; its rows, `size` at a time (a long result never sits in memory as Python rows at once)."""
        with self._engine_errors():
            if self.kind == "postgres":
                with self.connection.cursor() as cursor:
                    cursor.execute(sql.replace("?", "%s"), tuple(params))
                    while rows := cursor.fetchmany(size):
                        yield rows
                return
            result = self.connection.execute(sql, list(params))
            while rows := result.fetchmany(size):
                yield rows

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement per row."""
        if not rows:
            return
        with self._engine_errors():
            self._executemany(sql, rows)

    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """executemany without the error translation."""
        if self.kind == "postgres":
            with self.connection.cursor() as cursor:
                cursor.executemany(sql.replace("?", "%s"), [tuple(r) for r in rows])
        else:
            self.connection.executemany(sql, [list(r) for r in rows])

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: the statements in the block are committed together, or none of them on an error."""
        if self.kind == "postgres":
            with self.connection.transaction():
                # one writer at a time across hosts: two ingests of the same run must not both insert it
                self.execute("SELECT pg_advisory_xact_lock(4242424242)")
                yield
            return
        self.connection.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def version(self) -> int:
        """The schema version of this store (0 when it has no tables yet)."""
        if self.kind == "postgres":
            exists = self.execute("SELECT to_regclass('schema_version') IS NOT NULL")[0][0]
        else:
            exists = bool(
                self.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'")[0][0]
            )
        if not exists:
            return 0
        found = self.execute("SELECT max(version) FROM schema_version")[0][0]
        return int(found or 0)

    def close(self) -> None:
        """Close the connection and release the lock."""
        with contextlib.suppress(Exception):
            self.connection.close()
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def migrate(store: Store, upto: int = SCHEMA_VERSION) -> int:
    """Apply the migrations the store lacks (up to `upto`); the version it ends at. A newer store: StoreError."""
    current = store.version()
    if current > SCHEMA_VERSION:
        raise StoreError(
            f"{store.location}: store schema {current} is from a newer devicebench (this one knows schema "
            f"{SCHEMA_VERSION}): upgrade devicebench, or rebuild a store of your own with `ingest --rebuild`"
        )
    for migration in MIGRATIONS:
        if current < migration.version <= upto:
            with store.transaction():
                if migration.version == 1:
                    store.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied TEXT NOT NULL)")
                for statement in migration.sql(store.kind):
                    store.execute(statement)
                store.execute(
                    "INSERT INTO schema_version VALUES (?, ?)",
                    [migration.version, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())],
                )
            current = migration.version
    return current


def _lock(path: Path, write: bool, wait_s: float) -> Any:
    """An flock on PATH.lock (exclusive to write, shared to read), waited for up to wait_s; the open handle."""
    handle = open(f"{path}.lock", "a+")  # noqa: SIM115 - held until Store.close
    deadline = time.monotonic() + wait_s
    mode = fcntl.LOCK_EX if write else fcntl.LOCK_SH
    while True:
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() > deadline:
                handle.close()
                raise StoreError(f"{path}: another process has held the store for {wait_s:.0f} s; try again") from None
            time.sleep(RETRY_S)


def _open_duckdb(path: Path, write: bool, wait_s: float) -> Store:
    """A DuckDB store, locked for this process (the file itself takes one writer process at a time)."""
    import duckdb

    if not write and not path.is_file():
        raise StoreError(f"{path}: no store here (make one with `python -m reports ingest RUN... --store {path}`)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = _lock(path, write, wait_s)
    except OSError as exc:
        raise StoreError(f"{path}: cannot open the store: {exc.strerror or exc}") from None
    deadline = time.monotonic() + wait_s
    while True:
        try:
            connection = duckdb.connect(str(path), read_only=not write)
            break
        except duckdb.IOException as exc:
            # another program (not devicebench: it would hold the lock) has the file open for writing
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                lock.close()
                raise StoreError(f"{path}: cannot open the store: {' '.join(str(exc).split())}") from None
            time.sleep(RETRY_S)
        except duckdb.Error as exc:
            lock.close()
            raise StoreError(f"{path}: not a readable DuckDB store: {' '.join(str(exc).split())}") from None
    return Store("duckdb", str(path), connection, lock)


def _open_postgres(url: str) -> Store:
    """A PostgreSQL store (psycopg, the `postgres` extra)."""
    try:
        import psycopg
    except ImportError:
        raise StoreError("a PostgreSQL store needs psycopg: pip install 'devicebench[postgres]'") from None
    try:
        connection = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        shown = url.split("@")[-1]  # never print a password
        raise StoreError(f"postgresql://…@{shown}: cannot connect: {' '.join(str(exc).split())}") from None
    return Store("postgres", "postgresql://…@" + url.split("@")[-1], connection)


def open_store(location: str | Path, write: bool = False, wait_s: float = LOCK_WAIT_S) -> Store:
    """Open (with `write`, create) a store and bring its schema up to date; StoreError with one line."""
    text = str(location)
    store = _open_postgres(text) if is_postgres(text) else _open_duckdb(Path(text), write, wait_s)
    try:
        if write:
            migrate(store)
        else:
            version = store.version()
            if version > SCHEMA_VERSION:
                migrate(store)  # raises: a newer store
            if version < SCHEMA_VERSION:
                raise StoreError(
                    f"{store.location}: store schema {version} is older than this devicebench's "
                    f"{SCHEMA_VERSION}: run `python -m reports ingest --store ...` once to migrate it"
                )
    except BaseException:
        store.close()
        raise
    return store


@contextlib.contextmanager
def opened(location: str | Path, write: bool = False) -> Iterator[Store]:
    """open_store as a context: closed (and unlocked) at the end of the block."""
    store = open_store(location, write)
    try:
        yield store
    finally:
        store.close()


def add_store_option(parser: argparse.ArgumentParser, what: str) -> None:
    """A reading command's `--store [PATH|URL]`: None without it, '' for the default store; `what` ends the help."""
    parser.add_argument(
        "--store",
        nargs="?",
        const="",
        default=None,
        metavar="PATH|URL",
        help=f"{what} (the default store: $DEVICEBENCH_RESULTS/{DEFAULT_NAME})",
    )
