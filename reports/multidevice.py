"""The multi-device workloads in tables and words: scaling efficiency and all-reduce bandwidth (pure, frame in).

Scaling efficiency is throughput_N / (N x throughput_1), against the 1-replica case of the same run, backend,
device set and model. All-reduce bandwidths are nccl-tests' algbw and busbw as recorded by the suite
(bench.workloads.allreduce). A CPU's replicas (TensorFlow logical devices, torch processes) share its cores:
their rows and findings say so.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from reports.fmt import fmt_bytes, fmt_latency, fmt_number, fmt_ratio
from reports.labels import several_backends

#: the workloads that have their own tables here rather than the generic throughput table
OWN_TABLES = ("scaling", "allreduce")

KIND_TEXT = {
    "gpus": "GPUs",
    "cpu-logical-devices": "CPU logical devices",
    "cpu-processes": "CPU processes",
}
SHARED_CPU_NOTE = "one CPU's cores shared: the mechanics and overheads, not a second device's speed"


def _rows(frame: pd.DataFrame, workload: str) -> pd.DataFrame:
    """The measured rows of one workload."""
    if frame.empty or "workload" not in frame.columns:
        return frame.iloc[0:0]
    return frame[(frame["workload"] == workload) & frame["throughput"].notna()]


def efficiency(throughput: Any, replicas: Any, single: Any) -> Any:
    """Scaling efficiency: throughput on N replicas over N times the throughput on one."""
    return throughput / (replicas * single)


def kind_text(kind: object) -> str:
    """A device set's kind for people: 'CPU logical devices'."""
    return KIND_TEXT.get(str(kind), str(kind))


SCALING_GROUP = ["host", "run", "backend", "device", "model", "image_size", "device_set_kind"]


def scaling_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per scaling case with its speedup and efficiency against the same set's 1-replica case."""
    rows = _rows(frame, "scaling")
    if rows.empty:
        return pd.DataFrame()
    rows = rows.assign(replicas=rows["replicas"].astype(int))
    single = rows[rows["replicas"] == 1].groupby(SCALING_GROUP, dropna=False)["throughput"].median()
    base = [single.get(tuple(key), float("nan")) for key in rows[SCALING_GROUP].itertuples(index=False)]
    rows = rows.assign(single=pd.Series(base, index=rows.index, dtype=float))
    throughput = rows["throughput"].astype(float)
    rows = rows.assign(
        speedup=throughput / rows["single"], efficiency=efficiency(throughput, rows["replicas"], rows["single"])
    )
    return rows.sort_values([*SCALING_GROUP, "replicas"]).reset_index(drop=True)


def scaling_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Replicas, global and per-replica batch, samples/s, speedup and efficiency per backend, device set, model.

    The backend column is there only where the frame holds several backends, as in the page's other tables.
    """
    rows = scaling_frame(frame)
    if rows.empty:
        return rows
    hosts = {"host": rows["host"]} if rows["host"].nunique() > 1 else {}
    backends = {"backend": rows["backend"]} if several_backends(frame) else {}  # as the page's other tables
    return pd.DataFrame(
        {
            **hosts,
            **backends,
            "model": rows["model"],
            "devices": rows["device_set_kind"].map(kind_text),
            "replicas": rows["replicas"],
            "on": [on_text(k, d) for k, d in zip(rows["device_set_kind"], rows["replica_devices"], strict=True)],
            "global batch": rows["global_batch"].astype(int),
            "per replica": rows["per_replica_batch"].astype(int),
            "samples/s": rows["throughput"],
            "speedup": rows["speedup"],
            "efficiency": rows["efficiency"],
        }
    )


def allreduce_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The measured all-reduce cases, ordered by backend, device set, replicas and size."""
    rows = _rows(frame, "allreduce")
    if rows.empty:
        return pd.DataFrame()
    rows = rows.assign(replicas=rows["replicas"].astype(int), bytes=rows["bytes"].astype(int))
    return rows.sort_values(["host", "run", "backend", "device", "device_set_kind", "replicas", "bytes"]).reset_index(
        drop=True
    )


def allreduce_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per backend and device set: size, time per all-reduce (µs), algbw and busbw (GB/s), and the check."""
    rows = allreduce_frame(frame)
    if rows.empty:
        return rows
    hosts = {"host": rows["host"]} if rows["host"].nunique() > 1 else {}
    none = pd.Series([None] * len(rows), index=rows.index, dtype=object)
    tf_ops, torch_group = rows.get("cross_device_ops", none), rows.get("process_group", none)
    how = [via_text(a) if isinstance(a, str) and a else b for a, b in zip(tf_ops, torch_group, strict=True)]
    backends = {"backend": rows["backend"]} if several_backends(frame) else {}
    return pd.DataFrame(
        {
            **hosts,
            **backends,
            "devices": rows["device_set_kind"].map(kind_text),
            "replicas": rows["replicas"],
            "on": [on_text(k, d) for k, d in zip(rows["device_set_kind"], rows["replica_devices"], strict=True)],
            "via": how,
            "bytes": rows["bytes"],
            "µs per all-reduce": rows["time_per_allreduce_s"].astype(float) * 1e6,
            "algbw GB/s": rows["algbw_gbps"].astype(float),
            "busbw GB/s": rows["busbw_gbps"].astype(float),
            "correct": rows["correct"].astype(object),
        }
    )


def via_text(cross_device_ops: str) -> str:
    """TensorFlow's cross-device ops, short: 'CollectiveAllReduce (RING)' -> 'collective ring'."""
    if cross_device_ops.startswith("CollectiveAllReduce (") and cross_device_ops.endswith(")"):
        return "collective " + cross_device_ops.removeprefix("CollectiveAllReduce (")[:-1].lower()
    return cross_device_ops


def on_text(kind: object, replica_devices: object) -> str:
    """Where the replicas ran: 'GPU:0,GPU:1', 'CPU:0,CPU:1', or '2 processes on CPU:0' for a CPU's processes."""
    devices = str(replica_devices).split(",")
    if kind == "cpu-processes":
        return f"{len(devices)} process{'es' if len(devices) > 1 else ''} on {devices[0]}"
    return str(replica_devices)


def _set_text(row: pd.Series, several_hosts: bool) -> str:
    """'torch on 2 processes on CPU:0', 'tensorflow on CPU logical devices CPU:0,CPU:1' (host first if several)."""
    host = f"{row['host']} " if several_hosts else ""
    where = on_text(row["device_set_kind"], row["replica_devices"])
    if row["device_set_kind"] == "cpu-processes":
        return f"{host}{row['backend']} on {where}"
    return f"{host}{row['backend']} on {kind_text(row['device_set_kind'])} {where}"


def scaling_lines(frame: pd.DataFrame) -> list[str]:
    """Per backend, device set and model: each replica count's speedup and efficiency over one replica."""
    rows = scaling_frame(frame)
    if rows.empty:
        return []
    several = rows["host"].nunique() > 1
    lines = []
    for _, part in rows.groupby(SCALING_GROUP, sort=True, dropna=False):
        more = part[part["replicas"] > 1]
        top = part.iloc[-1]
        if more.empty or part["single"].isna().all():
            continue
        steps = "; ".join(
            f"{int(r.replicas)} replicas {fmt_ratio(float(r.speedup))} ({float(r.efficiency):.0%} efficient)"
            for r in more.itertuples()
        )
        note = f" ({SHARED_CPU_NOTE})" if str(top["device_set_kind"]).startswith("cpu") else ""
        lines.append(
            f"Scaling, {top['model']} training, {_set_text(top, several)}: from "
            f"{fmt_number(float(top['single']))} samples/s on 1 replica, {steps}{note}."
        )
    return lines


def allreduce_lines(frame: pd.DataFrame) -> list[str]:
    """Per backend, device set and replica count: the peak bus bandwidth and the smallest message's time."""
    rows = allreduce_frame(frame)
    if rows.empty:
        return []
    several = rows["host"].nunique() > 1
    lines = []
    for _, part in rows.groupby(["host", "run", "backend", "device", "device_set_kind", "replicas"], sort=True):
        best = part.loc[part["busbw_gbps"].astype(float).idxmax()]
        small = part.iloc[0]
        checked = "every result checked and right" if part["correct"].astype(bool).all() else "SOME RESULTS WRONG"
        note = f" ({SHARED_CPU_NOTE})" if str(best["device_set_kind"]).startswith("cpu") else ""
        lines.append(
            f"All-reduce, {_set_text(best, several)}: bus bandwidth peaks at {fmt_number(float(best['busbw_gbps']))} "
            f"GB/s at {fmt_bytes(float(best['bytes']))}; {fmt_bytes(float(small['bytes']))} takes "
            f"{fmt_latency(float(small['time_per_allreduce_s']))} per all-reduce; {checked}{note}."
        )
    return lines


def lines(frame: pd.DataFrame) -> list[str]:
    """The multi-device findings: scaling first, then all-reduce."""
    return scaling_lines(frame) + allreduce_lines(frame)
