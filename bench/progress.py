"""The live line per finished case, the time-left estimate and the `--list` table (pure formatting).

matmul n1024 float32   tensorflow CPU:0     124 GFLOP/s   ±4.1 %   30 rounds   [ 7/25, ~3 min left]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from results_format import Benchmark


def fmt_duration(seconds: float) -> str:
    """A rough duration: '40 s', '3 min', '1 h 5 min'."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def fmt_value(value: float) -> str:
    """A throughput with 3 significant digits and thousands separators."""
    return f"{value:,.0f}" if abs(value) >= 999.5 else f"{value:.3g}"


def fmt_time(seconds: float) -> str:
    """A call's time with a readable unit."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def time_left(done: Mapping[str, Sequence[float]], pending: Sequence[str]) -> float:
    """Seconds the pending cases will likely take: each at its workload's mean so far, else the overall mean."""
    every = [s for times in done.values() for s in times]
    if not pending:
        return 0.0
    if not every:
        return math.nan
    overall = sum(every) / len(every)
    return sum((sum(done[workload]) / len(done[workload])) if done.get(workload) else overall for workload in pending)


def case_line(bench: Benchmark, position: int, total: int, left_s: float, what_width: int = 32) -> str:
    """One finished case: what, where, its throughput (or latency), spread, rounds, and how far the run is."""
    info, stats = bench.extra_info, bench.stats
    label = bench.param or ""
    prefix = f"{info.backend}-{info.device}-"
    what = f"{info.workload} {label.removeprefix(prefix)}"
    result = (
        f"{fmt_value(info.throughput)} {info.throughput_unit}"
        if info.throughput is not None
        else f"{fmt_time(stats.median)} per call"
    )
    spread = f"IQR {stats.iqr / stats.median:.0%}"
    where = f"{info.backend} {info.device}"
    progress = f"[{position:>{len(str(total))}}/{total}, ~{fmt_duration(left_s)} left]"
    if position >= total:
        progress = f"[{position}/{total}]"
    return f"{what:<{what_width}} {where:<18} {result:>18}  {spread:>8}  {stats.rounds:>4} rounds  {progress}"


def what_width(whats: Sequence[str]) -> int:
    """The width of the live lines' first column: the longest 'workload case' of the run (so columns line up)."""
    return max((len(what) for what in whats), default=0)


def skip_line(workload: str, case_id: str, kind: str, reason: str) -> str:
    """One case that produced no number."""
    return f"{workload} {case_id}: {kind}: {reason}"


def list_rows(cases: Sequence[tuple[str, str, str, str, str | None]]) -> list[str]:
    """The `--list` table: one line per case (workload, backend, device, case label, skip reason or None)."""
    lines = []
    width = max((len(label) for _, _, _, label, _ in cases), default=10)
    for workload, backend, device, label, reason in cases:
        status = "runs" if reason is None else f"skipped: {reason}"
        lines.append(f"{workload:<10} {backend:<11} {device:<7} {label:<{width}}  {status}")
    runs = sum(1 for *_, reason in cases if reason is None)
    lines.append(f"{runs} case(s) would run, {len(cases) - runs} skipped")
    return lines
