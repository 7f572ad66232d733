"""The report's "How close to the limit" section: roofline, % of peak, bandwidth and link tables, performance per
watt and sustained runs, as plots and Tables for the template.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from reports import limit_plots, limits
from reports import sustained as st
from reports.fmt import cell, fmt_percent
from reports.load import Run
from reports.page import Table, table_from

PEAK_NOTE = (
    "% of peak: the GFLOP/s over the dense peak of the dtype the case ran in, with the TF32 policy it recorded "
    "(float32 with TF32 on is judged against the TF32 tensor-core peak; 'judged against' says which). GPU peaks "
    "come from the detected SKU's datasheet (bench/hardware/gpu_specs.toml, sources there); a CPU's peak is an "
    "estimate from its ISA, cores and advertised clock, an upper bound that is never a measurement. "
    "% of best: of the same device's best in this run (per dtype). A throttled case ran with its clocks held "
    "down: it understates the hardware."
)
BANDWIDTH_NOTE = (
    "GB/s counts bytes read plus written per call, as STREAM does (copy 2 arrays, triad 3); a CPU's "
    "write-allocate traffic is not counted. GPUs are judged against the spec's memory bandwidth; on a CPU the "
    "best of these is the memory ceiling of the roofline."
)
LINK_NOTE = (
    "% of link: the copy's GB/s over the link's theoretical GB/s per direction after line encoding, from NVML's "
    "maximum PCIe generation and width (or the spec's NVLink-C2C); a `both` copy is judged against twice that. "
    "'link during the copy' is the fastest state NVML reported at the case's start or end. "
)
ROOFLINE_NOTE = (
    "Arithmetic intensity of an n x n matmul: 2n^3 FLOP over the 3 n^2 elements it must read and write at least "
    "once. Measured ceilings: the best matmul GFLOP/s of each dtype and the best memory-bandwidth GB/s on the "
    "device in this run; peak ceilings: the SKU's spec, or the CPU's estimate. Ridge: the intensity (FLOP/byte) "
    "where the compute and memory roofs meet; a kernel left of it is memory-bound."
)
WATT_NOTE = (
    "Energy from NVML's energy counter over the timed rounds (mean power x time where a GPU has no counter), net "
    "of the GPU's idle power measured before the first case; work/J is GFLOP/J for matmul (= GFLOP/s per W), "
    "GB/J for copies. Gross includes the idle power."
)


def _labels(cases: Sequence[st.SustainedCase]) -> list[str]:
    """Device labels for sustained cases: host and backend in front where several ran."""
    hosts = len({c.host for c in cases}) > 1
    backends = len({c.backend for c in cases}) > 1
    return [(f"{c.host} " if hosts else "") + (f"{c.backend} " if backends else "") + c.device for c in cases]


def limits_section(runs: Sequence[Run], frame: pd.DataFrame, nvml: pd.DataFrame) -> dict[str, Any] | None:
    """The section's plots, tables and notes; None when no case bears on a limit."""
    peak = limits.peak_table(frame)
    bandwidth = limits.bandwidth_table(frame)
    link = limits.link_table(frame)
    energy = limits.energy_table(frame)
    cases = st.sustained_cases(runs)
    tf_copies = not frame.empty and ((frame["workload"] == "transfer") & (frame["backend"] == "tensorflow")).any()
    if peak.empty and bandwidth.empty and link.empty and energy.empty and not cases and not tf_copies:
        return None
    ceilings = limits.roofline_ceilings(frame)
    percent = {c: fmt_percent for c in ("% of peak", "% of best", "% of spec", "% of link")}
    tables: list[Table] = []
    if not peak.empty:
        tables.append(table_from(peak, "Compute: % of peak per case", note=PEAK_NOTE, formatters=percent))
    if not bandwidth.empty:
        tables.append(table_from(bandwidth, "Memory bandwidth: % of spec", note=BANDWIDTH_NOTE, formatters=percent))
    notes = [limits.TF_HOST_MEMORY] if tf_copies else []
    if not link.empty:
        tables.append(table_from(link, "Host-device copies: % of the link", note=LINK_NOTE, formatters=percent))
    watt = None
    if not energy.empty:
        watt = {
            "plot": limit_plots.per_watt(frame),
            "table": table_from(energy, "Energy per case", note=WATT_NOTE),
        }
    sustained = None
    if cases:
        labels = _labels(cases)
        summary = st.summary_table(cases, labels)
        sustained = {
            "plots": limit_plots.sustained_plots(cases, labels, nvml),
            "table": table_from(
                summary,
                "Sustained runs",
                note="Start and end: the median GFLOP/s of the first and the last 10 % of the rounds. Each round's "
                "result was summed in float64 and compared with round 0's (bench/workloads/sustained.py says why "
                "the tolerance is what it is); a mismatch would have failed the case at that round.",
                formatters={"change": _change, "timed s": lambda v: cell(v)},
            ),
        }
    return {
        "roofline": limit_plots.roofline(frame, ceilings),
        "ceilings": table_from(
            ceilings.drop(columns=["device_kind"]).rename(columns={"device_label": "device"}),
            "Roofline ceilings",
            note=ROOFLINE_NOTE,
        )
        if not ceilings.empty
        else None,
        "tables": tables,
        "watt": watt,
        "sustained": sustained,
        "notes": notes,
    }


def _change(value: Any) -> str:
    """A relative change as +3 % / -12 %."""
    if value is None or pd.isna(value):
        return ""
    return f"{float(value):+.0%}".replace("%", " %")
