"""Findings in words and numbers, and the per-workload tables, from the tidy frame (pure)."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import pandas as pd

from reports import backends as bk
from reports import envelope, limits, peaks
from reports import speedup as sp
from results_format import WORKLOAD_SPECS

#: the book chapter's matmul demo: 10000x10000 ran ~32x faster on a notebook GPU, 100x100 the same.
BOOK_LARGE_N = 10000
BOOK_LARGE_RATIO = 32.0
BOOK_LARGE_TEXT = "book: 32x on a notebook GPU"
BOOK_SMALL_N = 100
BOOK_SMALL_TEXT = "book: no difference for small tensors"

#: cases whose IQR exceeds this share of the median are flagged as noisy (the gate needs more rounds for them).
NOISY_IQR_REL = 0.10

#: each workload's title, from the results format (its tables are indexed by the workload's keys).
WORKLOAD_TITLES = {name: spec.title for name, spec in WORKLOAD_SPECS.items()}


def fmt_ratio(ratio: float) -> str:
    """A speedup as text: 41.2x, 0.86x, 1.0x (also for 0.998, which two significant digits would make '1x')."""
    return f"{ratio:.2g}x" if ratio < 0.995 else f"{ratio:.1f}x"


def fmt_number(value: float | None) -> str:
    """A throughput or time as compact text (thousands separators, 3 significant digits)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if abs(value) >= 999.5:  # 999.6 would read "1e+03" with 3 significant digits
        return f"{value:,.0f}"
    return f"{value:.3g}"


def fmt_bytes(size: float) -> str:
    """A byte count in binary units: 1 KiB, 256 MiB."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if float(size).is_integer() else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"


def cell(value: Any, column: str = "") -> str:
    """One table cell as text: empty for missing, bytes in binary units, numbers compact."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if column == "bytes" and isinstance(value, numbers.Real):
        return fmt_bytes(float(value))
    if isinstance(value, numbers.Integral) and column in ("n", "batch_size", "rounds"):
        return str(value)
    if isinstance(value, numbers.Real):
        return fmt_number(float(value))
    return str(value)


def several_backends(frame: pd.DataFrame) -> bool:
    """Whether the frame holds cases of more than one backend (TensorFlow and torch)."""
    return not frame.empty and "backend" in frame.columns and frame["backend"].nunique() > 1


def device_labels(frame: pd.DataFrame) -> pd.Series:
    """A per-row device label: 'GPU:0'; 'torch GPU:0' when several backends ran; 'host ...' for several hosts."""
    if frame.empty:
        return pd.Series([], dtype="str")
    labels = frame["device"].astype("str")
    if several_backends(frame):
        labels = frame["backend"].astype("str") + " " + labels
    if frame["host"].nunique() > 1:
        labels = frame["host"].astype("str") + " " + labels
    return labels


def backend_prefix(backend: object, several: bool) -> str:
    """'torch: ' before a finding about one backend's devices, when several backends ran; else ''."""
    return f"{backend}: " if several else ""


def throughput_table(frame: pd.DataFrame, workload: str) -> pd.DataFrame:
    """Throughput of one workload: one row per case key, one column per device (label)."""
    rows = frame[frame["workload"] == workload] if not frame.empty else frame
    keys = WORKLOAD_SPECS[workload].keys if workload in WORKLOAD_SPECS else ()
    index = [c for c in keys if c in rows.columns and rows[c].notna().any()]
    if rows.empty or not index:
        return pd.DataFrame()
    rows = rows.assign(device_label=device_labels(frame).loc[rows.index])
    table = rows.pivot_table(
        index=index, columns="device_label", values="throughput", aggfunc="median", dropna=False, sort=True
    )
    table = table.dropna(how="all")
    table.columns.name = None
    return table


def _pair_text(row: pd.Series, several_hosts: bool) -> tuple[str, str]:
    """The GPU and CPU names of a speedup row, prefixed by host when there are several."""
    prefix = f"{row['host']} " if several_hosts else ""
    return f"{prefix}{row['gpu']}", f"{prefix}{row['cpu']}"


def book_lines(frame: pd.DataFrame) -> list[str]:
    """The book's matmul claims next to this run's, where n=100 and n=10000 ran on a CPU and a GPU."""
    speed = sp.speedups(frame, "matmul")
    if speed.empty:
        return []
    several = speed["host"].nunique() > 1
    backends = several_backends(frame)
    lines = []
    for (_, _, backend, _, _), group in speed.groupby(["host", "run", "backend", "gpu", "cpu"], sort=True):
        keys = set(group["key"])
        if not {BOOK_LARGE_N, BOOK_SMALL_N} <= keys:
            continue
        large = group[group["key"] == BOOK_LARGE_N].iloc[0]
        small = group[group["key"] == BOOK_SMALL_N].iloc[0]
        gpu, cpu = _pair_text(large, several)
        gpu = backend_prefix(backend, backends) + gpu
        lines.append(f"n={BOOK_LARGE_N}: {gpu} is {fmt_ratio(large['speedup'])} {cpu} ({BOOK_LARGE_TEXT})")
        verdict = "no difference" if 0.67 <= small["speedup"] <= 1.5 else "a difference"
        lines.append(f"n={BOOK_SMALL_N}: {gpu} is {fmt_ratio(small['speedup'])} {cpu}: {verdict} ({BOOK_SMALL_TEXT})")
    return lines


def matmul_lines(frame: pd.DataFrame) -> list[str]:
    """Speedup at the largest size and the crossover per GPU/CPU pair; CPU peaks where no GPU ran."""
    lines = []
    speed = sp.speedups(frame, "matmul")
    several = frame["host"].nunique() > 1 if not frame.empty else False
    backends = several_backends(frame)
    for cross in sp.crossovers(speed).itertuples():
        part = speed[
            (speed["host"] == cross.host)
            & (speed["run"] == cross.run)
            & (speed["backend"] == cross.backend)
            & (speed["gpu"] == cross.gpu)
            & (speed["cpu"] == cross.cpu)
        ]
        top = part.loc[part["key"].astype(float).idxmax()]
        gpu, cpu = _pair_text(top, several)
        text = f"{gpu} is {fmt_ratio(top['speedup'])} faster than {cpu} at n={int(top['key'])} (float32 matmul)"
        text = backend_prefix(cross.backend, backends) + text
        if cross.crossover is None:
            text += f"; the GPU does not win at the largest size measured (n={int(cross.largest)})"
        elif cross.crossover == cross.smallest:
            text += f"; the GPU wins at every size measured (from n={int(cross.crossover)})"
        else:
            text += f"; the GPU wins from n>={int(cross.crossover)}"
        lines.append(text + ".")
    matmul = frame[(frame["workload"] == "matmul") & frame["throughput"].notna()] if not frame.empty else frame
    groups = matmul.groupby(["host", "run", "backend"], sort=True) if not matmul.empty else []
    for (host, run, backend), part in groups:
        if (part["device_kind"] == "gpu").any():
            continue
        best = part.loc[part["throughput"].idxmax()]
        prefix = f"{host} " if several else ""
        prefix += f"{backend} " if backends else ""
        lines.append(
            f"No GPU in run {run}: {prefix}{best['device']} peaks at {fmt_number(best['throughput'])} "
            f"{best['throughput_unit']} (n={best['n']}, {best['dtype']})."
        )
    return lines


def mnist_lines(frame: pd.DataFrame) -> list[str]:
    """Per GPU/CPU pair, the MNIST training speedup per mode and the GPU's fastest mode."""
    lines = []
    speed = sp.speedups(frame, "mnist", dtype=None)
    several = frame["host"].nunique() > 1 if not frame.empty else False
    backends = several_backends(frame)
    for (_, _, backend, _, _), part in speed.groupby(["host", "run", "backend", "gpu", "cpu"], sort=True):
        first = part.iloc[0]
        gpu, cpu = _pair_text(first, several)
        title = f"MNIST training, {backend}" if backends else "MNIST training"
        ratios = ", ".join(f"{fmt_ratio(r.speedup)} ({r.key})" for r in part.itertuples())
        best = part.loc[part["gpu_throughput"].idxmax()]
        lines.append(
            f"{title}: {gpu} is {ratios} as fast as {cpu}; its fastest mode is {best['key']} "
            f"at {fmt_number(best['gpu_throughput'])} samples/s."
        )
    return lines


def tfdata_lines(frame: pd.DataFrame) -> list[str]:
    """The input-bound verdict per device from the tf.data case that carries one."""
    if frame.empty or "input_bound" not in frame.columns:
        return []
    rows = frame[(frame["workload"] == "tfdata") & frame["input_bound"].notna()]
    labels = device_labels(frame).loc[rows.index]
    lines = []
    for label, (_, row) in zip(labels, rows.iterrows(), strict=True):
        pipeline, premade = row.get("pipeline_step_s"), row.get("premade_step_s")
        detail = ""
        if pd.notna(pipeline) and pd.notna(premade) and premade:
            detail = (
                f": a step fed by tf.data takes {pipeline * 1e3:.3g} ms, "
                f"{fmt_ratio(pipeline / premade)} the {premade * 1e3:.3g} ms of a step on pre-made batches"
            )
        verdict = "input-bound" if bool(row["input_bound"]) else "not input-bound"
        lines.append(f"tf.data on {label} is {verdict}{detail}.")
    return lines


def transfer_lines(frame: pd.DataFrame) -> list[str]:
    """The best copy bandwidth per device and direction; zero-copy views as a latency, never a bandwidth."""
    rows = frame[(frame["workload"] == "transfer") & frame["throughput"].notna()] if not frame.empty else frame
    if rows.empty or "direction" not in rows.columns:
        return []
    rows = rows.assign(device_label=device_labels(frame).loc[rows.index])
    lines = []
    for label, device_rows in rows.groupby("device_label", sort=True):
        parts = []
        by = ["direction", "host_memory"] if "host_memory" in device_rows.columns else ["direction"]
        for keys, part in device_rows.groupby(by, sort=False):
            direction = keys[0] if isinstance(keys, tuple) else keys
            best = part.loc[part["throughput"].idxmax()]
            facts = [f"at {fmt_bytes(float(best['bytes']))}"] if pd.notna(best.get("bytes")) else []
            arrow = WORKLOAD_SPECS["transfer"].label(direction)
            if len(by) > 1 and isinstance(keys[1], str):
                arrow += f", {keys[1]}"
            detail = f" ({', '.join(facts)})" if facts else ""
            parts.append(f"{fmt_number(best['throughput'])} GB/s {arrow}{detail}")
        lines.append(f"Copies on {label} peak at {'; '.join(parts)}.")
    return lines + zero_copy_lines(frame)


def zero_copy_lines(frame: pd.DataFrame) -> list[str]:
    """Transfers that shared the buffer instead of copying: how long handing it over takes (no bytes move)."""
    if frame.empty:
        return []
    rows = frame[(frame["workload"] == "transfer") & (frame["measure"] == "latency")]
    if rows.empty:
        return []
    rows = rows.assign(device_label=device_labels(frame).loc[rows.index])
    lines = []
    for label, part in rows.groupby("device_label", sort=True):
        kinds = ", ".join(
            f"{WORKLOAD_SPECS['transfer'].label(d)} {fmt_latency(float(p['median_s'].median()))}"
            for d, p in part.groupby("direction", sort=False)
        )
        lines.append(f"Zero-copy hand-overs on {label} (the buffer is shared, no bytes move: a latency): {kinds}.")
    return lines


def fmt_latency(seconds: float) -> str:
    """A short time with its unit: 35.6 µs, 2.1 ms."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def case_text(row: pd.Series) -> str:
    """A case's keys as text: 'n=1024 float32', 'eager b64', 'h2d 1 MiB'."""
    workload = row["workload"]
    if workload == "matmul":
        return f"n={int(row['n'])} {row['dtype']}"
    if workload == "mnist":
        return f"{row['mode']} b{int(row['batch_size'])}"
    if workload == "transfer":
        memory = f" {row['host_memory']}" if isinstance(row.get("host_memory"), str) else ""
        return f"{row['direction']}{memory} {fmt_bytes(float(row['bytes']))}"
    if workload == "membw":
        return f"{row['kernel']} {fmt_bytes(float(row['bytes']))}"
    if workload == "sustained":
        return f"n={int(row['n'])} {row['dtype']} {float(row['seconds']):g} s"
    if workload == "inference":
        return f"{row['model']} {row['mode']} b{int(row['batch_size'])}"
    if workload == "dispatch":
        return f"polynomial fit {row['mode']}"
    if workload == "mnist_amp":
        return f"{row['mode']} {row['precision']} b{int(row['batch_size'])}"
    if workload == "resnet50_train":
        return f"{row['precision']} {int(row['image_size'])}px b{int(row['batch_size'])}"
    if workload == "mnist_batch":
        return f"{row['mode']} b{int(row['batch_size'])}"
    if workload == "tfdata":
        return f"{row['variant']} b{int(row['batch_size'])}"
    if workload == "checkpoint":
        return f"{row['format']} {row['direction']} {row['model']}"
    if workload == "scaling":
        size = f" {int(row['image_size'])}px" if row["model"] != "mnist" else ""
        return f"{row['model']}{size} r{int(row['replicas'])} b{int(row['global_batch'])}"
    if workload == "allreduce":
        return f"{fmt_bytes(float(row['bytes']))} r{int(row['replicas'])}"
    return ""


def faster_text(ratio: float) -> str:
    """Who wins for a torch/TF throughput ratio: 'torch 1.3x', 'tensorflow 2.0x', 'about the same'."""
    if 1 / bk.SAME_WITHIN < ratio < bk.SAME_WITHIN:
        return "about the same"
    winner, factor = bk.faster(ratio)
    return f"{winner} {fmt_ratio(factor)}"


def backend_table(frame: pd.DataFrame) -> pd.DataFrame:
    """TensorFlow vs torch per case on the same device: both throughputs, torch/TF and who is faster."""
    ratios = bk.backend_ratios(frame)
    if ratios.empty:
        return pd.DataFrame()
    several = ratios["host"].nunique() > 1
    view = pd.DataFrame(
        {
            "device": (ratios["host"] + " " + ratios["device"]) if several else ratios["device"],
            "workload": ratios["workload"],
            "case": [case_text(row) for _, row in ratios.iterrows()],
            bk.TF: ratios[bk.TF],
            bk.TORCH: ratios[bk.TORCH],
            "unit": ratios["throughput_unit"],
            "torch/TF": ratios["ratio"].astype(float).where(ratios["comparable"].astype(bool)),
            "faster": [
                faster_text(r) if ok else "" for r, ok in zip(ratios["ratio"], ratios["comparable"], strict=True)
            ],
            "note": ratios["note"],
        }
    )
    return view if view["note"].astype(bool).any() else view.drop(columns="note")


def backend_lines(frame: pd.DataFrame) -> list[str]:
    """Per device and workload, TensorFlow vs torch throughput: geometric mean, range and wins."""
    ratios = bk.backend_ratios(frame)
    if ratios.empty:
        return []
    several = ratios["host"].nunique() > 1
    lines = []
    for (host, _, device, workload), part in ratios.groupby(["host", "run", "device", "workload"], sort=False):
        label = f"{host} {device}" if several else device
        head = f"TensorFlow vs PyTorch, {WORKLOAD_TITLES.get(workload, workload)} on {label}"
        good = part[part["comparable"].astype(bool)]
        left_out = part[~part["comparable"].astype(bool)]
        if good.empty:
            lines.append(f"{head}: not compared, {left_out['note'].iloc[0]} in {len(part)} of {len(part)} cases.")
            continue
        if len(good) == 1:
            row = good.iloc[0]
            text = f"{head} ({case_text(row)}): {_winner_text(float(row['ratio']))}"
        else:
            summary = bk.summarize(good["ratio"])
            low = good.loc[good["ratio"].astype(float).idxmin()]
            high = good.loc[good["ratio"].astype(float).idxmax()]
            text = (
                f"{head}: {_winner_text(summary['gmean'])} (geometric mean of {summary['cases']} cases); "
                f"torch/TF ranges from {fmt_ratio(summary['low'])} ({case_text(low)}) "
                f"to {fmt_ratio(summary['high'])} ({case_text(high)}); "
                f"torch is faster in {summary['torch_wins']} of {summary['cases']}"
            )
        if not left_out.empty:
            text += f"; {len(left_out)} case(s) left out ({left_out['note'].iloc[0]})"
        lines.append(text + ".")
    return lines


def _winner_text(ratio: float) -> str:
    """'torch is 1.3x faster', 'tensorflow is 2.0x faster' or 'both are about as fast (1.02x)'."""
    if 1 / bk.SAME_WITHIN < ratio < bk.SAME_WITHIN:
        return f"both are about as fast (torch/TF {ratio:.2f}x)"
    winner, factor = bk.faster(ratio)
    return f"{winner} is {fmt_ratio(factor)} faster"


def noise_lines(frame: pd.DataFrame, limit: float = NOISY_IQR_REL) -> list[str]:
    """How many cases are noisy (IQR above ``limit`` of the median): small changes need more rounds to see."""
    if frame.empty:
        return []
    noisy = frame[frame["iqr_rel"].astype(float) > limit]
    if noisy.empty:
        return []
    share = f"{limit:.0%}"
    return [
        f"{len(noisy)} of {len(frame)} cases vary by more than {share} (IQR/median): the regression gate needs more "
        "rounds to see small changes in them (flagged in the table of all cases)."
    ]


def skipped_lines(skipped: pd.DataFrame) -> list[str]:
    """One line counting the skipped cases by kind."""
    if skipped.empty:
        return []
    counts = skipped["kind"].fillna("unknown").value_counts().sort_index()
    parts = ", ".join(f"{count} {kind}" for kind, count in counts.items())
    return [f"{len(skipped)} case(s) were skipped ({parts}); the reasons are listed below."]


def headlines(frame: pd.DataFrame, skipped: pd.DataFrame | None = None) -> list[str]:
    """The findings that open the report, most important first."""
    if frame.empty:
        return ["The results hold no benchmark cases."]
    from reports import multidevice  # it formats with this module's helpers

    # first, the user's first question: is each GPU giving what it should (against the best published figures)?
    lines = (
        envelope.envelope_lines(frame)
        + peaks.peaks_lines(frame)
        + matmul_lines(frame)
        + book_lines(frame)
        + backend_lines(frame)
        + mnist_lines(frame)
    )
    from reports.serving import serving_lines  # builds on this module's formatting, so imported here
    from reports.training import training_lines  # reports.training builds on this module's formatting

    lines += training_lines(frame, skipped) + tfdata_lines(frame) + transfer_lines(frame)
    lines += limits.limit_lines(frame) + multidevice.lines(frame) + serving_lines(frame) + noise_lines(frame)
    if skipped is not None:
        lines += skipped_lines(skipped)
    return lines
