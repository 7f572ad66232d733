"""Plots of how close the hardware came to its limits: the roofline, performance per watt, sustained runs.

Built like reports.plots (matplotlib's object API on Agg, seaborn styles, SVG data URIs); a plot without data is
a Plot with `why_not`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import ticker
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from reports import limits
from reports import sustained as st
from reports.labels import device_labels
from reports.plots import RC, Plot, _legend_outside, _new_figure, _plain_log_axis, svg_data_uri


def _figure(width: float, height: float) -> Figure:
    """An empty constrained-layout figure (its axes are made in seaborn's whitegrid style by the caller)."""
    with sns.axes_style("whitegrid"), matplotlib.rc_context(RC):
        return Figure(figsize=(width, height), layout="constrained")


MAX_PANELS = 6
DTYPE_COLOURS = dict(
    zip(
        ("float32", "bfloat16", "float16", "float64", "float32 (TF32)"),
        sns.color_palette("colorblind", 5),
        strict=True,
    )
)


def _dtype_colour(dtype: str) -> tuple[float, float, float]:
    """A stable colour per dtype."""
    return DTYPE_COLOURS.get(dtype, (0.4, 0.4, 0.4))


def roofline(frame: pd.DataFrame, ceilings: pd.DataFrame) -> Plot:
    """Matmul GFLOP/s vs arithmetic intensity per device, under `ceilings` (limits.roofline_ceilings(frame))."""
    title = "Roofline"
    question = "How close does each matmul come to the device's compute and memory ceilings?"
    points = limits.roofline_points(frame)
    if points.empty:
        return Plot("roofline", title, question, why_not="No matmul cases ran, so there is no roofline.")
    labels = sorted(set(points["device_label"]))[:MAX_PANELS]
    cols = min(len(labels), 3)
    rows = math.ceil(len(labels) / cols)
    fig = _figure(max(4.3 * cols + 2.4, 9.0), 3.6 * rows + 0.6)
    with sns.axes_style("whitegrid"), matplotlib.rc_context(RC):
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax in axes[len(labels) :]:
            ax.set_axis_off()
        dtypes: set[str] = set()
        for ax, label in zip(axes, labels, strict=False):
            mine = points[points["device_label"] == label]
            _roofline_panel(ax, mine, ceilings[ceilings["device_label"] == label])
            ax.set_title(label, fontsize=10)
            dtypes |= set(mine["dtype"].astype(str))
        handles = [Line2D([], [], marker="o", ls="", color=_dtype_colour(d), label=d) for d in sorted(dtypes)]
        handles += [
            Line2D([], [], color="0.2", ls="-", label="measured ceilings (best of this run)"),
            Line2D([], [], color="0.2", ls="--", label="peak ceilings (spec; CPU: estimate)"),
        ]
        fig.legend(handles=handles, fontsize=8, loc="outside right center", frameon=False)
        fig.suptitle(question, fontsize=11, fontweight="bold")
    return Plot("roofline", title, question, image=svg_data_uri(fig))


def _roofline_panel(ax, points: pd.DataFrame, ceilings: pd.DataFrame) -> None:
    """One device: its matmul points per dtype under each dtype's roofs (measured solid, peak dashed).

    A roof is min(compute ceiling, memory bandwidth x intensity); the measured roof uses the best measured GB/s,
    the peak roof the spec's bandwidth (a CPU's estimated compute peak goes with its measured bandwidth).
    """
    measured_bw = _present(ceilings["measured GB/s"])
    spec_bw = _present(ceilings["spec GB/s"])
    xs = [*points["intensity"].astype(float)]
    for column in ("ridge (measured)", "ridge (peak)"):
        xs += [float(v) for v in pd.to_numeric(ceilings[column], errors="coerce").dropna()]
    low, high = min(xs) / 3, max(xs) * 3
    grid = np.geomspace(low, high, 200)
    for _, row in ceilings.iterrows():
        colour = _dtype_colour(str(row["dtype"]))
        peak_bw = spec_bw if row["peak is"] == "spec" else measured_bw
        for value, bw, style in ((row["measured GFLOP/s"], measured_bw, "-"), (row["peak GFLOP/s"], peak_bw, "--")):
            if value is None or pd.isna(value):
                continue
            roof = np.full_like(grid, float(value)) if bw is None else np.minimum(float(value), float(bw) * grid)
            ax.plot(grid, roof, ls=style, color=colour, lw=1.2)
    for dtype, part in points.groupby("dtype"):
        ax.scatter(part["intensity"], part["gflops"], color=_dtype_colour(str(dtype)), s=22, zorder=5)
        for x, y, n in zip(part["intensity"], part["gflops"], part["n"], strict=True):
            ax.annotate(f"n={int(n)}", (x, y), fontsize=6, xytext=(4, -9), textcoords="offset points", color="0.3")
    top = max([float(points["gflops"].max()), *_values(ceilings)])
    ax.set(xscale="log", yscale="log", xlim=(low, high), xlabel="arithmetic intensity (FLOP/byte)", ylabel="GFLOP/s")
    ax.set_ylim(top=top * 2.5)
    for axis, (start, stop) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        narrow = math.log10(stop / start) < 2.5  # a span of two decades gets 2 and 5 ticks as well
        axis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0) if narrow else (1.0,)))
        axis.set_major_formatter(ticker.FuncFormatter(_compact))
        axis.set_minor_locator(ticker.NullLocator())


def _compact(value: float, _pos: object = None) -> str:
    """A log-axis tick: 0.1, 10, 1k, 1M."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def _present(values: pd.Series) -> float | None:
    """The first present value of a series, or None."""
    present = pd.to_numeric(values, errors="coerce").dropna()
    return float(present.iloc[0]) if not present.empty else None


def _values(ceilings: pd.DataFrame) -> list[float]:
    """Every present compute ceiling."""
    out = []
    for column in ("measured GFLOP/s", "peak GFLOP/s"):
        out += [float(v) for v in pd.to_numeric(ceilings[column], errors="coerce").dropna()]
    return out


def per_watt(frame: pd.DataFrame) -> Plot:
    """Matmul throughput and work per joule vs size per GPU and dtype, side by side."""
    title = "Performance per watt"
    question = "How much matmul work does each GPU do per joule, beside how fast it goes?"
    if frame.empty or "work_per_joule" not in frame.columns:
        return Plot("per-watt", title, question, why_not="No case recorded its energy (no GPU with NVML).")
    rows = frame[(frame["workload"] == "matmul") & frame["work_per_joule"].notna()]
    if rows.empty:
        why = "No matmul case recorded its energy (they need a GPU that NVML reports power or energy for)."
        return Plot("per-watt", title, question, why_not=why)

    rows = rows.assign(
        series=device_labels(frame).loc[rows.index] + " " + rows["precision_label"].astype(str),
        n=rows["n"].astype(float),
    )
    fig, (left, right) = _new_figure(ncols=2, width=11.0)
    with sns.axes_style("whitegrid"), matplotlib.rc_context(RC):
        for ax, column, label in (
            (left, "throughput", "GFLOP/s"),
            (right, "work_per_joule", "GFLOP per joule above idle (= GFLOP/s per W)"),
        ):
            sns.lineplot(data=rows, x="n", y=column, hue="series", marker="o", ax=ax, errorbar=None)
            ax.set(xscale="log", yscale="log", xlabel="matrix size n", ylabel=label)
            _plain_log_axis(ax.xaxis, rows["n"])
            _plain_log_axis(ax.yaxis)
        left.set_title("throughput", fontsize=10)
        right.set_title("work per joule (net of idle power)", fontsize=10)
        left.get_legend().remove()
        _legend_outside(right)
        fig.suptitle(question, fontsize=11, fontweight="bold")
    return Plot("per-watt", title, question, image=svg_data_uri(fig))


def sustained_plots(cases: Sequence[st.SustainedCase], labels: Sequence[str], nvml: pd.DataFrame) -> list[Plot]:
    """One plot per sustained case: throughput, SM clock, power and temperature over time, first throttle marked."""
    plots = []
    for case, label in zip(cases, labels, strict=True):
        key = f"sustained-{len(plots)}"
        title = f"Sustained matmul on {label}"
        question = f"Does {label} hold its speed for {case.seconds:g} s, and when does it first throttle?"
        rate = st.throughput_series(case)
        gpu = st.nvml_series(nvml, case)
        panels = [("gflops", "GFLOP/s", rate)]
        panels += [(c, unit, gpu) for c, unit in _NVML_PANELS if not gpu.empty and gpu[c].notna().any()]
        fig = _figure(9.0, 1.6 * len(panels) + 0.9)
        with sns.axes_style("whitegrid"), matplotlib.rc_context(RC):
            axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False).ravel()
            for ax, (column, unit, data) in zip(axes, panels, strict=True):
                ax.plot(data["t_s"], data[column], lw=1.1, color="#0072b2")
                ax.set_ylabel(unit, fontsize=8)
                if case.first_throttle_s is not None:
                    ax.axvline(case.first_throttle_s, color="#d55e00", ls="--", lw=1)
            if case.first_throttle_s is not None:
                axes[0].text(
                    case.first_throttle_s,
                    0.95,
                    f" first throttle at {case.first_throttle_s:.1f} s",
                    transform=axes[0].get_xaxis_transform(),
                    fontsize=8,
                    va="top",
                    color="#d55e00",
                )
            axes[0].yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
            axes[-1].set_xlabel("seconds since the first timed round")
            note = "" if not gpu.empty else " (no NVML samples: throughput only)"
            fig.suptitle(question + note, fontsize=10, fontweight="bold")
        plots.append(Plot(key, title, question, image=svg_data_uri(fig)))
    return plots


_NVML_PANELS = (("sm_clock_mhz", "SM MHz"), ("power_w", "W"), ("temp_c", "°C"))
