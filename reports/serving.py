"""Inference latency percentiles, checkpoint bandwidth and eager dispatch overhead: tables and findings (pure).

Latency is shown as percentiles of single requests (p50/p90/p99), never as a mean: a server's users wait for
its tail. Everything here reads the tidy frame (reports.load.tidy); nothing imports TensorFlow or torch.
"""

from __future__ import annotations

import pandas as pd

from reports import specs
from reports.fmt import fmt_bytes, fmt_latency, fmt_number, fmt_ratio
from reports.labels import device_labels, several_backends

LATENCY_COLUMNS = ("latency_p50_s", "latency_p90_s", "latency_p99_s")
EAGER = "eager"


def _label(workload: str, value: object) -> str:
    """A parameter value's display name from the results format ('xla' -> 'XLA')."""
    spec = specs.spec_of(workload)
    return spec.label(value) if spec else str(value)


def model_text(row: pd.Series) -> str:
    """'book model', 'ResNet-50 (32 px)'."""
    name = _label("inference", row["model"])
    return name if row["model"] == "book" else f"{name} ({int(row['image_size'])} px)"


def _rows(frame: pd.DataFrame, workload: str, needed: tuple[str, ...] = ()) -> pd.DataFrame:
    """The frame's rows of one workload that carry the needed columns, with a `device_label`."""
    if frame.empty or any(c not in frame.columns for c in needed):
        return pd.DataFrame(columns=[*frame.columns, "device_label"])
    rows = frame[frame["workload"] == workload]
    for column in needed:
        rows = rows[rows[column].notna()]
    return rows.assign(device_label=device_labels(frame).loc[rows.index])


def _column(rows: pd.DataFrame, name: str) -> pd.Series:
    """A column of the rows, or missing values where no case recorded it."""
    return rows[name] if name in rows.columns else pd.Series(None, index=rows.index, dtype=object)


def latency_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Batch-1 inference: p50/p90/p99 per device, model and mode (ms), the tail ratio and the one-time cost."""
    rows = _rows(frame, "inference", ("batch_size", *LATENCY_COLUMNS))
    rows = rows[rows["batch_size"].astype(int) == 1] if not rows.empty else rows
    if rows.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            "device": rows["device_label"],
            "model": [model_text(r) for _, r in rows.iterrows()],
            "mode": [_label("inference", m) for m in rows["mode"]],
            "requests": rows["requests"].astype("Int64"),
            "p50 (ms)": rows["latency_p50_s"].astype(float) * 1e3,
            "p90 (ms)": rows["latency_p90_s"].astype(float) * 1e3,
            "p99 (ms)": rows["latency_p99_s"].astype(float) * 1e3,
            "p99/p50": rows["latency_p99_s"].astype(float) / rows["latency_p50_s"].astype(float),
            "first call's extra cost (s)": rows["one_time_cost_s"].astype(float),
        }
    ).reset_index(drop=True)


def checkpoint_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Checkpoints per device, format, direction and model: weights MB/s, file size and file MB/s."""
    rows = _rows(frame, "checkpoint", ("throughput",))
    if rows.empty:
        return pd.DataFrame()
    evicted = [
        str(cache).startswith("evicted") if direction == "restore" and pd.notna(cache) else None
        for cache, direction in zip(_column(rows, "page_cache"), rows["direction"], strict=True)
    ]
    return pd.DataFrame(
        {
            "device": rows["device_label"],
            "format": [_label("checkpoint", f) for f in rows["format"]],
            "direction": rows["direction"],
            "model": [_label("checkpoint", m) for m in rows["model"]],
            "MB/s (weights)": rows["throughput"].astype(float),
            "file size": [fmt_bytes(float(b)) if pd.notna(b) else "" for b in _column(rows, "file_bytes")],
            "MB/s (file)": _column(rows, "file_mb_per_s").astype(float),
            "read from disk": evicted,
        }
    ).reset_index(drop=True)


def dispatch_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The polynomial-fit rows with `eager_ratio`: eager µs per op over this mode's (same run, backend, device)."""
    rows = _rows(frame, "dispatch", ("us_per_op",))
    if rows.empty:
        return rows.assign(eager_ratio=pd.Series(dtype=float))
    ids = ["host", "run", "backend", "device"]
    eager = rows[rows["mode"] == EAGER][[*ids, "us_per_op"]].rename(columns={"us_per_op": "eager_us_per_op"})
    merged = rows.reset_index().merge(eager, on=ids, how="left").set_index("index")
    ratio = merged["eager_us_per_op"].astype(float) / merged["us_per_op"].astype(float)
    return rows.assign(eager_ratio=ratio.loc[rows.index])


def dispatch_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The polynomial fit per device, backend and mode: µs per step and per op, and how much cheaper than eager."""
    rows = dispatch_rows(frame)
    if rows.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            "device": rows["device_label"],
            "backend": rows["backend"],
            "mode": [_label("dispatch", m) for m in rows["mode"]],
            "µs per step": rows["us_per_step"].astype(float),
            "ops per step": rows["ops_per_step"].astype("Int64"),
            "µs per op": rows["us_per_op"].astype(float),
            "eager/this (per op)": rows["eager_ratio"].astype(float),
        }
    ).reset_index(drop=True)


def inference_lines(frame: pd.DataFrame) -> list[str]:
    """Per device and model: batch-1 p50/p99 per mode, the fastest mode, and the best large-batch throughput."""
    rows = _rows(frame, "inference", ("batch_size",))
    if rows.empty:  # other workloads' batch_size column alone: no model or image_size column to group by
        return []
    # only the columns read below: each filter of the whole tidy frame's ~200 columns per model was most of the time
    read = ("host", "run", "device_label", "model", "image_size", "batch_size", "mode", "throughput", *LATENCY_COLUMNS)
    rows = rows[[c for c in dict.fromkeys(read) if c in rows.columns]]
    lines = []
    for (_, _, label, _, _), part in rows.groupby(["host", "run", "device_label", "model", "image_size"], sort=True):
        name = model_text(part.iloc[0])
        single = part[(part["batch_size"].astype(int) == 1) & part["latency_p50_s"].notna()]
        parts = []
        if not single.empty:
            single = single.sort_values("latency_p50_s")
            modes = "; ".join(
                f"{_label('inference', r['mode'])} p50 {fmt_latency(float(r['latency_p50_s']))}, "
                f"p99 {fmt_latency(float(r['latency_p99_s']))}"
                for _, r in single.iterrows()
            )
            parts.append(f"batch 1: {modes}")
            eager = single[single["mode"] == EAGER]
            best = single.iloc[0]
            if not eager.empty and best["mode"] != EAGER:
                ratio = float(eager["latency_p50_s"].iloc[0]) / float(best["latency_p50_s"])
                parts.append(f"{_label('inference', best['mode'])} cuts the eager p50 {fmt_ratio(ratio)}")
        batched = part[(part["batch_size"].astype(int) > 1) & part["throughput"].notna()]
        if not batched.empty:
            top = batched.loc[batched["throughput"].astype(float).idxmax()]
            parts.append(
                f"at batch {int(top['batch_size'])} up to {fmt_number(float(top['throughput']))} samples/s "
                f"({_label('inference', top['mode'])})"
            )
        if parts:
            lines.append(f"Inference, {name} on {label}: {'; '.join(parts)}.")
    return lines


def checkpoint_lines(frame: pd.DataFrame) -> list[str]:
    """Per device: save and restore MB/s of each format for the largest model that ran, with its file size."""
    rows = _rows(frame, "checkpoint", ("throughput",))
    if rows.empty:  # no such case in these runs (its columns may be missing too)
        return []
    lines = []
    for (_, _, label), part in rows.groupby(["host", "run", "device_label"], sort=True):
        largest = part.loc[part["work_per_call"].astype(float).idxmax(), "model"]
        part = part[part["model"] == largest]
        texts = []
        for fmt, one in part.groupby("format", sort=True):
            speeds = {r["direction"]: fmt_number(float(r["throughput"])) for _, r in one.iterrows()}
            shown = " / ".join(f"{d} {speeds[d]}" for d in ("save", "restore") if d in speeds)
            size = _column(one, "file_bytes").dropna()
            file_text = f" ({fmt_bytes(float(size.iloc[0]))} file)" if not size.empty else ""
            texts.append(f"{_label('checkpoint', fmt)} {shown} MB/s{file_text}")
        where = _column(part, "directory").dropna()
        disk = f", to the disk of {where.iloc[0]}" if not where.empty else ""
        lines.append(f"Checkpoints of the {_label('checkpoint', largest)} on {label}{disk}: {'; '.join(texts)}.")
    return lines


def dispatch_lines(frame: pd.DataFrame) -> list[str]:
    """Per device and backend: eager µs per op against the same ops inside tf.function, with the ratio."""
    rows = dispatch_rows(frame)
    if rows.empty:  # no such case in these runs (its columns may be missing too)
        return []
    one_backend = not several_backends(frame)
    lines = []
    for (_, _, label, backend), part in rows.groupby(["host", "run", "device_label", "backend"], sort=True):
        eager = part[part["mode"] == EAGER]
        if eager.empty:
            continue
        first = eager.iloc[0]
        who = f" ({backend})" if one_backend else ""
        text = (
            f"Eager dispatch{who} on {label}: {fmt_number(float(first['us_per_op']))} µs per op "
            f"({int(first['ops_per_step'])} ops, {fmt_latency(float(first['us_per_step']) * 1e-6)} per Adam step)"
        )
        others = part[part["mode"] != EAGER]
        if not others.empty:
            text += " against " + " and ".join(
                f"{fmt_number(float(r['us_per_op']))} µs with {_label('dispatch', r['mode'])} "
                f"({fmt_ratio(float(r['eager_ratio']))} less)"
                for _, r in others.iterrows()
            )
        lines.append(text + ".")
    return lines


def serving_lines(frame: pd.DataFrame) -> list[str]:
    """The inference, checkpoint and dispatch findings."""
    return inference_lines(frame) + checkpoint_lines(frame) + dispatch_lines(frame)
