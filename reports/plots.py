"""seaborn plots of the tidy frame, each answering one question, rendered to SVG data URIs.

A plot whose data is absent becomes a :class:`Plot` with ``why_not`` (one sentence) and no image.
Figures are built with matplotlib's object API on the Agg backend: no pyplot state, no display.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import seaborn as sns
from matplotlib import ticker
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from reports import backends as bk
from reports import sections, specs
from reports import speedup as sp
from reports import training as tr
from reports.fmt import fmt_bytes
from reports.labels import device_labels, several_backends
from reports.multidevice import allreduce_frame, kind_text, scaling_frame
from reports.summary import BOOK_LARGE_N, BOOK_LARGE_RATIO, backend_table
from results_format import WorkloadSpec

#: float32 (non-tensor-core) peak GFLOP/s from vendor spec sheets, matched on the device model name.
KNOWN_FP32_PEAK_GFLOPS: dict[str, float] = {
    "H100 80GB HBM3": 66900.0,
    "H100 PCIe": 51200.0,
    "H200": 66900.0,
    "A100": 19500.0,
    "V100": 15700.0,
    "L4": 30300.0,
    "T4": 8100.0,
    "A10G": 31200.0,
    "RTX 4090": 82600.0,
    "RTX 3090": 35600.0,
}

NVML_COLUMNS = ["t_s", "case", "gpu_index", "mem_used_mib"]
MAX_TIMELINE_POINTS = 4000
#: titley fixed: a title's automatic height measures every tick label of the axes for a top axis ours never have
RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "devicebench",
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titley": 1.0,
}


@dataclass(frozen=True)
class Plot:
    """One plot of the report: the question it answers and its image, or why there is none."""

    key: str
    title: str
    question: str
    image: str | None = None  # a data: URI of an SVG
    why_not: str | None = None


def known_peak(device_name: str | None) -> float | None:
    """The spec-sheet float32 peak of a GPU model, if it is in KNOWN_FP32_PEAK_GFLOPS."""
    if not device_name:
        return None
    for model, peak in KNOWN_FP32_PEAK_GFLOPS.items():
        if model in device_name:
            return peak
    return None


def svg_data_uri(fig: Figure) -> str:
    """Render a figure to an SVG data URI."""
    buffer = io.BytesIO()
    with matplotlib.rc_context(RC):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def palette_for(labels: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """A stable colour per device label across all plots."""
    unique = sorted(set(labels))
    colours = sns.color_palette("colorblind", max(len(unique), 1))
    return {label: colours[i % len(colours)] for i, label in enumerate(unique)}


#: when several backends ran, each gets a colour family and each of its devices a shade of it.
BACKEND_FAMILIES = {"tensorflow": "Blues", "torch": "Oranges"}


def backend_palette(frame: pd.DataFrame) -> dict[str, tuple[float, float, float]]:
    """A colour per device label (frame column 'device_label'): a family per backend, a shade per device."""
    palette = {}
    for backend, part in frame.groupby("backend", sort=True):
        labels = sorted(set(part["device_label"]))
        shades = sns.color_palette(BACKEND_FAMILIES.get(str(backend), "Greys"), len(labels) + 2)[2:]
        palette.update(zip(labels, shades, strict=True))
    return palette


def _plain(value: float, _pos: object = None) -> str:
    """A tick label in plain numbers: 1,000 not 10^3."""
    return f"{value:,.0f}" if value >= 1 else f"{value:g}"


#: on a log axis labelled at the measured values, neighbouring labels at least this factor apart (no overlap)
TICK_SPACING = 1.45


def spaced_ticks(values: Sequence[float], spacing: float = TICK_SPACING) -> list[float]:
    """The measured values to label on a log axis: both ends, and those in between far enough from their neighbours.

    100 and 128, or 8192 and 10000, printed side by side overlap; the smaller-scale one is left unlabelled.
    """
    unique = sorted({float(v) for v in values})
    if len(unique) < 3:
        return unique
    kept = [unique[0]]
    for value in unique[1:-1]:
        if value / kept[-1] >= spacing and unique[-1] / value >= spacing:
            kept.append(value)
    return [*kept, unique[-1]]


def _plain_log_axis(axis, values: Sequence[float] | None = None) -> None:
    """Label a log axis with plain numbers, at the measured values when there are few of them."""
    unique = sorted({float(v) for v in values}) if values is not None else []
    if 1 < len(unique) <= 12:
        ticks = spaced_ticks(unique)
        axis.set_ticks(ticks, [_plain(v) for v in ticks])
    else:
        axis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(ticker.FuncFormatter(_plain))
    # no minor ticks rather than unlabelled ones: whitegrid draws no tick marks, yet matplotlib lays out each
    axis.set_minor_locator(ticker.NullLocator())


def _legend_outside(ax, title: str | None = None) -> None:
    """Move an axes' legend to the right of the plot, clear of the data."""
    if ax.get_legend() is not None:
        ax.legend(
            fontsize=8, title=title, title_fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False
        )


def _new_figure(ncols: int = 1, width: float = 8.5, height: float = 4.2) -> tuple[Figure, list]:
    """A figure with ``ncols`` axes in seaborn's whitegrid style."""
    with sns.axes_style("whitegrid"), matplotlib.rc_context(RC):
        fig = Figure(figsize=(width, height), layout="constrained")
        axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _with_labels(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows with 'device' replaced by its label (prefixed by the host when there are several).

    all_plots adds a frame-wide 'device_label' column so labels agree between plots.
    """
    labels = rows["device_label"] if "device_label" in rows.columns else device_labels(rows)
    return rows.assign(device=labels)


def _rows(frame: pd.DataFrame, workload: str) -> pd.DataFrame:
    """The measured rows of one workload."""
    if frame.empty:
        return frame
    return frame[(frame["workload"] == workload) & frame["throughput"].notna()]


def matmul_throughput(frame: pd.DataFrame, palette: dict) -> Plot:
    """How does matmul throughput grow with size on each device, and how close is it to the peak?"""
    plot = Plot("matmul", "Matmul throughput vs size", "How fast does each device multiply matrices, by size?")
    rows = _rows(frame, "matmul")
    if rows.empty or "n" not in rows.columns:
        return Plot(plot.key, plot.title, plot.question, why_not="No matmul cases ran, so there is nothing to plot.")
    rows = _with_labels(rows).astype({"n": float})
    fig, (ax,) = _new_figure()
    with sns.axes_style("whitegrid"), matplotlib.rc_context(RC):
        sns.lineplot(
            data=rows,
            x="n",
            y="throughput",
            hue="device",
            style="precision_label",  # float32 with TF32 on is its own line
            markers=True,
            dashes=False,
            palette=palette,
            ax=ax,
            errorbar=None,
        )
        for label, part in rows[rows["device_kind"] == "gpu"].groupby("device"):
            recorded = part.dropna(subset=["peak_gflops"]) if "peak_gflops" in part.columns else part.iloc[0:0]
            if not recorded.empty:  # the detected SKU's peak for each dtype and TF32 policy (reports.limits)
                for (dtype, basis), peaks in recorded.groupby(["dtype", "peak_basis"]):
                    name = str(basis).split(",")[0]
                    ax.axhline(float(peaks["peak_gflops"].iloc[0]), color=palette.get(label), ls=":", lw=1.2,
                               label=f"{label} {dtype}: {name}")  # fmt: skip
                continue
            peak = known_peak(part["device_name"].iloc[0])
            if peak:
                ax.axhline(peak, color=palette.get(label), ls=":", lw=1.2, label=f"{label} float32 peak (spec)")
        ax.set(xscale="log", yscale="log", xlabel="matrix size n (n x n)", ylabel="GFLOP/s")
        _plain_log_axis(ax.xaxis, rows["n"])
        _plain_log_axis(ax.yaxis)
        ax.set_title(plot.question)
        _legend_outside(ax)
    return Plot(plot.key, plot.title, plot.question, image=svg_data_uri(fig))


def matmul_speedup(frame: pd.DataFrame, palette: dict) -> Plot:
    """How many times faster is the GPU than the CPU at each matmul size, and where does it start to win?"""
    title, question = (
        "GPU/CPU speedup vs size",
        "From which matrix size does the GPU beat the CPU, and by how much?",
    )
    speed = sp.speedups(frame, "matmul")
    if speed.empty:
        why = (
            "No GPU and CPU matmul cases of the same run to compare (a CPU-only run has no speedup)."
            if not _rows(frame, "matmul").empty
            else "No matmul cases ran, so there is no speedup."
        )
        return Plot("speedup", title, question, why_not=why)
    several = speed["host"].nunique() > 1
    backends = several_backends(frame)

    def pair_label(host: str, backend: str, gpu: str, cpu: str) -> str:
        """'GPU:0 / CPU:0', with the host and the backend in front when there are several."""
        return (f"{host} " if several else "") + (f"{backend} " if backends else "") + f"{gpu} / {cpu}"

    speed = speed.assign(
        pair=[pair_label(*ids) for ids in zip(speed.host, speed.backend, speed.gpu, speed.cpu, strict=True)],
        size=speed["key"].astype(float),
    )
    fig, (ax,) = _new_figure()
    with sns.axes_style("whitegrid"), matplotlib.rc_context(RC):
        colours = dict(zip(sorted(set(speed["pair"])), sns.color_palette("dark", speed["pair"].nunique()), strict=True))
        sns.lineplot(data=speed, x="size", y="speedup", hue="pair", palette=colours, marker="o", ax=ax, errorbar=None)
        ax.axhline(1.0, color="0.3", lw=1, ls="--")
        ax.annotate("no difference (1x)", (speed["size"].max(), 1.0), fontsize=8, ha="right", va="bottom", color="0.3")
        for cross in sp.crossovers(speed).itertuples():
            if cross.crossover is not None and cross.crossover > cross.smallest:
                label = pair_label(cross.host, cross.backend, cross.gpu, cross.cpu)
                ax.axvline(cross.crossover, color=colours.get(label, "0.5"), ls=":", lw=1.2)
                ax.text(
                    cross.crossover,
                    0.97,
                    f" GPU wins from n={int(cross.crossover)}",
                    transform=ax.get_xaxis_transform(),
                    fontsize=8,
                    ha="left",
                    va="top",
                    color=colours.get(label, "0.5"),
                )
        if speed["size"].max() >= BOOK_LARGE_N:
            ax.scatter(
                [BOOK_LARGE_N],
                [BOOK_LARGE_RATIO],
                marker="*",
                s=120,
                color="black",
                zorder=5,
                label="book: 32x (notebook GPU)",
            )
        ax.set(xscale="log", yscale="log", xlabel="matrix size n (float32)", ylabel="GPU / CPU throughput")
        _plain_log_axis(ax.xaxis, speed["size"])
        ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}x"))
        ax.yaxis.set_minor_locator(ticker.NullLocator())
        ax.set_title(question)
        _legend_outside(ax)
    return Plot("speedup", title, question, image=svg_data_uri(fig))


def mnist(frame: pd.DataFrame, palette: dict) -> Plot:
    """Which device and training mode trains MNIST fastest, and what does its first call cost (tracing, compiling)?"""
    title = "MNIST training"
    question = "How fast does each device train MNIST per mode, and what does the first call cost?"
    rows = _rows(frame, "mnist")
    if rows.empty or "mode" not in rows.columns:
        return Plot("mnist", title, question, why_not="No MNIST cases ran, so there is nothing to plot.")
    rows = _with_labels(rows)
    fig, (left, right) = _new_figure(ncols=2, width=10.5)
    with sns.axes_style("whitegrid"), matplotlib.rc_context(RC):
        sns.barplot(data=rows, x="mode", y="throughput", hue="device", palette=palette, errorbar=None, ax=left)
        left.set(xlabel="mode", ylabel="samples/s (steady state)", title="samples/s per mode")
        left.yaxis.set_major_formatter(ticker.EngFormatter())
        left.legend(fontsize=8, title=None)
        sns.barplot(
            data=rows,
            x="mode",
            y="one_time_cost_s",
            hue="device",
            palette=palette,
            errorbar=None,
            ax=right,
            legend=False,
        )
        right.set(xlabel="mode", ylabel="seconds", title="one-time cost: first call minus a steady one")
        fig.suptitle(question, fontsize=11, fontweight="bold")
    return Plot("mnist", title, question, image=svg_data_uri(fig))


def tfdata(frame: pd.DataFrame, palette: dict) -> Plot:
    """Which tf.data variant delivers the most elements/s, and is training input-bound?"""
    title = "tf.data pipelines"
    question = "Which tf.data variant is fastest on each device, and is training waiting for its input?"
    rows = _rows(frame, "tfdata")
    if rows.empty or "variant" not in rows.columns:
        return Plot("tfdata", title, question, why_not="No tf.data cases ran, so there is nothing to plot.")
    rows = _with_labels(rows)
    has_verdict = "input_bound" in rows.columns and rows["input_bound"].notna().any()
    variants = rows[rows["input_bound"].isna()] if has_verdict else rows
    # a panel per question the run answers: a run of fed-step cases alone has no variants to rank
    panels = [name for name, shown in (("variants", not variants.empty), ("verdict", has_verdict)) if shown]
    fig, axes = _new_figure(ncols=len(panels), width=10.5 if len(panels) == 2 else 7.5)
    ax = dict(zip(panels, axes, strict=True))
    with sns.axes_style("whitegrid"), matplotlib.rc_context(RC):
        if "variants" in ax:
            sns.barplot(
                data=variants,
                y="variant",
                x="throughput",
                hue="device",
                palette=palette,
                errorbar=None,
                ax=ax["variants"],
                orient="h",
            )
            ax["variants"].set(xlabel="elements/s", ylabel="", title="elements/s per variant")
            ax["variants"].xaxis.set_major_formatter(ticker.EngFormatter())
            ax["variants"].legend(fontsize=8, title=None)
        if "verdict" in ax:
            verdict = rows[rows["input_bound"].notna()]
            steps = pd.concat(
                [
                    verdict.assign(step="fed by tf.data", ms=verdict["pipeline_step_s"].astype(float) * 1e3),
                    verdict.assign(step="pre-made batches", ms=verdict["premade_step_s"].astype(float) * 1e3),
                ]
            )
            sns.barplot(
                data=steps,
                x="device",
                y="ms",
                hue="step",
                errorbar=None,
                ax=ax["verdict"],
                palette=["#d55e00", "#999999"],
            )
            labels = [
                f"{row.device}\n{'INPUT-BOUND' if bool(row.input_bound) else 'not input-bound'}"
                for row in verdict.itertuples()
            ]
            ax["verdict"].set_xticks(range(len(labels)), labels)
            ax["verdict"].set(xlabel="", ylabel="ms per training step", title="training step: input-bound?")
            ax["verdict"].legend(fontsize=8, title=None)
        fig.suptitle(question, fontsize=11, fontweight="bold")
    return Plot("tfdata", title, question, image=svg_data_uri(fig))


def transfer(frame: pd.DataFrame, palette: dict) -> Plot:
    """How fast are host-to-device and device-to-host copies, by size?"""
    title, question = "Host-device copies", "How fast do copies between host memory and each device go, by size?"
    rows = _rows(frame, "transfer")
    if rows.empty or "bytes" not in rows.columns:
        return Plot(
            "transfer",
            title,
            question,
            why_not="No transfer cases ran (they need a GPU), so there is nothing to plot.",
        )
    rows = _with_labels(rows).astype({"bytes": float})
    rows["direction"] = rows["direction"].map(lambda value: specs.label("transfer", value))
    if "host_memory" in rows.columns:  # pageable and pinned copies are separate lines
        rows["direction"] += rows["host_memory"].map(lambda m: f", {m}" if isinstance(m, str) else "")
    fig, (ax,) = _new_figure()
    with sns.axes_style("whitegrid"), matplotlib.rc_context(RC):
        sns.lineplot(
            data=rows,
            x="bytes",
            y="throughput",
            hue="device",
            style="direction",
            markers=True,
            palette=palette,
            ax=ax,
            errorbar=None,
        )
        ax.set(xscale="log", xlabel="bytes per copy", ylabel="GB/s")
        if rows["throughput"].max() > 50 * rows["throughput"].min() > 0:
            ax.set_yscale("log")
            _plain_log_axis(ax.yaxis)
        ticks = sorted(set(rows["bytes"]))
        if len(ticks) <= 8:
            ax.set_xticks(ticks, [fmt_bytes(t) for t in ticks])
        ax.set_title(question)
        _legend_outside(ax)
    return Plot("transfer", title, question, image=svg_data_uri(fig))


def _set_labels(rows: pd.DataFrame) -> pd.Series:
    """'tensorflow, CPU logical devices' per row (host first when there are several): one line per device set."""

    labels = rows["backend"].astype(str) + ", " + rows["device_set_kind"].map(kind_text)
    return (rows["host"].astype(str) + " " + labels) if rows["host"].nunique() > 1 else labels


def allreduce_bandwidth(frame: pd.DataFrame) -> Plot:
    """How does all-reduce bus bandwidth grow with the message size, per backend and device set?"""

    title, question = "All-reduce bus bandwidth vs size", "What bus bandwidth does an all-reduce reach, by size?"
    rows = allreduce_frame(frame)
    if rows.empty:
        return Plot("allreduce", title, question, why_not="No all-reduce cases ran, so there is nothing to plot.")
    rows = rows.assign(
        set=_set_labels(rows), replicas=rows["replicas"].astype(str), bytes=rows["bytes"].astype(float)
    ).astype({"busbw_gbps": float})
    fig, (ax,) = _new_figure()
    with sns.axes_style("whitegrid"), matplotlib.rc_context(RC):
        sns.lineplot(data=rows, x="bytes", y="busbw_gbps", hue="set", style="replicas", markers=True, ax=ax)
        ax.set(xscale="log", yscale="log", xlabel="bytes per all-reduce", ylabel="busbw, GB/s (nccl-tests)")
        ticks = sorted(set(rows["bytes"]))
        if len(ticks) <= 10:
            ax.set_xticks(ticks, [fmt_bytes(t) for t in ticks])
        ax.set_title(question)
        _legend_outside(ax)
    return Plot("allreduce", title, question, image=svg_data_uri(fig))


def scaling_efficiency(frame: pd.DataFrame) -> Plot:
    """How close to linear does data-parallel training scale, per backend, device set and model?"""

    title, question = "Scaling efficiency", "How close to N times faster does training get on N replicas?"
    rows = scaling_frame(frame)
    if rows.empty or rows["efficiency"].isna().all():
        return Plot("scaling", title, question, why_not="No scaling cases with a 1-replica base ran: nothing to plot.")
    rows = rows.assign(set=_set_labels(rows) + ", " + rows["model"].astype(str)).dropna(subset=["efficiency"])
    fig, (ax,) = _new_figure()
    with sns.axes_style("whitegrid"), matplotlib.rc_context(RC):
        sns.lineplot(data=rows, x="replicas", y="efficiency", hue="set", marker="o", ax=ax)
        ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
        ax.yaxis.set_major_formatter(ticker.PercentFormatter(1.0))
        ax.set_xticks(sorted(set(rows["replicas"])))
        ax.set(xlabel="replicas (global batch fixed)", ylabel="efficiency: samples/s / (N x 1 replica's)")
        ax.set_title(question)
        _legend_outside(ax)
    return Plot("scaling", title, question, image=svg_data_uri(fig))


def read_nvml(runs_nvml: Sequence[tuple[str, str, Path | None]]) -> pd.DataFrame:
    """Concatenate the nvml.csv timelines of (host, run, path) triples; unreadable files are left out."""
    return read_nvml_files(runs_nvml)[0]


def read_nvml_files(
    runs_nvml: Sequence[tuple[str, str, Path | None]],
) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """The nvml.csv timelines of (host, run, path) triples, and (run, problem) for each file left out as corrupt."""
    parts, unreadable = [], []
    for host, run, path in runs_nvml:
        if path is None:
            continue
        try:
            part = pd.read_csv(path)
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            unreadable.append((run, f"{path} is corrupt ({why}): its GPU timeline is left out"))
            continue
        missing = [column for column in NVML_COLUMNS if column not in part.columns]
        if missing:
            why = f"no column {', '.join(missing)}"
            unreadable.append((run, f"{path} is corrupt ({why}): its GPU timeline is left out"))
            continue
        parts.append(part.assign(host=host, run=run))
    if not parts:
        return pd.DataFrame(columns=[*NVML_COLUMNS, "host", "run"]), unreadable
    nvml = pd.concat(parts, ignore_index=True)
    nvml["t_s"] = pd.to_numeric(nvml["t_s"], errors="coerce")
    nvml["mem_used_mib"] = pd.to_numeric(nvml["mem_used_mib"], errors="coerce")
    return nvml.dropna(subset=["t_s", "mem_used_mib"]), unreadable


def nvml_timeline(nvml: pd.DataFrame, frame: pd.DataFrame, palette: dict) -> Plot:
    """How much GPU memory was in use over the run, case by case?"""
    title, question = "GPU memory over time", "How much GPU memory did each case use over the run (NVML)?"
    if nvml.empty:
        return Plot(
            "nvml",
            title,
            question,
            why_not="No nvml.csv in these runs (no GPU, or NVML was not available), so there is no memory timeline.",
        )
    several = nvml["run"].nunique() > 1
    # nvml.csv names each case by its id; the measured cases say which workload it belongs to
    workloads = frame[["host", "run", "case_id", "workload"]].drop_duplicates() if not frame.empty else None
    data = nvml.assign(
        gpu=[(f"{h} " if several else "") + f"GPU {i}" for h, i in zip(nvml["host"], nvml["gpu_index"], strict=True)],
    )
    if workloads is not None:
        data = data.merge(workloads, left_on=["host", "run", "case"], right_on=["host", "run", "case_id"], how="left")
    else:
        data = data.assign(workload=None)
    data["workload"] = data["workload"].fillna("no number (skipped or failed)")
    if len(data) > MAX_TIMELINE_POINTS:  # minutes of sustained sampling: every k-th sample keeps the page small
        data = data.iloc[:: -(-len(data) // MAX_TIMELINE_POINTS)]
    cases = data["case"].nunique()
    hue = "case" if cases <= 10 else "workload"
    fig, (ax,) = _new_figure(width=9.0)
    with sns.axes_style("whitegrid"), matplotlib.rc_context(RC):
        for _, part in data.groupby(["run", "gpu"]):
            ax.plot(part["t_s"], part["mem_used_mib"], color="0.75", lw=1, zorder=1)
        sns.scatterplot(
            data=data,
            x="t_s",
            y="mem_used_mib",
            hue=hue,
            style="gpu" if several else None,
            s=18,
            linewidth=0,  # white edges wash dense samples out
            ax=ax,
            zorder=2,
        )
        ax.set(xlabel="seconds since the run started", ylabel="GPU memory used (MiB)")
        ax.set_title(question)
        ax.legend(fontsize=7, title=hue, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return Plot("nvml", title, question, image=svg_data_uri(fig))


def peak_memory(frame: pd.DataFrame, palette: dict) -> Plot:
    """How does peak GPU memory grow with matmul size, seen by NVML and by the framework's allocator?"""
    title = "Peak GPU memory vs matmul size"
    question = "How much GPU memory does a matmul of each size need?"  # the legend tells NVML from the allocator
    rows = _rows(frame, "matmul")
    if not rows.empty:
        rows = rows[rows["device_kind"] == "gpu"]
    if rows.empty:
        return Plot("memory", title, question, why_not="No GPU matmul cases ran, so there is no GPU memory to plot.")
    rows = _with_labels(rows)
    nvml = rows.assign(source="NVML peak (whole GPU)", mib=rows["nvml_peak_mib"].astype(float))
    tf = rows.assign(source="allocator peak (TF/torch)", mib=rows["allocator_peak_bytes"].astype(float) / 2**20)
    data = pd.concat([nvml, tf]).dropna(subset=["mib"]).astype({"n": float})
    if data.empty:
        return Plot(
            "memory",
            title,
            question,
            why_not="The GPU cases recorded no memory figures (neither NVML nor the allocator).",
        )
    data["series"] = data["device"] + " " + data["dtype"].astype(str)
    fig, (ax,) = _new_figure()
    with sns.axes_style("whitegrid"), matplotlib.rc_context(RC):
        sns.lineplot(data=data, x="n", y="mib", hue="series", style="source", markers=True, ax=ax, errorbar=None)
        ax.set(xscale="log", yscale="log", xlabel="matrix size n", ylabel="MiB")
        _plain_log_axis(ax.xaxis, data["n"])
        _plain_log_axis(ax.yaxis)
        ax.set_title(question)
        _legend_outside(ax)
    return Plot("memory", title, question, image=svg_data_uri(fig))


#: bar colours of the TensorFlow vs PyTorch plot, by who is faster: from each backend's BACKEND_FAMILIES.
WINNER_COLOURS = {bk.TF: "#2070b4", bk.TORCH: "#d84801", "same": "#969696"}


def versus(frame: pd.DataFrame) -> Plot:
    """How much faster is torch or TensorFlow on each case both ran on the same device?"""
    title = "TensorFlow vs PyTorch per case"
    question = "Which backend runs each case faster on the same device, and by how much?"
    table = backend_table(frame)
    rows = table[table["torch/TF"].notna()] if not table.empty else table
    if rows.empty:
        return Plot("versus", title, question, why_not="No case ran with both backends on the same device to compare.")
    several = rows["device"].nunique() > 1
    labels = [
        (f"{d} " if several else "") + f"{w} {c}"
        for d, w, c in zip(rows["device"], rows["workload"], rows["case"], strict=True)
    ]
    ratios = rows["torch/TF"].astype(float).tolist()
    winners = [bk.winner(ratio) for ratio in ratios]
    fig, (ax,) = _new_figure(height=1.2 + 0.32 * len(rows))
    with sns.axes_style("whitegrid"), matplotlib.rc_context(RC):
        y = list(range(len(rows)))
        ax.barh(y, [r - 1 for r in ratios], left=1, color=[WINNER_COLOURS[w] for w in winners], height=0.6)
        ax.axvline(1.0, color="0.3", lw=1)
        ax.set_xscale("log")
        low, high = min([*ratios, 1.0]), max([*ratios, 1.0])
        ax.set_xlim(low / 2.5, high * 2.5)  # room for the labels at the bar ends
        for yi, ratio, text in zip(y, ratios, rows["faster"], strict=True):
            ax.text(ratio, yi, f" {text} ", va="center", ha="left" if ratio >= 1 else "right", fontsize=8)
        ax.set_yticks(y, labels, fontsize=8)
        ax.invert_yaxis()
        ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}x"))
        ax.xaxis.set_minor_locator(ticker.NullLocator())
        ax.set(xlabel="torch / TensorFlow throughput (right of 1x: torch faster; left: TensorFlow faster)")
        handles = [Patch(color=WINNER_COLOURS[w], label=f"{w} faster") for w in (bk.TORCH, bk.TF) if w in winners]
        if handles:
            ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        ax.set_title(question)
    return Plot("versus", title, question, image=svg_data_uri(fig))


def batch_sweep(frame: pd.DataFrame, palette: dict) -> Plot:
    """How does training throughput grow with the batch size on each device, and where does it saturate?"""
    title = "Throughput vs batch size"
    question = "How does training throughput grow with the batch size, and where does each device saturate?"
    points = tr.sweep_points(frame)
    if points.empty:
        why = "No batch-size sweep ran (mnist_batch or resnet50_train), so there is nothing to plot."
        return Plot("batch-sweep", title, question, why_not=why)
    summary = tr.sweep_summary(frame)
    workloads = [w for w in tr.SWEEP_SERIES if w in set(points["workload"])]
    fig, axes = _new_figure(ncols=len(workloads), width=6.0 * len(workloads) + 2.5)
    with sns.axes_style("whitegrid"), matplotlib.rc_context(RC):
        for ax, workload in zip(axes, workloads, strict=True):
            rows = (
                points[points["workload"] == workload].drop(columns="device").rename(columns={"device_label": "device"})
            )
            sns.lineplot(
                data=rows,
                x="batch_size",
                y="throughput",
                hue="device",
                style="series",
                markers=True,
                dashes=False,
                palette=palette,
                ax=ax,
                errorbar=None,
            )
            for mark in summary[summary["workload"] == workload].itertuples():
                if mark.saturation_batch is None or mark.points < 2:
                    continue
                at = rows[(rows["device"] == mark.device_label) & (rows["series"] == mark.series)]
                y = float(at.loc[at["batch_size"] == mark.saturation_batch, "throughput"].median())
                colour = palette.get(mark.device_label, "0.3")
                ax.scatter([mark.saturation_batch], [y], s=160, facecolors="none", edgecolors=colour, lw=1.8, zorder=5)
                ax.annotate(
                    f"{tr.SATURATION:.0%} of best from b={int(mark.saturation_batch)}",
                    (mark.saturation_batch, y),
                    textcoords="offset points",
                    xytext=(0, -16),
                    ha="center",
                    fontsize=7,
                    color=colour,
                )
            unit = rows["unit"].dropna()
            ax.set(xscale="log", yscale="log", xlabel="batch size", ylabel=unit.iloc[0] if not unit.empty else "")
            batches = sorted(set(rows["batch_size"]))
            ticks = batches[:: -(-len(batches) // 8)]  # at most 8 labelled batch sizes
            ax.xaxis.set_ticks(ticks, [f"{int(b):,}" for b in ticks])
            ax.xaxis.set_minor_locator(ticker.NullLocator())
            _plain_log_axis(ax.yaxis)
            ax.set_title(specs.title(workload))
            _legend_outside(ax)
        fig.suptitle(f"{question} (circled: saturation)", fontsize=11, fontweight="bold")
    return Plot("batch-sweep", title, question, image=svg_data_uri(fig))


FRAME_PLOTS: list[Callable[[pd.DataFrame, dict], Plot]] = [
    matmul_throughput,
    matmul_speedup,
    mnist,
    batch_sweep,
    tfdata,
    transfer,
    peak_memory,
]


MULTIDEVICE_PLOTS: dict[str, Callable[[pd.DataFrame], Plot]] = {
    "scaling": scaling_efficiency,
    "allreduce": allreduce_bandwidth,
}


def multidevice_plots(frame: pd.DataFrame) -> list[Plot]:
    """The scaling and all-reduce plots, only where those workloads ran (other reports keep their plots as before)."""
    ran = set(frame["workload"]) if not frame.empty else set()
    return [make(frame) for name, make in MULTIDEVICE_PLOTS.items() if name in ran]


def section_plot(frame: pd.DataFrame, spec: WorkloadSpec, palette: dict) -> Plot | None:
    """A generic section's plot, as its workload's spec declares it: y against x, a line per device and series."""
    declared = spec.section.plot if spec.section else None
    if declared is None:
        return None
    title = spec.section.title if spec.section else spec.title
    fact = spec.fact(declared.y)
    y_name = "throughput" if declared.y == "throughput" else (fact.description if fact else declared.y)
    question = f"{title}: how does {y_name} change with {declared.x}?"
    key = f"section-{spec.name}"
    rows = frame[frame["workload"] == spec.name] if not frame.empty else frame
    if rows.empty or declared.x not in rows.columns or declared.y not in rows.columns:
        return Plot(key, title, question, why_not=f"No {spec.name} case recorded {declared.y} to plot.")
    rows = _with_labels(rows.dropna(subset=[declared.y]))
    rows = rows.assign(**{declared.y: pd.to_numeric(rows[declared.y], errors="coerce")})
    style = declared.series if declared.series and declared.series in rows.columns else None
    fig, (ax,) = _new_figure()
    with sns.axes_style("whitegrid"), matplotlib.rc_context(RC):
        sns.lineplot(data=rows, x=declared.x, y=declared.y, hue="device", style=style, markers=True,
                     dashes=False, palette=palette or None, ax=ax, errorbar=None)  # fmt: skip
        unit = (
            rows["throughput_unit"].dropna() if declared.y == "throughput" else pd.Series([fact.unit if fact else ""])
        )
        ylabel = f"{y_name} ({unit.iloc[0]})" if not unit.empty and unit.iloc[0] else y_name
        ax.set(xscale="log" if declared.logx else "linear", yscale="log" if declared.logy else "linear",
               xlabel=declared.x, ylabel=ylabel)  # fmt: skip
        ax.set_title(question)
        _legend_outside(ax)
    return Plot(key, title, question, image=svg_data_uri(fig))


def all_plots(frame: pd.DataFrame, nvml: pd.DataFrame) -> list[Plot]:
    """Every plot of the report, in page order."""
    if not frame.empty:
        frame = frame.assign(device_label=device_labels(frame))
    if frame.empty:
        palette = {}
    elif several_backends(frame):
        palette = backend_palette(frame)
    else:
        palette = palette_for(list(frame["device_label"]))
    plots = [make(frame, palette) for make in FRAME_PLOTS]
    plots.insert(len(plots) - 1, nvml_timeline(nvml, frame, palette))
    generic = [section_plot(frame, s.spec, palette) for s in sections.generic_sections(frame) if s.spec is not None]
    return plots + multidevice_plots(frame) + [plot for plot in generic if plot is not None]
