"""Read devicebench results through the results format into runs and one tidy pandas DataFrame.

Every file is validated by `results_format` on the way in, so what follows works on typed records and
never guesses at a key's type. This module never imports TensorFlow or torch.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from reports import limits, specs
from reports.drift import reference_drift
from results_format import (
    NVML_FILE,
    RESULTS_FILE,
    Benchmark,
    ResultsFileError,
    RunFile,
    read,
    resolve,
    run_folders,
)

__all__ = [
    "BASE_COLUMNS",
    "META_COLUMNS",
    "RESULTS_FILE",
    "STAT_COLUMNS",
    "ResultsFileError",
    "Run",
    "case_row",
    "expand",
    "notes",
    "read_run",
    "read_runs",
    "rows_of",
    "skipped",
    "tidy",
]

#: the columns every tidy frame starts with, in this order.
BASE_COLUMNS = [
    "host", "run", "backend", "backend_version", "device", "device_kind", "device_name",
    "workload", "workload_version", "name", "case_id", "group", "case_label",
]  # fmt: skip
STAT_COLUMNS = [
    "median_s", "iqr_s", "iqr_rel", "mean_s", "min_s", "max_s", "stddev_s", "rounds", "iterations",
    "measure", "throughput", "throughput_unit", "work_per_call", "work_unit",
]  # fmt: skip
META_COLUMNS = [
    "sync", "profile", "dtype_policy", "precision_label", "tf32", "intra_op", "inter_op", "effective_intra_op",
    "cpu_count",
    "warmup_calls", "warmup_first_call_s", "one_time_cost_s", "stopped_by", "nvml_peak_mib", "nvml_mean_util_pct",
    "nvml_mean_power_w", "nvml_energy_j", "nvml_throttled", "allocator", "allocator_peak_bytes", "datetime",
    "commit", "complete",
]  # fmt: skip


@dataclass(frozen=True)
class Run:
    """One benchmark run: its file, folder, display name, host and validated record."""

    json_path: Path
    folder: Path
    name: str
    host: str
    record: RunFile
    nvml_csv: Path | None

    @property
    def complete(self) -> bool:
        """Whether the run finished (an interrupted or killed run is readable, but incomplete)."""
        return self.record.complete

    @property
    def state_text(self) -> str:
        """'complete', or 'interrupted: stopped by SIGTERM (...)' and the like."""
        state = self.record.devicebench.run
        if state.complete:
            return "complete"
        if state.state == "running":
            return "incomplete: the run stopped without finishing (killed, out of memory or crashed)"
        return f"incomplete ({state.state}): {state.reason}" if state.reason else f"incomplete ({state.state})"


def incomplete_run(record: RunFile, label: str) -> str | None:
    """'LABEL is an incomplete run (why; N finished cases)' for an interrupted or killed run; None when complete."""
    if record.complete:
        return None
    state = record.devicebench.run
    if state.state == "running":  # never finished: its last write still says it was going
        why = "killed or crashed while running (SIGKILL, the OOM killer, a crash)"
    else:
        why = state.reason or state.state
    return f"{label} is an incomplete run ({why}; {len(record.benchmarks)} finished cases)"


def accept_incomplete(record: RunFile, label: str, allowed: bool, verb: str, done: str) -> bool:
    """Whether a gate or an export may use `record`: an incomplete run is refused (one error line) unless allowed
    (then one warning line); `verb` and `done` name the action ('compare', 'compared')."""
    what = incomplete_run(record, label)
    if what is None:
        return True
    if not allowed:
        print(
            f"error: {what}: its missing cases would pass unseen; pass --allow-incomplete to {verb} what it has",
            file=sys.stderr,
        )
        return False
    print(f"warning: {what}; {done} anyway (--allow-incomplete)", file=sys.stderr)
    return True


def read_run(path: str | Path) -> Run:
    """Read a run folder (or its benchmarks.json, or results/latest) into a validated Run."""
    shown = resolve(path)
    record = read(shown)
    specs.remember(record)
    json_path = shown.resolve()
    folder = json_path.parent
    name = folder.name if json_path.name == RESULTS_FILE else json_path.stem
    nvml = folder / NVML_FILE
    nvml_csv = nvml if json_path.name == RESULTS_FILE and nvml.is_file() else None
    return Run(
        json_path=json_path,
        folder=folder,
        name=name,
        host=record.machine_info.devicebench.host,
        record=record,
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


def _nvml_summary(bench: Benchmark) -> dict[str, Any]:
    """Over the GPUs NVML saw while a case ran: peak memory, busiest GPU's utilisation, power, energy, throttling."""
    gpus = list((bench.extra_info.nvml or {}).values())
    peaks = [g.peak_mem_mib for g in gpus if g.peak_mem_mib is not None]
    utils = [g.mean_util_gpu_pct for g in gpus if g.mean_util_gpu_pct is not None]
    powers = [g.mean_power_w for g in gpus if g.mean_power_w is not None]
    energy = [g.energy_j for g in gpus if g.energy_j is not None]
    throttled = [g.throttled for g in gpus if g.throttled is not None]
    return {
        "nvml_peak_mib": max(peaks) if peaks else None,
        "nvml_mean_util_pct": max(utils) if utils else None,
        "nvml_mean_power_w": sum(powers) if powers else None,
        "nvml_energy_j": sum(energy) if energy else None,
        "nvml_throttled": any(throttled) if throttled else None,
    }


def _cell(value: Any) -> Any:
    """A JSON value as one table cell: scalars as they are, lists and objects as compact JSON."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.dumps(value, sort_keys=True)


def case_row(bench: Benchmark, run: Run) -> dict[str, Any]:
    """One tidy row for one measured case."""
    info, stats = bench.extra_info, bench.stats
    row: dict[str, Any] = {
        "host": run.host,
        "run": run.name,
        "backend": info.backend,
        "backend_version": info.backend_version,
        "device": info.device,
        "device_kind": info.device_kind,
        "device_name": info.device_name,
        "workload": info.workload,
        "workload_version": info.workload_version,
        "name": bench.name,
        "case_id": bench.param,
        "group": bench.group,
        "case_label": info.case_label,
        "median_s": stats.median,
        "iqr_s": stats.iqr,
        "iqr_rel": stats.iqr / stats.median,
        "mean_s": stats.mean,
        "min_s": stats.min,
        "max_s": stats.max,
        "stddev_s": stats.stddev,
        "rounds": stats.rounds,
        "iterations": stats.iterations,
        "measure": info.measure,
        "throughput": info.throughput,
        "throughput_unit": info.throughput_unit,
        "work_per_call": info.work_per_call,
        "work_unit": info.work_unit,
        "sync": info.sync,
        "profile": info.profile,
        "dtype_policy": info.precision.dtype,
        # float32 with TF32 on is another precision on a GPU: plots and the roofline keep it apart from strict float32
        "precision_label": (
            f"{info.precision.dtype} (TF32)"
            if info.precision.dtype == "float32" and info.precision.tf32 and info.device_kind == "gpu"
            else info.precision.dtype
        ),
        "tf32": info.precision.tf32,
        "intra_op": info.threads.intra_op,
        "inter_op": info.threads.inter_op,
        "effective_intra_op": info.threads.effective_intra_op,
        "cpu_count": info.threads.cpu_count,
        "warmup_calls": info.warmup.calls,
        "warmup_first_call_s": info.warmup.first_call_s,
        "one_time_cost_s": info.one_time_cost_s,
        "stopped_by": info.timing.stopped_by if info.timing else None,
        "allocator": info.allocator_memory.allocator if info.allocator_memory else None,
        "allocator_peak_bytes": info.allocator_memory.peak_bytes if info.allocator_memory else None,
        "datetime": run.record.datetime,
        "commit": run.record.commit_info.id,
        "complete": run.complete,
        **_nvml_summary(bench),
        **limits.case_facts(bench, run),  # peak, spec bandwidth, link ceiling, energy, throttling
    }
    row.update(info.params)  # the workloads' declared parameters never share a name with the columns above
    for key, value in info.extras.items():
        row.setdefault(key, _cell(value))  # a workload may repeat a parameter among its own keys
    return row


def rows_of(run: Run) -> list[dict[str, Any]]:
    """The tidy rows of one run."""
    return [case_row(bench, run) for bench in run.record.benchmarks]


def tidy(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per measured case across runs: ids, parameters, statistics, throughput, memory, extras."""
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
    return limits.add_limit_columns(frame[BASE_COLUMNS + rest + STAT_COLUMNS + META_COLUMNS].reset_index(drop=True))


def skipped(runs: Sequence[Run]) -> pd.DataFrame:
    """The cases each run left out, one row each with its reason and kind."""
    columns = ["host", "run", "name", "workload", "backend", "device", "device_kind", "params", "kind", "reason"]
    rows = [
        {
            "host": run.host,
            "run": run.name,
            "name": entry.name,
            "workload": entry.workload,
            "backend": entry.backend,
            "device": entry.device,
            "device_kind": entry.device_kind,
            "params": ", ".join(f"{k}={v}" for k, v in entry.params.items()),
            "kind": entry.kind,
            "reason": entry.reason,
        }
        for run in runs
        for entry in run.record.devicebench.skipped
    ]
    return pd.DataFrame(rows, columns=columns)


def notes(runs: Sequence[Run]) -> list[tuple[str, str]]:
    """(run name, note) pairs: each run's notes, every run that did not finish, every run whose machine drifted."""

    found = [(run.name, note) for run in runs for note in run.record.devicebench.notes]
    found += [(run.name, run.state_text) for run in runs if not run.complete]
    for run in runs:
        block = run.record.devicebench.drift
        finding = reference_drift(block.start_s, block.end_s) if block is not None else None
        if finding is not None and finding.drifted:
            found.append((run.name, finding.text(run.host)))
    return found


def workload_title(workload: str) -> str:
    """A workload's title from the results format ('MNIST training'); the name for unknown ones."""
    return specs.title(workload)


def _is_run(path: Path) -> bool:
    """Whether `path` is a benchmarks.json or a folder (or link to one) holding one."""
    return path.is_file() or (path / RESULTS_FILE).is_file()


def expand(paths: Sequence[str | Path]) -> list[Path]:
    """Run paths from RESULTS: runs as given; a folder's run folders, one or two levels down (not baselines/)."""
    found: list[Path] = []
    for text in paths:
        path = Path(text)
        if not path.is_dir() or _is_run(path):
            found.append(path)  # a run, or something read_runs will explain
            continue
        found += run_folders(path, levels=2, skip=("baselines",)) or [path]
    return list(dict.fromkeys(found))
