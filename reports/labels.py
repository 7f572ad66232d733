"""How a case, a device and a workload are named on every page and in every finding (pure, from the tidy frame)."""

from __future__ import annotations

import pandas as pd

from reports import specs


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
    """A case as people read it: the label its workload wrote ('n=1024 float32', 'h2d pinned 1 MiB')."""
    written = row.get("case_label")
    if isinstance(written, str) and written:
        return written
    return specs.case_label(str(row["workload"]), row)
