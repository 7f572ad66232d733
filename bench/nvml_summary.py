"""NVML samples, their per-case summary and the nvml.csv timeline (pure: no NVML calls here)."""

from __future__ import annotations

import csv
import statistics
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from bench.hardware.throttle import throttle_flag

CSV_COLUMNS = (
    "t_s",
    "case",
    "gpu_index",
    "gpu_uuid",
    "mem_used_mib",
    "proc_mem_mib",
    "util_gpu_pct",
    "util_mem_pct",
    "power_w",
    "energy_mj",
    "sm_clock_mhz",
    "temp_c",
    "throttle_reasons",
)

# NVML's clock-event ("throttle") reason bits; the values are part of NVML's ABI.
CLOCK_EVENT_REASONS: dict[int, str] = {
    0x001: "gpu_idle",
    0x002: "applications_clocks_setting",
    0x004: "sw_power_cap",
    0x008: "hw_slowdown",
    0x010: "sync_boost",
    0x020: "sw_thermal_slowdown",
    0x040: "hw_thermal_slowdown",
    0x080: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
    0x200: "board_limit",
    0x400: "reliability",
}
# Which of them count as throttling (every reason but idle) is decided in bench.hardware.throttle.

MIB = 1024 * 1024


class Sample(NamedTuple):
    """One poll of one GPU; None means the driver does not report that metric."""

    t_s: float
    case: str
    gpu_index: int
    gpu_uuid: str
    mem_used_mib: float | None
    proc_mem_mib: float | None
    util_gpu_pct: float | None
    util_mem_pct: float | None
    power_w: float | None
    energy_mj: int | None
    sm_clock_mhz: int | None
    temp_c: int | None
    throttle_mask: int | None
    # PIDs of the GPU's compute processes (None: the driver does not list them).
    proc_pids: tuple[int, ...] | None = None


def reason_names(mask: int) -> list[str]:
    """The names of the clock-event reason bits set in `mask` (unknown bits as hex)."""
    names = [name for bit, name in CLOCK_EVENT_REASONS.items() if mask & bit]
    unknown = mask & ~sum(CLOCK_EVENT_REASONS)
    if unknown:
        names.append(f"0x{unknown:x}")
    return names


def summarize(
    samples: Sequence[Sample],
    gpus: Mapping[int, Mapping[str, object]],
    pid: int,
    error: str | None = None,
) -> dict[str, dict[str, object]]:
    """Per-GPU summary of one case's samples, keyed by NVML index as a string (`extra_info["nvml"]`)."""
    by_gpu: dict[int, list[Sample]] = {index: [] for index in gpus}
    for sample in samples:
        by_gpu.setdefault(sample.gpu_index, []).append(sample)
    return {str(index): _summarize_gpu(rows, gpus.get(index, {}), pid, error) for index, rows in by_gpu.items()}


def _summarize_gpu(
    rows: Sequence[Sample], meta: Mapping[str, object], pid: int, error: str | None
) -> dict[str, object]:
    """The summary of one GPU's samples."""
    mem = _present(r.mem_used_mib for r in rows)
    proc = _present(r.proc_mem_mib for r in rows)
    energy = _present(r.energy_mj for r in rows)
    masks = _present(r.throttle_mask for r in rows)
    seen = sorted({name for mask in masks for name in reason_names(int(mask))}, key=_reason_order)
    flag = throttle_flag(seen)
    first_throttle = next(
        (
            r.t_s - rows[0].t_s
            for r in rows
            if r.throttle_mask and throttle_flag(reason_names(r.throttle_mask)).throttled
        ),
        None,
    )
    energy_j = None
    if len(energy) >= 2 and energy[-1] >= energy[0]:
        energy_j = round((energy[-1] - energy[0]) / 1000.0, 3)
    attributed, why = _attribution(rows, pid)
    duration = round(rows[-1].t_s - rows[0].t_s, 4) if rows else 0.0
    return {
        "name": meta.get("name"),
        "uuid": meta.get("uuid"),
        "samples": len(rows),
        "duration_s": duration,
        "peak_mem_mib": _round(max(mem) if mem else None, 1),
        "mean_mem_mib": _round(statistics.fmean(mem) if mem else None, 1),
        "peak_proc_mem_mib": _round(max(proc) if proc else None, 1),
        "mean_proc_mem_mib": _round(statistics.fmean(proc) if proc else None, 1),
        "process_memory_attributed": attributed,
        "process_memory_reason": why,
        "mean_util_gpu_pct": _mean(r.util_gpu_pct for r in rows),
        "mean_util_mem_pct": _mean(r.util_mem_pct for r in rows),
        "mean_power_w": _mean(r.power_w for r in rows),
        "max_power_w": _max(r.power_w for r in rows),
        "energy_j": energy_j,
        "max_temp_c": _max(r.temp_c for r in rows),
        "max_sm_clock_mhz": _max(r.sm_clock_mhz for r in rows),
        "min_sm_clock_mhz": _min(r.sm_clock_mhz for r in rows),
        "throttled": flag.throttled if masks else None,
        "throttle_reasons": list(flag.reasons),
        "first_throttle_s": _round(first_throttle, 4),  # since the case's first sample
        "clock_event_reasons": seen,
        "error": error,
    }


def _attribution(rows: Sequence[Sample], pid: int) -> tuple[bool, str]:
    """Whether this process's GPU memory could be read, and if not, why."""
    if any(r.proc_mem_mib is not None for r in rows):
        return True, ""
    if not rows:
        return False, "no samples"
    listed = [r.proc_pids for r in rows if r.proc_pids is not None]
    if not listed:
        return False, "the driver does not list compute processes on this GPU"
    others = sorted({p for pids in listed for p in pids})
    if pid in others:
        return False, "the driver does not report per-process memory on this GPU (WDDM or MIG)"
    if not others:
        return False, "no compute process on this GPU while the case ran"
    shown = ", ".join(str(p) for p in others[:8]) + (", ..." if len(others) > 8 else "")
    return False, (
        f"this process (pid {pid}) is not among the GPU's compute processes (pids {shown}); "
        "inside a container NVML reports host PIDs: run it with --pid=host"
    )


def write_csv(path: str | Path, samples: Iterable[Sample]) -> int:
    """Write the timeline to `path` (CSV_COLUMNS; empty cell = not available); returns the row count."""
    count = 0
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for s in samples:
            writer.writerow(csv_row(s))
            count += 1
    return count


def append_csv(path: str | Path, samples: Iterable[Sample]) -> int:
    """Append samples to the timeline at `path`, writing the header first when the file is new or empty."""
    target = Path(path)
    fresh = not target.exists() or target.stat().st_size == 0
    count = 0
    with target.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if fresh:
            writer.writerow(CSV_COLUMNS)
        for s in samples:
            writer.writerow(csv_row(s))
            count += 1
        handle.flush()
    return count


def csv_row(s: Sample) -> list[object]:
    """One sample as the cells of an nvml.csv row."""
    reasons = "" if s.throttle_mask is None else ("|".join(reason_names(s.throttle_mask)) or "none")
    return [
        f"{s.t_s:.4f}",
        s.case,
        s.gpu_index,
        s.gpu_uuid,
        _cell(s.mem_used_mib),
        _cell(s.proc_mem_mib),
        _cell(s.util_gpu_pct),
        _cell(s.util_mem_pct),
        _cell(s.power_w),
        _cell(s.energy_mj),
        _cell(s.sm_clock_mhz),
        _cell(s.temp_c),
        reasons,
    ]


def _cell(value: float | int | None) -> str:
    """A CSV cell: empty for None, integers as such, floats with up to 3 decimals."""
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _reason_order(name: str) -> int:
    """Sort key: NVML's bit order, unknown bits last."""
    names = list(CLOCK_EVENT_REASONS.values())
    return names.index(name) if name in names else len(names)


def _present(values: Iterable[float | int | None]) -> list[float]:
    """The values that are not None."""
    return [v for v in values if v is not None]


def _round(value: float | None, digits: int) -> float | None:
    """`round` that passes None through."""
    return None if value is None else round(value, digits)


def _mean(values: Iterable[float | int | None]) -> float | None:
    """Mean of the present values, rounded to 0.1 (None when there are none)."""
    present = _present(values)
    return round(statistics.fmean(present), 1) if present else None


def _max(values: Iterable[float | int | None]) -> float | None:
    """Max of the present values (None when there are none)."""
    present = _present(values)
    return max(present) if present else None


def _min(values: Iterable[float | int | None]) -> float | None:
    """Min of the present values (None when there are none)."""
    present = _present(values)
    return min(present) if present else None
