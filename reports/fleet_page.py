"""The report's Fleet section: when runs of several hosts are given, which host is slower than its peers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from reports import fleet
from reports.fleet_facts import fleet_frame
from reports.page import Table
from reports.plots import RC, Plot, svg_data_uri

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from reports.fleet import FleetResult
    from reports.load import Run

__all__ = ["fleet_section", "plot_fleet"]

VERDICT_COLOURS = {"slow": "#d55e00", "fast": "#0072b2", "ok": "#555555", "not judged": "#bbbbbb"}


def plot_fleet(result: FleetResult) -> Figure | None:
    """Each judged unit's typical ratio to the fleet median with its interval, one row per unit, per model."""
    units = result.units.dropna(subset=["ratio"]) if not result.units.empty else result.units
    if units.empty:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import seaborn as sns
    from matplotlib import ticker
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    units = units.sort_values(["device_name", "ratio", "host", "device"], ascending=[True, False, True, True])
    several = units["device_name"].nunique() > 1
    labels = [
        f"{host} {device}" + (f" ({model})" if several else "")
        for host, device, model in zip(units["host"], units["device"], units["device_name"], strict=True)
    ]
    threshold = 1.0 - result.options.threshold
    with sns.axes_style("whitegrid"), matplotlib.rc_context(RC):
        height = 1.3 + 0.28 * len(units)
        fig = Figure(figsize=(8.5, height))
        # Margins in inches from the longest label, not constrained layout: that measures every tick label
        # several times, seconds for a fleet of 256 hosts.
        left = min(0.3 + 0.062 * max(len(label) for label in labels), 4.0)
        fig.subplots_adjust(left=left / 8.5, right=1 - 1.45 / 8.5, top=1 - 0.45 / height, bottom=0.6 / height)
        ax = fig.subplots()
        y = list(range(len(units)))
        units = units.assign(y=y)
        for verdict, part in units.groupby("verdict", sort=True):  # one artist per colour: 256 hosts draw fast
            ax.errorbar(
                part["ratio"],
                part["y"],
                xerr=[part["ratio"] - part["low"], part["high"] - part["ratio"]],
                fmt="o",
                ms=4,
                color=VERDICT_COLOURS[str(verdict)],
                elinewidth=1.5,
                capsize=3,
            )
        ax.axvline(1.0, color="0.3", lw=1)
        ax.axvline(threshold, color=VERDICT_COLOURS["slow"], lw=1, ls="--")
        # Each label one Text and the row lines one collection, not a y tick per unit: a tick is five artists,
        # copied and laid out one by one (about a second for the 512 units of 256 hosts)
        ax.set_yticks([])
        rows = ax.get_yaxis_transform()  # x in axes fractions, y in rows
        ax.hlines(y, 0, 1, transform=rows, color="0.92", lw=0.8, zorder=0)
        for row, label in zip(y, labels, strict=True):
            ax.text(-0.01, row, label, transform=rows, ha="right", va="center", fontsize=8, gid="unit-label")
        ax.set_ylim(len(units) - 0.5, -0.5)  # top to bottom, no empty rows at the ends
        ax.set_xlabel(f"throughput / fleet median, median over cases ({result.options.confidence:.0%} interval)")
        ax.set_title("Which host is slower than its peers?")
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:.2f}x"))
        seen = [v for v in VERDICT_COLOURS if v in set(units["verdict"])]
        line = Line2D([], [], color=VERDICT_COLOURS["slow"], ls="--", lw=1, label=f"slow below {threshold:.2f}x")
        ax.legend(
            handles=[*(Patch(color=VERDICT_COLOURS[v], label=v) for v in seen), line],
            fontsize=8,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            frameon=False,
        )
    return fig


def fleet_section(
    runs: Sequence[Run], judged: tuple[FleetResult, pd.DataFrame, int] | None = None
) -> dict[str, Any] | None:
    """The report's Fleet section (summary, plot, verdict table, rule), or None unless two hosts share a device
    model (hosts with nothing in common, a laptop and a GPU server, are not a fleet).

    `judged` (the verdicts, their fleet frame and how many older runs were left out), from `python -m reports
    fleet`, saves judging again and keeps the page's verdicts those of the command's options; the hosts are
    then those of its frame, and `runs` (those shown in detail) are not read.
    """
    if judged is None and len({run.host for run in runs}) < 2:
        return None

    if judged is None:
        frame, older_runs = fleet_frame(runs)
        older = len(older_runs)
    else:
        result, frame, older = judged
    if frame.empty or frame["host"].nunique() < 2 or frame.groupby("device_name")["host"].nunique().max() < 2:
        return None
    if judged is None:
        result = fleet.judge(frame)
    figure = plot_fleet(result)
    question = "Which host is slower than its peers with the same device model?"
    plot = Plot(
        "fleet",
        "Each host against the fleet median",
        question,
        image=svg_data_uri(figure) if figure is not None else None,
        why_not=None if figure is not None else "No device model has runs of three hosts: nothing to judge.",
    )
    order = {"slow": 0, "fast": 1, "ok": 2, "not judged": 3}
    units = result.units.sort_values(
        ["verdict", "device_name", "host", "device"], key=lambda c: c.map(order) if c.name == "verdict" else c
    )
    rows = [
        [
            row.verdict,
            str(row.device_name),
            str(row.host),
            str(row.device),
            "" if math.isnan(row.ratio) else f"{row.ratio:.2f}x",
            "" if math.isnan(row.low) else f"{row.low:.2f}-{row.high:.2f}",
            "" if math.isnan(row.outlier_z) else f"{row.outlier_z:+.1f}",
            str(row.cases),
            fleet.unit_notes(row),
        ]
        for row in units.itertuples(index=False)
    ]
    o = result.options
    note = (
        f"Each case's throughput over the fleet median of that case (the median of the hosts with the same device "
        f"model); per host and device, the median over its cases with a {o.confidence:.0%} bootstrap interval over "
        f"cases. Slow: at most {1 - o.threshold:.2f}x with the interval below {1 - o.floor:.2f}x. "
        f"Outlier z: a robust z-score (median/MAD) among the hosts of the model. A model needs "
        f"{o.min_peer_hosts + 1} hosts. `python -m reports fleet` gives the same table with exit codes."
    )
    if older:
        note += f" The newest run of each host is used ({older} older run(s) left out)."
    table = Table(
        "Hosts against the fleet median",
        ["verdict", "device model", "host", "device", "vs peers", "interval", "outlier z", "cases", "notes"],
        rows,
        note=note,
        numeric=[False, False, False, False, True, True, True, True, False],
    )
    return {"summary": fleet.summary_line(result), "plot": plot, "table": table}
