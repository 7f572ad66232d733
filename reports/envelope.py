"""Is the GPU giving what it should? Each headline figure against the best published for its SKU (pure).

A run records its detected SKU's reference envelope (results_format.ReferenceEnvelope, from
bench/hardware/reference.toml) on the device record. `case_reference` says which published figure a case is a
measurement of (bf16 matmul, HBM triad, pinned host-to-device copy, ...) and carries that figure into the tidy
frame; `envelope_lines` takes each device's best measurement of each figure and gives it a verdict:

    in line (-2 % of the best published)            within IN_LINE below to ABOVE above
    low by 11 % (likely: ...)                       further below: the likely causes from the table
    above the best published by 6 % (check: ...)   further above: what to check

Runs recorded before envelopes were have none; `with_reference` adds a table read from a file given by path
(`reports build --reference bench/hardware/reference.toml`) to their GPUs by the SKU they recorded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from reports.labels import device_labels
from results_format import FIGURES, Benchmark, DeviceRecord, ReferenceTable, ReferenceTableError, read_reference_table

if TYPE_CHECKING:
    from reports.load import Run

#: a figure this far below the best published is still in line (run-to-run spread, clocks, driver)
IN_LINE = 0.05
#: a figure this far above the best published is still in line; further up something is miscounted or lucky
ABOVE = 0.05

#: each figure as a sentence names it
FIGURE_NAMES = {
    "matmul.fp8": "FP8 matmul",
    "matmul.bf16": "bf16 matmul",
    "matmul.fp16": "fp16 matmul",
    "matmul.tf32": "TF32 matmul",
    "matmul.fp32": "fp32 matmul (TF32 off)",
    "membw.triad": "HBM triad",
    "membw.copy": "HBM copy",
    "transfer.h2d_pinned": "pinned host-to-device copy",
    "transfer.d2h_pinned": "pinned device-to-host copy",
    "allreduce.busbw": "all-reduce bus bandwidth",
    "resnet50_train.amp": "ResNet-50 AMP training",
}
#: the tidy columns case_reference adds
REFERENCE_COLUMNS = ["ref_figure", "ref_value", "ref_unit", "ref_basis", "ref_if_low", "ref_if_high"]
NO_TABLE = "no published reference figures were recorded with this run"

#: the workloads whose cases measure a published figure (the peaks search is a matmul too)
_MATMUL_WORKLOADS = ("matmul", "peaks")
_PRECISION_FIGURES = {"bfloat16": "matmul.bf16", "float16": "matmul.fp16"}


def figure_of(workload: str, params: dict[str, Any], dtype: str, tf32: bool | None) -> str | None:
    """Which published figure a GPU case measures ('matmul.bf16', 'membw.triad', ...), or None."""
    if workload in _MATMUL_WORKLOADS:
        if dtype.startswith("float8"):
            return "matmul.fp8"
        if dtype == "float32":
            return "matmul.tf32" if tf32 else "matmul.fp32"
        return _PRECISION_FIGURES.get(dtype)
    if workload == "membw" and params.get("kernel") in ("copy", "triad"):
        return f"membw.{params['kernel']}"
    if workload == "transfer" and params.get("host_memory") == "pinned" and params.get("direction") in ("h2d", "d2h"):
        return f"transfer.{params['direction']}_pinned"
    return None


def case_reference(bench: Benchmark, device: DeviceRecord | None) -> dict[str, Any]:
    """The published figure a case is judged against, as tidy columns (all None for CPU cases and the rest)."""
    info = bench.extra_info
    facts: dict[str, Any] = dict.fromkeys(REFERENCE_COLUMNS)
    if info.device_kind != "gpu":
        return facts
    figure = figure_of(info.workload, dict(info.params), info.precision.dtype, info.precision.tf32)
    if figure is None:
        return facts
    facts["ref_figure"] = figure
    envelope = getattr(device, "reference", None) if device is not None else None
    if envelope is None:
        facts["ref_basis"] = _missing(device)
        return facts
    published = envelope.get(figure)
    if published is None:
        facts["ref_basis"] = f"no published {FIGURE_NAMES[figure]} figure for {envelope.sku} in the table"
        return facts
    facts.update(
        {
            "ref_value": published.suite_value,
            "ref_unit": published.unit,
            "ref_basis": f"{published.method} ({published.source})",
            "ref_if_low": published.if_low,
            "ref_if_high": published.if_high,
        }
    )
    return facts


def _missing(device: DeviceRecord | None) -> str:
    """Why a GPU has no envelope: no SKU matched, none listed for its SKU, or a run recorded before envelopes."""
    if device is None or device.sku is None:
        return "the GPU was not matched by NVML: no published reference figures"
    if not device.sku.known:
        return f"{device.sku.reason}: no published reference figures"
    if "reference" in device.model_fields_set:
        return f"devicebench lists no published reference figures for {device.sku.id}"
    return f"{NO_TABLE} (build the report with --reference bench/hardware/reference.toml to judge it)"


def verdict(measured: float, published: float, if_low: str = "", if_high: str = "") -> str:
    """'in line (-2 % of the best published)', 'low by 11 % (likely: ...)' or 'above the best published ...'."""
    kind, short = judge(measured, published)
    if kind == "low" and if_low:
        return f"{short} (likely: {if_low})"
    if kind == "above" and if_high:
        return f"{short} (check: {if_high})"
    return short


def judge(measured: float, published: float) -> tuple[str, str]:
    """('in line' | 'low' | 'above', the short verdict) of a measured figure against the best published one."""
    change = round(measured / published - 1.0, 9)  # 95 of 100 is -5 %, not a float's hair below it
    if change > ABOVE:
        return "above", f"above the best published by {_percent(change)}"
    if change >= -IN_LINE:
        sign = "+" if change >= 0.005 else ("\u2212" if change <= -0.005 else "\u00b1")
        return "in line", f"in line ({sign}{_percent(abs(change))} of the best published)"
    return "low", f"low by {_percent(-change)}"


def _percent(share: float) -> str:
    """0.107 -> '11 %', 0.004 -> '0 %'."""
    return f"{abs(share) * 100:.0f} %"


def _number(value: float) -> str:
    """A figure in its table unit: 708, 4,300, 54.8."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _where(row: pd.Series) -> str:
    """The case that gave a device's best figure: 'n=4096', '1 GiB arrays', '128 MiB', '8192x8192x4096'."""
    if isinstance(row.get("best_shape"), str):
        return f"best searched shape {row['best_shape']}"
    if row["workload"] == "matmul" and pd.notna(row.get("n")):
        return f"n={int(row['n'])}"
    if pd.notna(row.get("bytes")):
        size = float(row["bytes"])
        unit = "GiB" if size >= 2**30 else "MiB"
        return f"{size / (2**30 if unit == 'GiB' else 2**20):g} {unit}"
    return str(row.get("case_id", ""))


def envelope_lines(frame: pd.DataFrame) -> list[str]:
    """Per GPU: how many of its headline figures are in line with the best published, then each with its verdict."""
    if frame.empty or "ref_figure" not in frame.columns:
        return []

    rows = _judged_columns(frame[frame["ref_figure"].notna() & frame["throughput"].notna()])
    if rows.empty:
        return []
    labels = device_labels(frame).loc[rows.index]
    lines: list[str] = []
    for label in sorted(set(labels)):
        part = rows[labels == label]
        name = part["device_name"].iloc[0]
        judged = part[part["ref_value"].notna()]
        if judged.empty:
            lines.append(f"Is {label} ({name}) giving what it should? No verdict: {part['ref_basis'].iloc[0]}.")
            continue
        verdicts = []
        for figure in FIGURES:
            mine = judged[judged["ref_figure"] == figure]
            if mine.empty:
                continue
            best = mine.loc[mine["throughput"].astype(float).idxmax()]
            verdicts.append(_figure_line(label, figure, best))
        counts = pd.Series([v[0] for v in verdicts]).value_counts()
        summary = ", ".join(f"{counts[k]} {k}" for k in ("in line", "low", "above") if k in counts)
        lines.append(
            f"Is {label} ({name}) giving what it should? Against the best published figures for its SKU: "
            f"{summary} (of {len(verdicts)} figures measured)."
        )
        lines += [text for _, text in verdicts]
    return lines


#: the columns a verdict reads (_figure_line, _where, verdict_table)
_VERDICT_COLUMNS = (
    "workload", "device_name", "throughput", "case_id", "n", "bytes", "best_shape",
    "ref_figure", "ref_value", "ref_unit", "ref_basis", "ref_if_low", "ref_if_high",
)  # fmt: skip


def _judged_columns(rows: pd.DataFrame) -> pd.DataFrame:
    """Only the columns a verdict reads: each filter of the ~200-column tidy frame per device and figure was slow."""
    return rows[[c for c in _VERDICT_COLUMNS if c in rows.columns]]


def _figure_line(label: str, figure: str, best: pd.Series) -> tuple[str, str]:
    """(kind, sentence) for a device's best measurement of one published figure."""
    scale = 1000.0 if best["ref_unit"] == "TFLOP/s" else 1.0
    measured, published = float(best["throughput"]), float(best["ref_value"])
    text = verdict(measured, published, str(best.get("ref_if_low") or ""), str(best.get("ref_if_high") or ""))
    kind = judge(measured, published)[0]
    sentence = (
        f"{label} {FIGURE_NAMES[figure]}: {_number(measured / scale)} {best['ref_unit']} ({_where(best)}) against "
        f"{_number(published / scale)} published: {text}. Published: {best['ref_basis']}."
    )
    return kind, sentence


def verdict_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Each GPU's best figure of each published kind beside the best published, with the verdict."""
    columns = ["device", "figure", "measured", "published", "unit", "at", "verdict", "likely cause or check"]
    if frame.empty or "ref_value" not in frame.columns:
        return pd.DataFrame(columns=columns)

    rows = _judged_columns(frame[frame["ref_value"].notna() & frame["throughput"].notna()])
    if rows.empty:
        return pd.DataFrame(columns=columns)
    labels = device_labels(frame).loc[rows.index]
    out = []
    for (label, figure), part in rows.groupby([labels, "ref_figure"], sort=True):
        best = part.loc[part["throughput"].astype(float).idxmax()]
        scale = 1000.0 if best["ref_unit"] == "TFLOP/s" else 1.0
        kind, short = judge(float(best["throughput"]), float(best["ref_value"]))
        out.append(
            {
                "device": label,
                "figure": FIGURE_NAMES.get(str(figure), figure),
                "measured": float(best["throughput"]) / scale,
                "published": float(best["ref_value"]) / scale,
                "unit": best["ref_unit"],
                "at": _where(best),
                "verdict": short.replace(" of the best published)", ")"),  # the cause or check in its own column
                "likely cause or check": {"low": best.get("ref_if_low"), "above": best.get("ref_if_high")}.get(kind),
            }
        )
    order = {FIGURE_NAMES[f]: i for i, f in enumerate(FIGURES)}
    table = pd.DataFrame(out, columns=columns)
    return table.sort_values(["device", "figure"], key=lambda s: s.map(order) if s.name == "figure" else s)


# --- runs recorded before envelopes were -------------------------------------------------------------------------


def read_table(path: str | Path) -> ReferenceTable:
    """A reference table file (ReferenceTableError naming the file in one line when it cannot be read)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ReferenceTableError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return read_reference_table(text)
    except ReferenceTableError as exc:
        raise ReferenceTableError(f"{path}: {exc}") from None


def with_reference(runs: Sequence[Run], table: ReferenceTable, origin: str) -> list[Run]:
    """The runs with `table`'s envelope on every matched GPU that recorded none (noted as added from `origin`)."""
    return [_with_reference(run, table, origin) for run in runs]


def _with_reference(run: Run, table: ReferenceTable, origin: str) -> Run:
    facts = run.record.machine_info.devicebench
    devices = []
    for device in facts.devices:
        envelope = table.for_sku(device.sku.id) if device.sku is not None and device.reference is None else None
        if envelope is not None:
            note = f"{envelope.note} (added at report time from {origin})".strip()
            device = device.model_copy(update={"reference": envelope.model_copy(update={"note": note})})
        devices.append(device)
    machine = run.record.machine_info.model_copy(update={"devicebench": facts.model_copy(update={"devices": devices})})
    return dataclasses.replace(run, record=run.record.model_copy(update={"machine_info": machine}))


def add_reference(runs: Sequence[Run], path: Path) -> list[Run]:
    """`with_reference` from a table file; a bad file is a ResultsFileError (one `error: FILE: ...` line, exit 2)."""
    from results_format import ResultsFileError

    try:
        table = read_table(path)
    except ReferenceTableError as exc:
        raise ResultsFileError(path, str(exc).removeprefix(f"{path}: ")) from None
    return with_reference(runs, table, str(path))


#: the note under the verdict table on the report's first screen
VERDICT_NOTE = (
    f"Each GPU's best figure of each kind in these runs against the best figure published for its SKU "
    f"(bench/hardware/reference.toml, recorded with the run): in line from {IN_LINE:.0%} below to {ABOVE:.0%} above; "
    "further below, the likely causes; further above, what to check. The findings below say where each published "
    "figure comes from and how it was measured."
)
