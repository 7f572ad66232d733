"""The matmul peak search's findings (--profile peaks): the best shape per device and dtype, next to square n and
the spec (pure, on the tidy frame)."""

from __future__ import annotations

import pandas as pd

from reports.fmt import fmt_number
from reports.labels import device_labels


def peaks_lines(frame: pd.DataFrame) -> list[str]:
    """Per device and precision: the best searched shape's GFLOP/s, the best square n of the search, % of the spec."""
    if frame.empty or "best_shape" not in frame.columns:
        return []

    rows = frame[(frame["workload"] == "peaks") & frame["throughput"].notna()]
    if rows.empty:
        return []
    labels = device_labels(frame).loc[rows.index]
    lines = []
    for (label, precision), part in rows.groupby([labels, "precision_label"], sort=True):
        best = part.loc[part["throughput"].astype(float).idxmax()]
        gflops = float(best["throughput"])
        text = (
            f"Peak search on {label}, {precision}: best {_flops(gflops)} at M x N x K = "
            f"{best['best_shape']} ({int(best['shapes_tried'])} shapes in {float(best['search_s']):.3g} s)"
        )
        square, searched = best.get("square_gflops"), best.get("search_best_gflops")
        if pd.notna(square) and float(square) > 0 and pd.notna(searched):
            change = float(searched) / float(square) - 1.0  # both timed alike, in the search
            if change < 0.005:
                text += f"; no shape beat the best square one, n={int(best['square_n'])}, in the search"
            else:
                text += (
                    f"; in the search it ran {change * 100:.0f} % above the best square shape, "
                    f"n={int(best['square_n'])} ({_flops(float(searched))} against {_flops(float(square))})"
                )
        if pd.notna(best.get("pct_of_peak")):
            text += f"; {float(best['pct_of_peak']):.0f} % of the {best['peak_basis']}"
        lines.append(text + ".")
    return lines


def _flops(gflops: float) -> str:
    """'764 TFLOP/s' from 10 TFLOP/s on, else '1,547 GFLOP/s'."""

    return f"{fmt_number(gflops / 1000)} TFLOP/s" if gflops >= 10_000 else f"{fmt_number(gflops)} GFLOP/s"
