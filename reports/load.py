"""Read devicebench results (pytest-benchmark JSON) into runs and one tidy pandas DataFrame.

I/O lives in :func:`read_run`; everything else here is pure and works on the parsed dicts.
This module never imports TensorFlow or torch.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

RESULTS_FILE = "benchmarks.json"
NVML_FILE = "nvml.csv"

#: extra_info keys that the results format defines; everything else a workload adds is an "extra".
STANDARD_KEYS = frozenset(
    {
        "workload", "backend", "backend_version", "device", "device_kind", "device_name", "params",
        "work_per_call", "work_unit", "throughput", "throughput_unit", "sync", "placement",
        "precision", "threads", "warmup", "profile", "nvml", "tf_memory", "allocator_memory",
    }
)  # fmt: skip

#: the columns every tidy frame starts with, in this order.
BASE_COLUMNS = [
    "host", "run", "backend", "backend_version", "device", "device_kind", "device_name",
    "workload", "name", "group",
]  # fmt: skip
STAT_COLUMNS = [
    "median_s", "iqr_s", "iqr_rel", "mean_s", "min_s", "max_s", "stddev_s", "rounds", "iterations",
    "throughput", "throughput_unit", "work_per_call", "work_unit",
]  # fmt: skip
META_COLUMNS = [
    "sync", "profile", "dtype_policy", "tf32", "intra_op", "inter_op", "cpu_count", "warmup_calls",
    "warmup_first_call_s", "nvml_peak_mib", "nvml_mean_util_pct", "nvml_mean_power_w", "nvml_energy_j",
    "tf_peak_bytes", "allocator_peak_bytes", "datetime", "commit",
]  # fmt: skip

_RUN_FOLDER = re.compile(r"^\d{8}-\d{6}-(?P<host>.+)$")


class ResultsFileError(Exception):
    """A results file that is missing, corrupt, truncated or not pytest-benchmark JSON."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = " ".join(str(problem).split())
        super().__init__(f"{self.path}: {self.problem}")


@dataclass(frozen=True)
class Run:
    """One benchmark run: its JSON file, folder, display name, host and parsed data."""

    json_path: Path
    folder: Path
    name: str
    host: str
    data: dict
    nvml_csv: Path | None


def _resolve_json(path: Path) -> Path:
    """Return the benchmarks.json that a run folder, symlink or file path points at."""
    if not path.exists():
        raise ResultsFileError(path, "no such file or folder")
    real = path.resolve()
    if real.is_dir():
        if not (real / RESULTS_FILE).is_file():
            raise ResultsFileError(path, f"folder has no {RESULTS_FILE} (is it a devicebench run folder?)")
        return path / RESULTS_FILE
    return path


def _load_json(path: Path) -> Any:
    """Parse a JSON file, turning every way it can fail into one ResultsFileError."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ResultsFileError(path, "not a text file (not UTF-8)") from None
    except OSError as exc:
        raise ResultsFileError(path, f"cannot read: {exc.strerror or exc}") from None
    if not text.strip():
        raise ResultsFileError(path, "file is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        kind = "truncated JSON" if exc.pos >= len(text.rstrip()) else "corrupt JSON"
        raise ResultsFileError(path, f"{kind}: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


def validate(data: Any, path: str | Path) -> dict:
    """Check that parsed JSON is pytest-benchmark output; return it or raise ResultsFileError."""
    foreign = "not a pytest-benchmark JSON file"
    if not isinstance(data, dict):
        raise ResultsFileError(path, f"{foreign}: top level is a {type(data).__name__}, not an object")
    benchmarks = data.get("benchmarks")
    if not isinstance(benchmarks, list):
        raise ResultsFileError(path, f"{foreign}: no top-level 'benchmarks' list")
    if not isinstance(data.get("machine_info"), dict):
        raise ResultsFileError(path, f"{foreign}: no top-level 'machine_info' object")
    for i, bench in enumerate(benchmarks):
        label = f"benchmark #{i}"
        if isinstance(bench, dict) and isinstance(bench.get("name"), str):
            label += f" ({bench['name']})"
        if not isinstance(bench, dict):
            raise ResultsFileError(path, f"{label} is not an object")
        stats = bench.get("stats")
        if not isinstance(stats, dict) or not isinstance(stats.get("data"), list):
            raise ResultsFileError(path, f"{label} has no stats.data list of round times")
        if not isinstance(stats.get("median"), int | float):
            raise ResultsFileError(path, f"{label} has no numeric stats.median")
    return data


def host_of(data: Mapping[str, Any], folder: Path) -> str:
    """The host a run came from: machine_info.node, else the run folder's name suffix."""
    node = data.get("machine_info", {}).get("node")
    if isinstance(node, str) and node:
        return node
    match = _RUN_FOLDER.match(folder.name)
    return match.group("host") if match else "unknown"


def read_run(path: str | Path) -> Run:
    """Read a run folder (or its benchmarks.json, or results/latest) into a validated Run."""
    given = Path(path)
    shown = _resolve_json(given)
    data = validate(_load_json(shown), shown)
    json_path = shown.resolve()
    folder = json_path.parent
    name = folder.name if json_path.name == RESULTS_FILE else json_path.stem
    nvml = folder / NVML_FILE
    nvml_csv = nvml if json_path.name == RESULTS_FILE and nvml.is_file() else None
    return Run(
        json_path=json_path,
        folder=folder,
        name=name,
        host=host_of(data, folder),
        data=data,
        nvml_csv=nvml_csv,
    )


def read_runs(paths: Sequence[str | Path], skip_bad: bool = False) -> tuple[list[Run], list[ResultsFileError]]:
    """Read several runs; with skip_bad, collect bad ones instead of raising on the first."""
    runs: list[Run] = []
    bad: list[ResultsFileError] = []
    for path in paths:
        try:
            runs.append(read_run(path))
        except ResultsFileError as exc:
            if not skip_bad:
                raise
            bad.append(exc)
    return runs, bad


def _num(value: Any) -> float | None:
    """A finite float from a JSON value, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _scalar(value: Any) -> bool:
    """Whether a JSON value fits in one table cell."""
    return value is None or isinstance(value, str | int | float | bool)


def _nvml_summary(nvml: Any) -> dict[str, float | None]:
    """Over the GPUs of an extra_info.nvml object: peak memory, mean utilisation and power, energy."""
    peaks, utils, powers, energy = [], [], [], []
    if isinstance(nvml, Mapping):
        for gpu in nvml.values():
            if not isinstance(gpu, Mapping):
                continue
            for key, bucket in (
                ("peak_mem_mib", peaks),
                ("mean_util_gpu_pct", utils),
                ("mean_power_w", powers),
                ("energy_j", energy),
            ):
                number = _num(gpu.get(key))
                if number is not None:
                    bucket.append(number)
    return {
        "nvml_peak_mib": max(peaks) if peaks else None,
        "nvml_mean_util_pct": max(utils) if utils else None,
        "nvml_mean_power_w": sum(powers) if powers else None,
        "nvml_energy_j": sum(energy) if energy else None,
    }


def workload_of(bench: Mapping[str, Any]) -> str:
    """The workload of a benchmark: extra_info.workload, else parsed from test_<workload>[...]."""
    extra = bench.get("extra_info") or {}
    if isinstance(extra.get("workload"), str):
        return extra["workload"]
    match = re.match(r"test_([A-Za-z0-9_]+)", str(bench.get("name", "")))
    return match.group(1) if match else "unknown"


def case_row(bench: Mapping[str, Any], host: str, run: str, run_data: Mapping[str, Any]) -> dict[str, Any]:
    """One tidy row for one pytest-benchmark benchmark entry."""
    extra: Mapping[str, Any] = bench.get("extra_info") or {}
    stats: Mapping[str, Any] = bench.get("stats") or {}
    median = _num(stats.get("median"))
    iqr = _num(stats.get("iqr"))
    row: dict[str, Any] = {
        "host": host,
        "run": run,
        "backend": extra.get("backend"),
        "backend_version": extra.get("backend_version"),
        "device": extra.get("device"),
        "device_kind": extra.get("device_kind"),
        "device_name": extra.get("device_name"),
        "workload": workload_of(bench),
        "name": bench.get("name"),
        "group": bench.get("group"),
        "median_s": median,
        "iqr_s": iqr,
        "iqr_rel": iqr / median if iqr is not None and median else None,
        "mean_s": _num(stats.get("mean")),
        "min_s": _num(stats.get("min")),
        "max_s": _num(stats.get("max")),
        "stddev_s": _num(stats.get("stddev")),
        "rounds": stats.get("rounds", len(stats.get("data") or [])),
        "iterations": stats.get("iterations"),
        "throughput": _num(extra.get("throughput")),
        "throughput_unit": extra.get("throughput_unit"),
        "work_per_call": _num(extra.get("work_per_call")),
        "work_unit": extra.get("work_unit"),
        "sync": extra.get("sync"),
        "profile": extra.get("profile"),
        "datetime": run_data.get("datetime"),
        "commit": (run_data.get("commit_info") or {}).get("id"),
    }
    precision = extra.get("precision") if isinstance(extra.get("precision"), Mapping) else {}
    row["dtype_policy"] = precision.get("dtype")
    row["tf32"] = precision.get("tf32")
    threads = extra.get("threads") if isinstance(extra.get("threads"), Mapping) else {}
    for key in ("intra_op", "inter_op", "cpu_count"):
        row[key] = threads.get(key)
    warmup = extra.get("warmup") if isinstance(extra.get("warmup"), Mapping) else {}
    row["warmup_calls"] = warmup.get("calls")
    row["warmup_first_call_s"] = _num(warmup.get("first_call_s"))
    row.update(_nvml_summary(extra.get("nvml")))
    tf_memory = extra.get("tf_memory") if isinstance(extra.get("tf_memory"), Mapping) else {}
    other = extra.get("allocator_memory") if isinstance(extra.get("allocator_memory"), Mapping) else {}
    row["tf_peak_bytes"] = _num(tf_memory.get("peak_bytes"))
    row["allocator_peak_bytes"] = row["tf_peak_bytes"] if tf_memory else _num(other.get("peak_bytes"))
    params = extra.get("params") if isinstance(extra.get("params"), Mapping) else {}
    for key, value in params.items():
        column = key if key not in row else f"param_{key}"
        row[column] = value if _scalar(value) else json.dumps(value, sort_keys=True)
    for key, value in extra.items():
        if key in STANDARD_KEYS or key in row or not _scalar(value):
            continue
        row[key] = value
    return row


def rows_of(run: Run) -> list[dict[str, Any]]:
    """The tidy rows of one run."""
    return [case_row(bench, run.host, run.name, run.data) for bench in run.data["benchmarks"]]


def tidy(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per benchmark case across runs: ids, parameters, statistics, throughput, memory, extras."""
    rows = [row for run in runs for row in rows_of(run)]
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        kinds = {type(row[column]) for row in rows if row.get(column) is not None}
        if kinds == {int}:
            frame[column] = frame[column].astype("Int64")
        elif kinds == {bool}:
            frame[column] = frame[column].astype("boolean")
    leading = BASE_COLUMNS + STAT_COLUMNS + META_COLUMNS
    for column in leading:
        if column not in frame.columns:
            frame[column] = None
    rest = [c for c in frame.columns if c not in leading]
    return frame[BASE_COLUMNS + rest + STAT_COLUMNS + META_COLUMNS].reset_index(drop=True)


def skipped(runs: Sequence[Run]) -> pd.DataFrame:
    """The cases each run left out (devicebench.skipped), one row each with its reason and kind."""
    columns = [
        "host",
        "run",
        "name",
        "workload",
        "backend",
        "device",
        "device_kind",
        "params",
        "kind",
        "reason",
    ]
    rows = []
    for run in runs:
        block = run.data.get("devicebench")
        entries = block.get("skipped") if isinstance(block, Mapping) else None
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, Mapping):
                continue
            params = entry.get("params")
            rows.append(
                {
                    "host": run.host,
                    "run": run.name,
                    "name": entry.get("name"),
                    "workload": entry.get("workload"),
                    "backend": entry.get("backend"),
                    "device": entry.get("device"),
                    "device_kind": entry.get("device_kind"),
                    "params": ", ".join(f"{k}={v}" for k, v in params.items()) if isinstance(params, Mapping) else "",
                    "kind": entry.get("kind"),
                    "reason": entry.get("reason"),
                }
            )
    return pd.DataFrame(rows, columns=columns)


def notes(runs: Sequence[Run]) -> list[tuple[str, str]]:
    """(run name, note) pairs from each run's devicebench.notes."""
    found = []
    for run in runs:
        block = run.data.get("devicebench")
        for note in (block.get("notes") or []) if isinstance(block, Mapping) else []:
            found.append((run.name, str(note)))
    return found
