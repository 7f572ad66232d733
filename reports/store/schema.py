"""The store's tables as numbered migrations; a store records the migrations it has in `schema_version`.

A migration is appended, never edited: a store made by an older devicebench is brought up to date on
opening, and a store from a newer devicebench (a version above SCHEMA_VERSION) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

#: column types that differ between the engines
TYPES = {
    "duckdb": {"blob": "BLOB", "double": "DOUBLE"},
    "postgres": {"blob": "BYTEA", "double": "DOUBLE PRECISION"},
}


@dataclass(frozen=True)
class Migration:
    """One step of the schema: its number, what it does, and its statements ({blob}, {double} per engine)."""

    version: int
    what: str
    statements: tuple[str, ...]

    def sql(self, kind: str) -> list[str]:
        """The statements with the engine's type names filled in."""
        return [statement.format(**TYPES[kind]) for statement in self.statements]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "runs (one row per run file, its validated document compressed) and cases (one row per measured case)",
        (
            """CREATE TABLE runs (
                run_key TEXT PRIMARY KEY, host TEXT NOT NULL, name TEXT NOT NULL, source TEXT NOT NULL,
                started TEXT NOT NULL, started_s {double}, content_hash TEXT NOT NULL, complete BOOLEAN NOT NULL,
                profile TEXT, cases INTEGER NOT NULL, ingested TEXT NOT NULL, document {blob} NOT NULL)""",
            """CREATE TABLE cases (
                run_key TEXT NOT NULL, host TEXT NOT NULL, run TEXT NOT NULL, started_s {double},
                name TEXT NOT NULL, workload TEXT, workload_version INTEGER, backend TEXT, device TEXT,
                device_kind TEXT, device_name TEXT, dtype TEXT, throughput {double}, throughput_unit TEXT,
                median_s {double} NOT NULL, iqr_rel {double}, rounds INTEGER)""",
        ),
    ),
    Migration(
        2,
        "indexes for the readers: a host's runs in time order, a host's series per case",
        (
            "CREATE INDEX runs_host ON runs (host, started_s)",
            "CREATE INDEX cases_host ON cases (host, name)",
        ),
    ),
    Migration(
        3,
        "cases.tf32: float32 with TF32 on is another precision, kept apart when runs are compared (NULL before)",
        ("ALTER TABLE cases ADD COLUMN tf32 BOOLEAN",),
    ),
    Migration(
        4,
        "fleet_facts: each run's environment facts and health (reports.fleet_facts), so `fleet` judges from rows "
        "without reading every host's document (filled for the runs already stored by the ingest that migrates)",
        (
            """CREATE TABLE fleet_facts (
                run_key TEXT PRIMARY KEY, run_state TEXT NOT NULL, health TEXT, throttled TEXT,
                sm_clock_mhz {double}, pcie_link TEXT, gpu_max_sm_clock_mhz TEXT, gpu_power_limit_w TEXT,
                nvidia_driver TEXT, cuda_driver TEXT, cuda TEXT, cudnn TEXT, frameworks TEXT, cpu_model TEXT,
                cpu_cores INTEGER, container_image TEXT, python TEXT, health_reason TEXT, stragglers TEXT)""",
        ),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1].version
