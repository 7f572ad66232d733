"""The results store: runs ingested once into DuckDB (default) or PostgreSQL, read back by the reports.

The run files stay the source of truth; the store is rebuilt from them with `ingest --rebuild`.
"""

from reports.store.db import DEFAULT_NAME, Store, StoreError, add_store_option, default_store, open_store
from reports.store.ingest import IngestResult, ingest_runs, rebuild
from reports.store.queries import detail_runs, history_frame, latest_runs, run_count
from reports.store.schema import SCHEMA_VERSION

__all__ = [
    "DEFAULT_NAME",
    "SCHEMA_VERSION",
    "IngestResult",
    "Store",
    "StoreError",
    "add_store_option",
    "default_store",
    "detail_runs",
    "history_frame",
    "ingest_runs",
    "latest_runs",
    "open_store",
    "rebuild",
    "run_count",
]
