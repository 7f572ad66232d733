"""The training workloads in the report: mixed-precision speedups, ResNet-50 images/s and the batch-size sweeps.

Pure functions of the tidy frame (and the skipped-cases frame, for out-of-memory batches); no I/O.

"Saturates": a sweep saturates at the smallest batch whose throughput reaches SATURATION (90 %) of the best
throughput that sweep measured; larger batches buy at most the remaining 10 %.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from reports import specs
from reports.fmt import fmt_number, fmt_ratio
from reports.labels import device_labels

SATURATION = 0.90
FLOAT32 = "float32"
AMP_WORKLOADS = ("mnist_amp", "resnet50_train")
#: workloads whose cases form a throughput-vs-batch sweep, and the parameters that name one sweep's series
SWEEP_SERIES: dict[str, tuple[str, ...]] = {
    "mnist_batch": ("mode",),
    "resnet50_train": ("precision", "image_size"),
}
#: the parameters (besides precision) that make a mixed case and its float32 twin the same case
AMP_KEYS: dict[str, tuple[str, ...]] = {
    "mnist_amp": ("mode", "batch_size"),
    "resnet50_train": ("image_size", "batch_size"),
}
IDS = ["host", "run", "backend", "device", "device_kind"]
SWEEP_COLUMNS = [
    *IDS, "device_label", "workload", "series", "best", "best_batch", "saturation_batch", "largest_batch",
    "oom_batch", "unit", "points",
]  # fmt: skip
AMP_COLUMNS = [*IDS, "device_label", "workload", "case", "precision", "float32", "mixed", "unit", "speedup"]


def saturation_batch(
    batches: Sequence[float], throughputs: Sequence[float], fraction: float = SATURATION
) -> float | None:
    """The smallest batch whose throughput reaches `fraction` of the best one measured (None without data)."""
    points = [(float(b), float(t)) for b, t in zip(batches, throughputs, strict=True) if not math.isnan(float(t))]
    if not points:
        return None
    best = max(t for _, t in points)
    return min(b for b, t in points if t >= fraction * best)


def series_name(workload: str, values: Sequence[object]) -> str:
    """A sweep series as text: 'float32 224px' (ResNet-50), 'function' (MNIST)."""
    if workload == "resnet50_train":
        precision, size = values
        return f"{precision} {int(float(str(size)))}px"
    return " ".join(str(v) for v in values)


def parse_params(text: object) -> dict[str, str]:
    """The skipped-cases frame's 'k=v, k=v' parameter text as a dict of strings."""
    if not isinstance(text, str) or not text:
        return {}
    return dict(part.split("=", 1) for part in text.split(", ") if "=" in part)


def _labelled(frame: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """`rows` with the frame-wide device label."""
    labels = frame["device_label"] if "device_label" in frame.columns else device_labels(frame)
    return rows.assign(device_label=labels.loc[rows.index])


def sweep_points(frame: pd.DataFrame) -> pd.DataFrame:
    """The measured points of every sweep: ids, device label, workload, series, batch_size, throughput, unit."""
    columns = [*IDS, "device_label", "workload", "series", "batch_size", "throughput", "unit"]
    parts = []
    for workload, keys in SWEEP_SERIES.items():
        if frame.empty or any(k not in frame.columns for k in (*keys, "batch_size")):
            continue
        rows = frame[(frame["workload"] == workload) & frame["throughput"].notna()]
        if rows.empty:
            continue
        # only the columns read below: copying the whole tidy frame's ~200 columns was most of the time
        rows = _labelled(
            frame, rows[[*IDS, "workload", *dict.fromkeys((*keys, "batch_size")), "throughput", "throughput_unit"]]
        )
        series = [series_name(workload, values) for values in zip(*(rows[k] for k in keys), strict=True)]
        parts.append(
            rows.assign(
                series=series,
                batch_size=rows["batch_size"].astype(float),
                throughput=rows["throughput"].astype(float),
                unit=rows["throughput_unit"],
            )[columns]
        )
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)


def oom_batches(skipped: pd.DataFrame | None) -> pd.DataFrame:
    """Sweep cases skipped for running out of memory: ids, workload, series and batch_size."""
    columns = ["host", "run", "backend", "device", "workload", "series", "batch_size"]
    if skipped is None or skipped.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for entry in skipped[(skipped["kind"] == "oom") & skipped["workload"].isin(list(SWEEP_SERIES))].itertuples():
        params = parse_params(entry.params)
        keys = SWEEP_SERIES[entry.workload]
        if "batch_size" not in params or any(k not in params for k in keys):
            continue
        rows.append(
            {
                "host": entry.host,
                "run": entry.run,
                "backend": entry.backend,
                "device": entry.device,
                "workload": entry.workload,
                "series": series_name(entry.workload, [params[k] for k in keys]),
                "batch_size": float(params["batch_size"]),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def sweep_summary(frame: pd.DataFrame, skipped: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per sweep (device, workload, series): best throughput and its batch, the saturating batch, the largest
    batch that ran and the smallest that ran out of memory."""
    points = sweep_points(frame)
    if points.empty:
        return pd.DataFrame(columns=SWEEP_COLUMNS)
    ooms = oom_batches(skipped)
    rows = []
    group_keys = [*IDS, "device_label", "workload", "series"]
    for ids, part in points.groupby(group_keys, sort=True, dropna=False):
        key = dict(zip(group_keys, ids, strict=True))
        part = part.groupby("batch_size", as_index=False)["throughput"].median().sort_values("batch_size")
        best = part.loc[part["throughput"].idxmax()]
        matching = ooms[
            (ooms["host"] == key["host"])
            & (ooms["run"] == key["run"])
            & (ooms["backend"] == key["backend"])
            & (ooms["device"] == key["device"])
            & (ooms["workload"] == key["workload"])
            & (ooms["series"] == key["series"])
        ]
        unit = points.loc[points["workload"] == key["workload"], "unit"].dropna()
        rows.append(
            {
                **key,
                "best": float(best["throughput"]),
                "best_batch": float(best["batch_size"]),
                "saturation_batch": saturation_batch(list(part["batch_size"]), list(part["throughput"])),
                "largest_batch": float(part["batch_size"].max()),
                "oom_batch": float(matching["batch_size"].min()) if not matching.empty else None,
                "unit": unit.iloc[0] if not unit.empty else "",
                "points": len(part),
            }
        )
    return pd.DataFrame(rows, columns=SWEEP_COLUMNS)


def case_text(workload: str, values: Sequence[object]) -> str:
    """A mixed-precision case without its precision: 'xla b1024' (MNIST), '224px b256' (ResNet-50)."""
    if workload == "resnet50_train":
        size, batch = values
        return f"{int(float(str(size)))}px b{int(float(str(batch)))}"
    mode, batch = values
    return f"{mode} b{int(float(str(batch)))}"


def amp_speedups(frame: pd.DataFrame) -> pd.DataFrame:
    """Each mixed-precision case beside its float32 twin (same device, backend, run and case): mixed/float32."""
    parts = []
    for workload, keys in AMP_KEYS.items():
        if frame.empty or any(k not in frame.columns for k in (*keys, "precision")):
            continue
        rows = frame[(frame["workload"] == workload) & frame["throughput"].notna()]
        if rows.empty:
            continue
        wanted = [*IDS, "device_label", *keys, "precision", "throughput", "throughput_unit"]
        rows = _labelled(frame, rows[[c for c in wanted if c != "device_label"]])  # only the columns read below
        base = rows[rows["precision"] == FLOAT32][wanted].drop(columns="precision")
        mixed = rows[rows["precision"] != FLOAT32][wanted]
        pairs = mixed.merge(base, on=[*IDS, "device_label", *keys], suffixes=("", "_float32"))
        if pairs.empty:
            continue
        parts.append(
            pd.DataFrame(
                {
                    **{c: pairs[c] for c in [*IDS, "device_label"]},
                    "workload": workload,
                    "case": [case_text(workload, v) for v in zip(*(pairs[k] for k in keys), strict=True)],
                    "precision": pairs["precision"],
                    "float32": pairs["throughput_float32"].astype(float),
                    "mixed": pairs["throughput"].astype(float),
                    "unit": pairs["throughput_unit"],
                    "speedup": pairs["throughput"].astype(float) / pairs["throughput_float32"].astype(float),
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=AMP_COLUMNS)
    return pd.concat(parts, ignore_index=True)[AMP_COLUMNS]


def _title(workload: str) -> str:
    """A workload's title from the results format."""
    spec = specs.spec_of(workload)
    return spec.title if spec else workload


def _batch(value: float | None) -> str:
    """A batch size as text."""
    return "" if value is None or pd.isna(value) else str(int(value))


def amp_lines(frame: pd.DataFrame) -> list[str]:
    """Per device, workload and mixed precision: how many times float32's throughput it reached."""
    speed = amp_speedups(frame)
    lines = []
    for (label, workload, precision), part in speed.groupby(["device_label", "workload", "precision"], sort=True):
        head = f"Mixed precision, {_title(workload)} on {label}: {precision} runs"
        if len(part) == 1:
            row = part.iloc[0]
            lines.append(f"{head} at {fmt_ratio(row['speedup'])} float32's {row['unit']} ({row['case']}).")
            continue
        best = part.loc[part["speedup"].idxmax()]
        low = part["speedup"].min()
        lines.append(
            f"{head} at {fmt_ratio(low)} to {fmt_ratio(best['speedup'])} float32's {best['unit']} "
            f"(best {best['case']}: {fmt_number(best['mixed'])} vs {fmt_number(best['float32'])})."
        )
    return lines


def resnet_lines(frame: pd.DataFrame) -> list[str]:
    """Per device: ResNet-50's best training images/s in each precision, with its batch and image size."""
    if frame.empty or "precision" not in frame.columns:
        return []
    rows = frame[(frame["workload"] == "resnet50_train") & frame["throughput"].notna()]
    if rows.empty:
        return []
    rows = _labelled(frame, rows)
    lines = []
    for (label, size), part in rows.groupby(["device_label", "image_size"], sort=True):
        parts = []
        for precision, group in part.groupby("precision", sort=True):
            best = group.loc[group["throughput"].astype(float).idxmax()]
            parts.append(f"{fmt_number(float(best['throughput']))} in {precision} (batch {int(best['batch_size'])})")
        lines.append(f"ResNet-50 training on {label} at {int(size)}x{int(size)}: best images/s {'; '.join(parts)}.")
    return lines


def sweep_lines(frame: pd.DataFrame, skipped: pd.DataFrame | None = None) -> list[str]:
    """Per sweep: where throughput saturates, and the largest batch that fitted."""
    summary = sweep_summary(frame, skipped)
    lines = []
    for row in summary.itertuples():
        if row.points < 2:
            continue
        title = "ResNet-50" if row.workload == "resnet50_train" else "MNIST"
        text = (
            f"Batch sweep, {title} {row.series} on {row.device_label}: {SATURATION:.0%} of the best "
            f"{fmt_number(row.best)} {row.unit} (batch {_batch(row.best_batch)}) from batch "
            f"{_batch(row.saturation_batch)}"
        )
        if row.saturation_batch == row.largest_batch:
            text += ", the largest measured: it has not saturated yet"
        if row.oom_batch is not None and not pd.isna(row.oom_batch):
            text += (
                f"; the largest batch that fitted is {_batch(row.largest_batch)} "
                f"({_batch(row.oom_batch)} ran out of memory)"
            )
        lines.append(text + ".")
    return lines


def training_lines(frame: pd.DataFrame, skipped: pd.DataFrame | None = None) -> list[str]:
    """Every finding of the training workloads, for the report's opening list."""
    if frame.empty:
        return []
    return amp_lines(frame) + resnet_lines(frame) + sweep_lines(frame, skipped)


def amp_view(frame: pd.DataFrame) -> pd.DataFrame:
    """The mixed-precision speedup table as shown: device, workload, case, precision, both throughputs, speedup."""
    speed = amp_speedups(frame)
    if speed.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            "device": speed["device_label"],
            "workload": [_title(w) for w in speed["workload"]],
            "case": speed["case"],
            "precision": speed["precision"],
            "float32": speed["float32"],
            "mixed": speed["mixed"],
            "unit": speed["unit"],
            "speedup": speed["speedup"],
        }
    )


def resnet_view(frame: pd.DataFrame) -> pd.DataFrame:
    """ResNet-50 training per device, precision, image size and batch: images/s, ms per step, loss, memory."""
    if frame.empty or "precision" not in frame.columns:
        return pd.DataFrame()
    rows = frame[(frame["workload"] == "resnet50_train") & frame["throughput"].notna()]
    if rows.empty:
        return pd.DataFrame()
    rows = _labelled(frame, rows)

    def column(name: str) -> pd.Series:
        return rows[name] if name in rows.columns else pd.Series(None, index=rows.index, dtype="object")

    view = pd.DataFrame(
        {
            "device": rows["device_label"],
            "precision": rows["precision"],
            "image size": rows["image_size"],
            "batch_size": rows["batch_size"],
            "images/s": rows["throughput"].astype(float),
            "ms per step": column("ms_per_step"),
            "loss first step": column("initial_loss"),
            "loss last step": column("final_loss"),
            "allocator peak (MiB)": column("allocator_peak_bytes").astype(float) / 2**20,
        }
    )
    return view.sort_values(["device", "precision", "image size", "batch_size"]).dropna(axis=1, how="all")


def sweep_view(frame: pd.DataFrame, skipped: pd.DataFrame | None = None) -> pd.DataFrame:
    """The sweep summary as shown: device, workload, series, best and where it saturates, largest batch, OOM."""
    summary = sweep_summary(frame, skipped)
    if summary.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            "device": summary["device_label"],
            "workload": [_title(w) for w in summary["workload"]],
            "series": summary["series"],
            "best": summary["best"],
            "unit": summary["unit"],
            "at batch": [_batch(v) for v in summary["best_batch"]],
            f"{SATURATION:.0%} of best from batch": [_batch(v) for v in summary["saturation_batch"]],
            "largest batch run": [_batch(v) for v in summary["largest_batch"]],
            "out of memory at": [_batch(v) for v in summary["oom_batch"]],
        }
    )
