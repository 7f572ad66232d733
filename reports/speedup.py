"""GPU/CPU speedup and crossover arithmetic on the tidy frame (pure functions, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

SPEEDUP_COLUMNS = [
    "host", "run", "backend", "gpu", "gpu_name", "cpu", "cpu_name", "key",
    "gpu_throughput", "cpu_throughput", "throughput_unit", "speedup",
]  # fmt: skip

#: what each workload's speedup is keyed on, and the rows it compares.
WORKLOAD_KEYS: dict[str, tuple[str, ...]] = {
    "matmul": ("n",),
    "mnist": ("mode",),
    "tfdata": ("variant",),
}


def speedups(
    frame: pd.DataFrame,
    workload: str = "matmul",
    keys: Sequence[str] | None = None,
    dtype: str | None = "float32",
) -> pd.DataFrame:
    """GPU throughput / CPU throughput per key for every GPU and CPU of the same run and backend.

    Rows of ``workload`` are paired on host, run, backend and ``keys`` (default: WORKLOAD_KEYS);
    where the frame has a ``dtype`` column and ``dtype`` is given, only that dtype is compared.
    The ``key`` column holds the value of the single key (or a tuple for several).
    """
    keys = list(keys or WORKLOAD_KEYS.get(workload, ()))
    empty = pd.DataFrame(columns=[*SPEEDUP_COLUMNS, *keys])
    if frame.empty or not keys or any(k not in frame.columns for k in keys):
        return empty
    rows = frame[(frame["workload"] == workload) & frame["throughput"].notna()]
    if dtype is not None and "dtype" in rows.columns:
        rows = rows[rows["dtype"].isna() | (rows["dtype"] == dtype)]
    rows = rows.dropna(subset=keys)
    ids = ["host", "run", "backend", *keys]
    wanted = ["device", "device_name", "throughput", "throughput_unit"]
    gpu = rows[rows["device_kind"] == "gpu"][ids + wanted]
    cpu = rows[rows["device_kind"] == "cpu"][ids + wanted]
    pairs = gpu.merge(cpu, on=ids, suffixes=("_gpu", "_cpu"))
    if pairs.empty:
        return empty
    out = pd.DataFrame(
        {
            "host": pairs["host"],
            "run": pairs["run"],
            "backend": pairs["backend"],
            "gpu": pairs["device_gpu"],
            "gpu_name": pairs["device_name_gpu"],
            "cpu": pairs["device_cpu"],
            "cpu_name": pairs["device_name_cpu"],
            "key": pairs[keys[0]] if len(keys) == 1 else list(zip(*(pairs[k] for k in keys), strict=True)),
            "gpu_throughput": pairs["throughput_gpu"].astype(float),
            "cpu_throughput": pairs["throughput_cpu"].astype(float),
            "throughput_unit": pairs["throughput_unit_gpu"],
            "speedup": pairs["throughput_gpu"].astype(float) / pairs["throughput_cpu"].astype(float),
        }
    )
    for k in keys:
        out[k] = pairs[k]
    return out.sort_values(["host", "run", "backend", "gpu", "cpu", *keys]).reset_index(drop=True)


def crossover(sizes: Sequence[float], ratios: Sequence[float], threshold: float = 1.0) -> float | None:
    """The smallest measured size from which the GPU wins (ratio > threshold) at every larger size.

    Returns None when the GPU does not win at the largest measured size (or nothing was measured).
    """
    pairs = sorted(zip(sizes, ratios, strict=True))
    answer = None
    for size, ratio in reversed(pairs):
        if ratio > threshold:
            answer = size
        else:
            break
    return answer


def crossovers(speedup: pd.DataFrame, threshold: float = 1.0) -> pd.DataFrame:
    """The crossover size per host, run, GPU and CPU of a matmul speedup table."""
    columns = ["host", "run", "backend", "gpu", "cpu", "crossover", "smallest", "largest"]
    rows = []
    if not speedup.empty:
        for (host, run, backend, gpu, cpu), part in speedup.groupby(
            ["host", "run", "backend", "gpu", "cpu"], sort=True
        ):
            sizes = [float(s) for s in part["key"]]
            rows.append(
                {
                    "host": host,
                    "run": run,
                    "backend": backend,
                    "gpu": gpu,
                    "cpu": cpu,
                    "crossover": crossover(sizes, list(part["speedup"]), threshold),
                    "smallest": min(sizes),
                    "largest": max(sizes),
                }
            )
    return pd.DataFrame(rows, columns=columns)


def ratio_at(speedup: pd.DataFrame, key: object) -> pd.DataFrame:
    """The speedup rows measured at one key (e.g. n=10000)."""
    if speedup.empty:
        return speedup
    return speedup[speedup["key"] == key]
