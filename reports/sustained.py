"""Sustained runs over time: throughput per round, and SM clock, power and temperature from nvml.csv (pure).

Time is seconds since the case's first timed round began: the rounds' own end times (recorded by the sustained
case; the untimed checksum between rounds is included), and the case's NVML samples relative to its first one,
which is taken just before the first round.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from reports.limits import device_record

if TYPE_CHECKING:
    from reports.load import Run

MAX_POINTS = 400  # per series in a plot: longer runs are binned (median per bin)
EDGE_SHARE = 0.1  # "start" and "end" throughput: the median of the first and the last 10 % of the rounds


@dataclass(frozen=True)
class SustainedCase:
    """One sustained case of a run, with what its time series need."""

    host: str
    run: str
    backend: str
    device: str
    device_kind: str
    case_id: str
    n: int
    dtype: str
    seconds: float
    work_per_call: float  # FLOP
    round_s: tuple[float, ...]
    round_end_s: tuple[float, ...]
    nvml_index: int | None
    checksum_rounds: int
    differing_rounds: int
    max_deviation: float
    rtol: float
    throttled: bool | None
    throttle_text: str | None
    first_throttle_s: float | None
    max_temp_c: float | None
    min_sm_clock_mhz: float | None


def sustained_cases(runs: Sequence[Run]) -> list[SustainedCase]:
    """Every measured sustained case of the runs."""

    found = []
    for run in runs:
        for bench in run.record.benchmarks:
            info = bench.extra_info
            if info.workload != "sustained" or info.sustained is None:
                continue
            device = device_record(run, info.backend, info.device)
            index = device.nvml_index if device is not None else None
            mine = (info.nvml or {}).get(str(index)) if index is not None else None
            throttle = info.throttle
            found.append(
                SustainedCase(
                    host=run.host,
                    run=run.name,
                    backend=info.backend,
                    device=info.device,
                    device_kind=info.device_kind,
                    case_id=bench.param or bench.name,
                    n=int(info.params["n"]),
                    dtype=str(info.params["dtype"]),
                    seconds=float(info.params["seconds"]),
                    work_per_call=info.work_per_call,
                    round_s=tuple(bench.stats.data),
                    round_end_s=tuple(info.sustained.round_end_s),
                    nvml_index=index,
                    checksum_rounds=info.sustained.rounds_checked,
                    differing_rounds=info.sustained.differing_rounds,
                    max_deviation=info.sustained.max_deviation,
                    rtol=info.sustained.rtol,
                    throttled=throttle.throttled if throttle else None,
                    throttle_text=throttle.text if throttle else None,
                    first_throttle_s=throttle.first_s if throttle else None,
                    max_temp_c=mine.max_temp_c if mine is not None else None,
                    min_sm_clock_mhz=mine.min_sm_clock_mhz if mine is not None else None,
                )
            )
    return found


def throughput_series(case: SustainedCase, max_points: int = MAX_POINTS) -> pd.DataFrame:
    """GFLOP/s per round against the round's end time, binned to at most `max_points` (median per bin)."""
    rounds = min(len(case.round_s), len(case.round_end_s))
    frame = pd.DataFrame(
        {
            "t_s": np.asarray(case.round_end_s[:rounds], dtype=float),
            "gflops": case.work_per_call / 1e9 / np.asarray(case.round_s[:rounds], dtype=float),
        }
    )
    return binned(frame, "t_s", max_points)


def binned(frame: pd.DataFrame, time: str, max_points: int) -> pd.DataFrame:
    """The frame unchanged when short, else the median of each of `max_points` equal time bins."""
    if len(frame) <= max_points:
        return frame.reset_index(drop=True)
    edges = np.linspace(frame[time].min(), frame[time].max(), max_points + 1)
    bins = np.clip(np.searchsorted(edges, frame[time], side="right") - 1, 0, max_points - 1)
    return frame.groupby(bins).median(numeric_only=True).reset_index(drop=True)


def nvml_series(nvml: pd.DataFrame, case: SustainedCase, max_points: int = MAX_POINTS) -> pd.DataFrame:
    """The case's GPU samples from nvml.csv: t_s since its first sample, SM clock, power, temperature, throttled."""
    columns = ["t_s", "sm_clock_mhz", "power_w", "temp_c", "throttled"]
    if nvml.empty or case.nvml_index is None or "case" not in nvml.columns:
        return pd.DataFrame(columns=columns)
    rows = nvml[
        (nvml["host"] == case.host)
        & (nvml["run"] == case.run)
        & (nvml["case"] == case.case_id)
        & (pd.to_numeric(nvml["gpu_index"], errors="coerce") == case.nvml_index)
    ]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    reasons = rows["throttle_reasons"].fillna("").astype(str) if "throttle_reasons" in rows.columns else None
    series = pd.DataFrame(
        {
            "t_s": rows["t_s"].astype(float) - float(rows["t_s"].astype(float).min()),
            **{c: pd.to_numeric(rows.get(c), errors="coerce") for c in ("sm_clock_mhz", "power_w", "temp_c")},
            "throttled": [_throttling(r) for r in reasons] if reasons is not None else False,
        }
    )
    return binned(series.astype({"throttled": float}), "t_s", max_points)


def _throttling(reasons: str) -> bool:
    """Whether an nvml.csv throttle_reasons cell names a reason other than idle."""
    names = [r for r in reasons.split("|") if r and r != "none"]
    return any(name != "gpu_idle" for name in names)


def edge_throughput(case: SustainedCase, share: float = EDGE_SHARE) -> tuple[float, float]:
    """The median GFLOP/s of the first and the last `share` of the rounds."""
    rates = [case.work_per_call / 1e9 / t for t in case.round_s]
    k = max(1, int(len(rates) * share))
    return statistics.median(rates[:k]), statistics.median(rates[-k:])


def summary_table(cases: Sequence[SustainedCase], labels: Sequence[str]) -> pd.DataFrame:
    """One row per sustained case: duration, rounds, start and end throughput, first throttle, checksums."""
    rows = []
    for case, label in zip(cases, labels, strict=True):
        start, end = edge_throughput(case)
        if case.differing_rounds:
            checks = (
                f"{case.differing_rounds} of {case.checksum_rounds} rounds differed from round 0 within the tolerance "
                f"(at most {case.max_deviation:.2g}, tolerance {case.rtol:g})"
            )
        else:
            checks = f"all {case.checksum_rounds} rounds gave round 0's checksum exactly"
        if case.throttled:
            first = f"after {case.first_throttle_s:.1f} s" if case.first_throttle_s is not None else "yes"
            throttle = f"{first}: {str(case.throttle_text).removeprefix('throttled: ')}"
        else:
            throttle = "not throttled" if case.throttled is False else "n/a: no NVML clock-event reasons"
            throttle = "n/a on a CPU" if case.device_kind == "cpu" else throttle
        rows.append(
            {
                "device": label,
                "n": case.n,
                "dtype": case.dtype,
                "timed s": sum(case.round_s),
                "rounds": len(case.round_s),
                "GFLOP/s at the start": start,
                "GFLOP/s at the end": end,
                "change": end / start - 1 if start else np.nan,
                "first throttle": throttle,
                "max °C": case.max_temp_c,
                "min SM MHz": case.min_sm_clock_mhz,
                "checksums": checks,
            }
        )
    return pd.DataFrame(rows)
