"""Throughput history over successive runs of one host, with change points marked.

Change-point detection follows the idea of asv's ``step_detect``: fit a piecewise-constant
function to the series with an L1 (median) cost, and pick the number of steps with a
Schwarz-like information criterion ``beta * k + log(floor + cost_k)`` where
``beta = 4 ln(n) / n``. The series here are short (one point per run), so the fit is an
exact dynamic programme in numpy instead of asv's approximate solver.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from reports.load import Run

__all__ = ["detect_steps", "history_frame", "history_host", "plot_history", "segment", "steps_frame"]

HISTORY_COLUMNS = [
    "host", "run", "datetime", "position", "name", "workload", "workload_version", "backend", "device",
    "throughput", "throughput_unit", "median_s", "iqr_rel",
]  # fmt: skip


def _l1_cost_matrix(y: np.ndarray) -> np.ndarray:
    """cost[i, j] = sum |y[i:j] - median(y[i:j])| for i < j, inf elsewhere."""
    n = y.size
    cost = np.full((n + 1, n + 1), np.inf)
    for i in range(n):
        for j in range(i + 1, n + 1):
            seg = y[i:j]
            cost[i, j] = float(np.abs(seg - np.median(seg)).sum())
    return cost


def segment(y: Sequence[float], k: int, cost: np.ndarray | None = None) -> tuple[list[int], float]:
    """Best split of `y` into `k` constant pieces (L1): start indices of pieces 2..k and total cost."""
    arr = np.asarray(y, dtype=float)
    n = arr.size
    if not 1 <= k <= n:
        raise ValueError(f"k={k} pieces do not fit {n} points")
    c = _l1_cost_matrix(arr) if cost is None else cost
    best = c[0].copy()  # best[j]: cost of y[:j] in one piece
    back: list[np.ndarray] = []
    for _ in range(1, k):
        total = best[:, None] + c  # total[i, j]: best of y[:i] plus one piece y[i:j]
        arg = np.argmin(total, axis=0)
        best = total[arg, np.arange(n + 1)]
        back.append(arg)
    starts: list[int] = []
    j = n
    for arg in reversed(back):
        j = int(arg[j])
        starts.append(j)
    return sorted(starts), float(best[n])


def _medians(y: np.ndarray, starts: Sequence[int]) -> list[float]:
    """The median of each piece of `y` cut at `starts`."""
    edges = [0, *starts, y.size]
    return [float(np.median(y[a:b])) for a, b in pairwise(edges)]


def _noise_floor(y: np.ndarray, starts: Sequence[int]) -> float:
    """asv's measurement floor: a tenth of the smallest step between levels, or 0.1 % of the level."""
    levels = _medians(y, starts)
    scale = 1e-3 * float(np.median(np.abs(y)))
    if len(levels) > 1:
        scale = max(scale, 0.1 * min(abs(b - a) for a, b in pairwise(levels)))
    return max(scale, 1e-300)


def _finite_or_zero(value: float | None) -> float:
    """A finite float, or 0.0 for None/nan/inf."""
    return float(value) if value is not None and math.isfinite(value) else 0.0


def detect_steps(
    values: Sequence[float | None],
    *,
    noise: Sequence[float | None] | None = None,
    min_change: float = 0.05,
    beta: float | None = None,
    max_steps: int = 10,
) -> list[int]:
    """Indices where a new level starts in a noisy piecewise-constant series (nan/None skipped).

    A step is reported only when it is at least `min_change` of the level before it and larger
    than the scatter on either side: the mean absolute deviation of each piece, and `noise`
    (each point's own uncertainty, e.g. its run's IQR in the same unit) where given.
    """
    raw = [math.nan if v is None else float(v) for v in values]
    index = [i for i, v in enumerate(raw) if math.isfinite(v)]
    y = np.array([raw[i] for i in index])
    u = np.array([_finite_or_zero(noise[i]) if noise is not None else 0.0 for i in index])
    n = y.size
    if n < 2:
        return []
    beta = 4.0 * math.log(n) / n if beta is None else beta
    cost = _l1_cost_matrix(y)
    best_starts: list[int] = []
    best_obj = math.inf
    for k in range(1, min(n, max_steps + 1) + 1):
        starts, total = segment(y, k, cost)
        # The floor keeps a perfect fit (cost 0, one piece per point) from always winning.
        obj = beta * k + math.log(_noise_floor(y, starts) + total)
        if obj < best_obj - 1e-12:
            best_obj, best_starts = obj, starts
    # Point-to-point scatter: robust to a few steps, it keeps short noisy series from "stepping" at every point.
    jitter = float(np.median(np.abs(np.diff(y))))
    starts = list(best_starts)
    while starts:
        pieces = list(pairwise([0, *starts, n]))
        levels = [float(np.median(y[a:b])) for a, b in pieces]
        spread = [
            max(float(np.mean(np.abs(y[a:b] - level))), float(np.median(u[a:b])), jitter)
            for (a, b), level in zip(pieces, levels, strict=True)
        ]

        def needed(j: int, k: int, levels: list[float] = levels, spread: list[float] = spread) -> float:
            """The smallest convincing difference between the levels of pieces j and k."""
            return max(min_change * abs(levels[j]), spread[j], spread[k])

        # A single run in the middle that the series comes back from is an outlier, not two steps.
        outlier = next(
            (
                j
                for j in range(1, len(pieces) - 1)
                if pieces[j][1] - pieces[j][0] == 1 and abs(levels[j + 1] - levels[j - 1]) < needed(j - 1, j + 1)
            ),
            None,
        )
        if outlier is not None:
            del starts[outlier - 1 : outlier + 1]
            continue
        # Merge steps too small to matter, the least convincing first, re-fitting the levels each time.
        margins = [abs(levels[j + 1] - levels[j]) / (needed(j, j + 1) or math.inf) for j in range(len(starts))]
        weakest = int(np.argmin(margins))
        if margins[weakest] >= 1.0:
            break
        del starts[weakest]
    return [index[s] for s in starts]


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


def plot_history(frame: pd.DataFrame, host: str | None = None) -> Figure | None:
    """Throughput per case over the runs of one host, one panel per workload, change points marked."""
    host = host or history_host(frame)
    if host is None:
        return None
    data = frame[frame["host"] == host]
    if data["run"].nunique() < 2:
        return None
    from matplotlib.figure import Figure  # no pyplot: safe without a display

    steps = steps_frame(data)
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
            ax.plot(case["position"], case["throughput"], marker="o", ms=3, label=label)
            marks = steps[steps["name"] == name]
            for _, step in marks.iterrows():
                y = case.loc[case["position"] == step["position"], "throughput"]
                ax.plot([step["position"]], y, marker="v", ms=9, color="crimson", zorder=5)
        units = part["throughput_unit"].dropna().unique()
        ax.set_title(f"{workload} on {host}", fontsize=10)
        ax.set_ylabel(units[0] if len(units) == 1 else "throughput")
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=7)
        ax.legend(fontsize=6, loc="best")
    axes[-1].set_xlabel("run (red ▼: change point)")
    return fig


def history_section(runs: Sequence[Run]) -> dict[str, Any] | None:
    """The report's History section (plot and change-point table), or None without ≥2 runs of one host."""
    frame = history_frame(runs)
    host = history_host(frame)
    if host is None:
        return None
    from reports.page import Table
    from reports.plots import Plot, svg_data_uri

    fig = plot_history(frame, host)
    if fig is None:
        return None
    data = frame[frame["host"] == host]
    n_runs = data["run"].nunique()
    plot = Plot(
        "history",
        f"Throughput over {n_runs} runs of {host}",
        "Did any case get faster or slower from one run to the next?",
        image=svg_data_uri(fig),
    )
    steps = steps_frame(data)
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
