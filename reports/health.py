"""A run's GPU health as the reports show it first: the verdict, the facts that decided it, the stragglers.

The verdict is decided when the run is measured (bench.health) and kept in the results file's optional `health`
record (schema 3); a file written before it has none ("not recorded"). `health_badge(run)` is the one-line form
for per-device pages (the scorecard); `summary_lines` and `page_block` are the summary's and the report's first
lines; `compare_gate` is what `compare` says and does when a side was unhealthy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reports.load import Run
from results_format import HealthRecord, RunFile

VERDICT_WORDS = {
    "healthy": "healthy",
    "degraded": "DEGRADED",
    "unhealthy": "UNHEALTHY",
    "unchecked": "not checked",
}
#: the exit status of `compare` when it refuses to call a regression because a side's host was unhealthy
EXIT_UNHEALTHY_SIDE = 3


def record_of(run: Run | RunFile) -> HealthRecord | None:
    """The health record of a run (None in files written before health was recorded)."""
    record = run.record if isinstance(run, Run) else run
    return record.devicebench.health


def _has_gpu(record: RunFile) -> bool:
    return any(d.kind == "gpu" for d in record.devicebench.devices)


def health_badge(run: Run | RunFile) -> tuple[str, str]:
    """(verdict, one-line reason) of a run: healthy, degraded, unhealthy, or unchecked / not recorded with why."""
    health = record_of(run)
    if health is None:
        return "unchecked", "not recorded (the run predates health checks)"
    return health.verdict, health.reason


def straggler_lines(health: HealthRecord | None) -> list[str]:
    """One line per GPU that fell behind its host's median in the every-GPU-at-once check."""
    lines = []
    for check in (health.concurrent or []) if health is not None else []:
        for gpu in check.gpus:
            if gpu.straggler:
                lines.append(
                    f"{gpu.device} is a straggler in {check.workload} at {gpu.figure:.4g} vs the host's median "
                    f"{check.median:.4g} {check.unit} (all GPUs at once): {gpu.reason}"
                )
    return lines


def tool_lines(health: HealthRecord | None) -> list[str]:
    """One line per outside tool run: its status and why."""
    return [
        f"{tool.tool}: {tool.status}" + (f" ({tool.reason})" if tool.reason else "")
        for tool in (health.tools if health is not None else [])
    ]


def unsupported_line(health: HealthRecord | None) -> str | None:
    """Which health counters the driver did not report, once per counter group (with the GPUs and why)."""
    if health is None:
        return None
    groups: dict[str, set[str]] = {}
    for gpu in health.gpus:
        for group, why in gpu.unsupported.items():
            groups.setdefault(f"{group} ({why})", set()).add(str(gpu.index))
    if not groups:
        return None
    return "not reported by the driver: " + "; ".join(
        f"{text} on GPU {', '.join(sorted(gpus, key=int))}" for text, gpus in sorted(groups.items())
    )


def summary_lines(runs: Sequence[Run]) -> list[str]:
    """The summary's first lines: each GPU run's health verdict and reason, then stragglers and tool results."""
    several = len(runs) > 1
    lines = []
    for run in runs:
        health = record_of(run)
        if health is None and not _has_gpu(run.record):
            continue
        if health is not None and health.verdict == "unchecked" and not _has_gpu(run.record) and not health.concurrent:
            continue
        verdict, reason = health_badge(run)
        where = f" ({run.name})" if several else ""
        lines.append(f"health{where}: {VERDICT_WORDS[verdict]}: {reason}")
        lines += [f"health{where}: {line}" for line in straggler_lines(health) + tool_lines(health)]
    return lines


def page_block(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """The report's first block: per run, its verdict, the deciding facts, stragglers, tools, unread counters."""
    blocks = []
    for run in runs:
        health = record_of(run)
        if health is None or (health.verdict == "unchecked" and not _has_gpu(run.record)):
            continue
        degraded = [f.message for f in health.facts if f.level == "degraded" and health.verdict == "unhealthy"]
        blocks.append(
            {
                "run": run.name,
                "verdict": health.verdict,
                "word": VERDICT_WORDS[health.verdict],
                "reason": health.reason,
                "also": degraded,
                "stragglers": straggler_lines(health),
                "tools": tool_lines(health),
                "watch": health.xid_watch,
                "unsupported": unsupported_line(health),
                "gpus": len(health.gpus),
            }
        )
    return blocks


@dataclass(frozen=True)
class HealthGate:
    """What compare says when a side ran on an unhealthy host: the top line and each regressed case's note."""

    sides: tuple[str, ...]  # "baseline", "current"
    reasons: tuple[str, ...]

    @property
    def top_line(self) -> str:
        """The line above the verdicts."""
        which = " and ".join(self.sides)
        return (
            f"**Health: the {which} ran on an unhealthy host** ({'; '.join(self.reasons)}). "
            "A slowdown there is not called a regression: fix the host and measure again "
            f"(exit {EXIT_UNHEALTHY_SIDE} where a regression would have been called)."
        )

    @property
    def case_note(self) -> str:
        """The note on each case the gate would have failed."""
        return f"not called a regression: the {' and '.join(self.sides)} host was unhealthy"


def compare_gate(baseline: Sequence[RunFile], current: Sequence[RunFile]) -> HealthGate | None:
    """The gate's health finding when any run of either side was unhealthy, else None."""
    sides, reasons = [], []
    for side, records in (("baseline", baseline), ("current", current)):
        sick = [h for r in records if (h := record_of(r)) is not None and h.verdict == "unhealthy"]
        if sick:
            sides.append(side)
            reasons.append(f"{side}: {sick[0].reason}")
    return HealthGate(tuple(sides), tuple(reasons)) if sides else None
