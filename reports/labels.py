"""How a case, a device and a workload are named on every page and in every finding (pure, from the tidy frame)."""

from __future__ import annotations

import pandas as pd

from reports.fmt import fmt_bytes
from results_format import WORKLOAD_SPECS

#: each workload's title, from the results format (its tables are indexed by the workload's keys).
WORKLOAD_TITLES = {name: spec.title for name, spec in WORKLOAD_SPECS.items()}


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
