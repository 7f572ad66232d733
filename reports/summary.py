"""Findings in words and numbers, and the per-workload tables, from the tidy frame (pure).

Numbers become text in `reports.fmt`; cases, devices and workloads are named in `reports.labels`.
"""

from __future__ import annotations

import pandas as pd

from reports import backends as bk
from reports import specs
from reports import speedup as sp
from reports.fmt import fmt_bytes, fmt_latency, fmt_number, fmt_ratio
from reports.labels import backend_prefix, case_text, device_labels, several_backends

#: the book chapter's matmul demo: 10000x10000 ran ~32x faster on a notebook GPU, 100x100 the same.
BOOK_LARGE_N = 10000
BOOK_LARGE_RATIO = 32.0
BOOK_LARGE_TEXT = "book: 32x on a notebook GPU"
BOOK_SMALL_N = 100
BOOK_SMALL_TEXT = "book: no difference for small tensors"

#: cases whose IQR exceeds this share of the median are flagged as noisy (the gate needs more rounds for them).
NOISY_IQR_REL = 0.10


def throughput_table(frame: pd.DataFrame, workload: str) -> pd.DataFrame:
    """Throughput of one workload: one row per case key, one column per device (label)."""
    rows = frame[frame["workload"] == workload] if not frame.empty else frame
    keys = specs.keys(workload)
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
            arrow = specs.label("transfer", direction)
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
            f"{specs.label('transfer', d)} {fmt_latency(float(p['median_s'].median()))}"
            for d, p in part.groupby("direction", sort=False)
        )
        lines.append(f"Zero-copy hand-overs on {label} (the buffer is shared, no bytes move: a latency): {kinds}.")
    return lines


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
        head = f"TensorFlow vs PyTorch, {specs.title(workload)} on {label}"
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
