"""Throughput history over successive runs of one host, with change points marked (found by `reports.steps`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure  # no pyplot: safe without a display

from reports.page import Table
from reports.plots import Plot, svg_data_uri
from reports.steps import detect_steps

if TYPE_CHECKING:
    from reports.load import Run

__all__ = ["history_frame", "history_host", "plot_history", "steps_frame"]

MAX_PLOT_POINTS = 200  # per case: enough to see a year of nightly runs, and the page stays small

HISTORY_COLUMNS = [
    "host", "run", "datetime", "position", "name", "workload", "workload_version", "backend", "device",
    "throughput", "throughput_unit", "median_s", "iqr_rel", "profile", "tf32",
]  # fmt: skip


def _run_time(run: Run) -> datetime | None:
    """When the run started (its `datetime`), else None when that is not a readable timestamp."""
    try:
        return datetime.fromisoformat(run.record.datetime.replace("Z", "+00:00"))
    except ValueError:
        return None


def history_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """Throughput per case per run, ordered by run datetime (then name); `position` counts runs per host."""
    rows: list[dict[str, Any]] = []
    for run in runs:
        when = _run_time(run)
        for bench in run.record.benchmarks:
            info, stats = bench.extra_info, bench.stats
            rows.append(
                {
                    "host": run.host,
                    "run": run.name,
                    "datetime": pd.Timestamp(when) if when else pd.NaT,
                    "name": bench.name,
                    "workload": info.workload,
                    "workload_version": info.workload_version,
                    "backend": info.backend,
                    "device": info.device,
                    "throughput": info.throughput if info.throughput is not None else math.nan,
                    "throughput_unit": info.throughput_unit,
                    "median_s": stats.median,
                    "iqr_rel": stats.iqr / stats.median,
                    "profile": run.record.devicebench.profile,
                    "tf32": info.precision.tf32,
                }
            )
    frame = pd.DataFrame(rows, columns=[c for c in HISTORY_COLUMNS if c != "position"])
    if frame.empty:
        return frame.assign(position=pd.Series(dtype=int))[HISTORY_COLUMNS]
    frame["datetime"] = pd.to_datetime(frame["datetime"], utc=True)
    order = (
        frame[["host", "run", "datetime"]]
        .drop_duplicates()
        .sort_values(["host", "datetime", "run"], na_position="first")
    )
    order["position"] = order.groupby("host").cumcount()
    frame = frame.merge(order[["host", "run", "position"]], on=["host", "run"])
    return frame.sort_values(["host", "position", "name"]).reset_index(drop=True)[HISTORY_COLUMNS]


def history_host(frame: pd.DataFrame) -> str | None:
    """The host with the most runs in a history frame, or None when no host has two."""
    if frame.empty:
        return None
    counts = frame.groupby("host")["run"].nunique()
    return str(counts.idxmax()) if counts.max() >= 2 else None


def steps_frame(frame: pd.DataFrame, *, min_change: float = 0.05) -> pd.DataFrame:
    """One row per change point per case: the run where the new level starts and both levels."""
    columns = ["host", "name", "workload", "run", "position", "before", "after", "change"]
    rows: list[dict[str, Any]] = []
    # a workload whose version changed measures something else: each version is a series of its own
    for (host, name, _), case in frame.groupby(["host", "name", "workload_version"], sort=True):
        case = case.sort_values("position")
        values = case["throughput"].to_numpy(dtype=float)
        noise = (case["throughput"] * case["iqr_rel"]).to_numpy(dtype=float)
        starts = detect_steps(values, noise=noise, min_change=min_change)
        finite = np.isfinite(values)
        edges = [0, *starts, len(values)]
        for s, (a, b, c) in zip(starts, zip(edges[:-2], edges[1:-1], edges[2:], strict=True), strict=True):
            before = float(np.median(values[a:b][finite[a:b]]))
            after = float(np.median(values[b:c][finite[b:c]]))
            rows.append(
                {
                    "host": host,
                    "name": name,
                    "workload": case["workload"].iloc[0],
                    "run": case["run"].iloc[s],
                    "position": int(case["position"].iloc[s]),
                    "before": before,
                    "after": after,
                    "change": after / before - 1 if before else math.nan,
                }
            )
    return pd.DataFrame(rows, columns=columns)


def version_changes(frame: pd.DataFrame) -> pd.DataFrame:
    """Where a workload's version changed between runs of a host: its cases are not compared across it."""
    columns = ["host", "workload", "run", "position", "before", "after"]
    rows: list[dict[str, Any]] = []
    if frame.empty:
        return pd.DataFrame(rows, columns=columns)
    per_run = frame.drop_duplicates(["host", "workload", "position"]).sort_values(["host", "workload", "position"])
    for (host, workload), part in per_run.groupby(["host", "workload"], sort=True):
        versions = part["workload_version"].tolist()
        for i in range(1, len(versions)):
            if versions[i] != versions[i - 1]:
                rows.append(
                    {
                        "host": host,
                        "workload": workload,
                        "run": part["run"].iloc[i],
                        "position": int(part["position"].iloc[i]),
                        "before": int(versions[i - 1]),
                        "after": int(versions[i]),
                    }
                )
    return pd.DataFrame(rows, columns=columns)


def downsample(case: pd.DataFrame, points: int = MAX_PLOT_POINTS) -> pd.DataFrame:
    """A case's series (sorted by position) with at most `points` points: medians of consecutive bins of runs."""
    if len(case) <= points:
        return case
    size = math.ceil(len(case) / points)
    bins = np.arange(len(case)) // size
    return case.groupby(bins).agg(position=("position", "mean"), throughput=("throughput", "median"))


def _run_ticks(ax: Any, labels: list[str], most: int = 16) -> None:
    """Label the x axis with run names: all of them when few, else `most` evenly spaced."""
    ticks = list(range(len(labels))) if len(labels) <= most else np.linspace(0, len(labels) - 1, most).astype(int)
    ax.set_xticks(list(ticks), [labels[int(t)] for t in ticks], rotation=30, ha="right", fontsize=7)


def plot_history(frame: pd.DataFrame, host: str | None = None, steps: pd.DataFrame | None = None) -> Figure | None:
    """Throughput per case over the runs of one host, one panel per workload, change points marked.

    A long history is drawn downsampled (at most MAX_PLOT_POINTS points per case); `steps` (steps_frame of
    this host) saves finding the change points again.
    """
    host = host or history_host(frame)
    if host is None:
        return None
    data = frame[frame["host"] == host]
    if data["run"].nunique() < 2:
        return None

    steps = steps_frame(data) if steps is None else steps
    workloads = sorted(data["workload"].dropna().unique())
    fig = Figure(figsize=(8, 2.6 * len(workloads)), layout="constrained")
    axes = fig.subplots(len(workloads), 1, squeeze=False)[:, 0]
    labels = data.drop_duplicates("position").sort_values("position")["run"].tolist()
    for ax, workload in zip(axes, workloads, strict=True):
        part = data[data["workload"] == workload]
        several_versions = part["workload_version"].nunique() > 1
        for (name, version), case in part.groupby(["name", "workload_version"], sort=True):
            case = case.sort_values("position")
            label = f"{name} (v{version})" if several_versions else str(name)
            shown = downsample(case)
            marker = "o" if len(shown) <= 60 else None
            ax.plot(shown["position"], shown["throughput"], marker=marker, ms=3, lw=1, label=label)
            marks = steps[steps["name"] == name]
            for _, step in marks.iterrows():
                y = case.loc[case["position"] == step["position"], "throughput"]
                ax.plot([step["position"]], y, marker="v", ms=9, color="crimson", zorder=5)
        units = part["throughput_unit"].dropna().unique()
        ax.set_title(f"{workload} on {host}", fontsize=10)
        ax.set_ylabel(units[0] if len(units) == 1 else "throughput")
        _run_ticks(ax, labels)
        ax.legend(fontsize=6, loc="best")
    axes[-1].set_xlabel("run (red ▼: change point)")
    return fig


def history_section(runs: Sequence[Run] = (), frame: pd.DataFrame | None = None) -> dict[str, Any] | None:
    """The report's History section (plot and change-point table), or None without ≥2 runs of one host.

    `frame` (history_frame's columns, e.g. from the results store) stands in for reading `runs`.
    """
    frame = history_frame(runs) if frame is None else frame
    host = history_host(frame)
    if host is None:
        return None
    data = frame[frame["host"] == host]
    steps = steps_frame(data)  # once: the plot marks them and the table lists them
    fig = plot_history(frame, host, steps)
    if fig is None:
        return None
    n_runs = data["run"].nunique()
    plot = Plot(
        "history",
        f"Throughput over {n_runs} runs of {host}",
        "Did any case get faster or slower from one run to the next?",
        image=svg_data_uri(fig),
    )
    units = data.drop_duplicates("name").set_index("name")["throughput_unit"].to_dict()
    rows = [
        [
            str(step["name"]),
            str(step["run"]),
            f"{step['before']:.4g} {units.get(step['name']) or ''}".strip(),
            f"{step['after']:.4g} {units.get(step['name']) or ''}".strip(),
            f"{step['change']:+.1%}",
        ]
        for _, step in steps.sort_values(["position", "name"]).iterrows()
    ]
    rows += [
        [
            f"every {change['workload']} case",
            str(change["run"]),
            f"workload version {change['before']}",
            f"version {change['after']}",
            "not compared",
        ]
        for _, change in version_changes(data).iterrows()
    ]
    table = Table(
        "Change points",
        ["case", "first run at the new level", "throughput before", "after", "change"],
        rows,
        note="Steps of at least 5 % found by a piecewise-constant fit (after asv's step detection); a workload "
        "whose version changed measures something else, so its runs before and after are not compared."
        if rows
        else "No change points: every case stayed at one level across these runs.",
        numeric=[False, False, True, True, True],
    )
    return {"host": host, "runs": n_runs, "plot": plot, "steps": table}
