"""Which NVML clock-event reasons count as throttling, and a flag for a case from the reasons seen (pure).

A case is flagged when NVML reported any reason other than idle while it ran: each of them means the clocks
were below what the workload could have had, so its timings (and % of peak) understate the hardware.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# NVML's clock-event reason names (as bench.nvml_summary.reason_names gives them) -> why each counts.
THROTTLING: dict[str, str] = {
    # The user or an admin pinned application clocks below the maximum (nvidia-smi -ac): the run did not get the
    # clocks the peak figures assume.
    "applications_clocks_setting": "application clocks set below the maximum",
    # The power draw hit the software power limit (default or lowered with nvidia-smi -pl): the classic
    # "power-capped" state of a saturated GPU.
    "sw_power_cap": "software power cap",
    # Hardware slowdown (thermal or power-brake assertion by the board): clocks cut by at least half.
    "hw_slowdown": "hardware slowdown",
    # Sync boost: clocks held down to match the slowest GPU of a sync-boost group.
    "sync_boost": "held to the group's clocks (sync boost)",
    # The driver lowered clocks to keep the GPU or memory under its temperature limit.
    "sw_thermal_slowdown": "software thermal slowdown",
    # The board's thermal sensor forced a hardware slowdown.
    "hw_thermal_slowdown": "hardware thermal slowdown",
    # An external power-brake signal (e.g. the chassis PSU) forced a slowdown.
    "hw_power_brake_slowdown": "hardware power brake",
    # Clocks limited by the display clock setting.
    "display_clock_setting": "display clock setting",
    # Newer drivers' board-limit and reliability reasons: clocks held below maximum by the board's or the chip's
    # own protective limits; still below what the peak figures assume.
    "board_limit": "board limit",
    "reliability": "reliability limit",
}
# Idle is not throttling: the clocks are low because there is nothing to run.
NOT_THROTTLING = frozenset({"gpu_idle"})


@dataclass(frozen=True)
class ThrottleFlag:
    """Whether a case was throttled and by which reasons (in the order seen)."""

    throttled: bool
    reasons: tuple[str, ...]

    def describe(self) -> str:
        """Like "throttled: software power cap, hardware thermal slowdown", or "not throttled"."""
        if not self.throttled:
            return "not throttled"
        return "throttled: " + ", ".join(THROTTLING.get(r, f"unknown reason {r}") for r in self.reasons)


def is_throttling(reason: str) -> bool:
    """Whether one reason name counts as throttling: everything but idle, unknown bits included."""
    return reason not in NOT_THROTTLING


def throttle_flag(reasons: Iterable[str]) -> ThrottleFlag:
    """The flag for a case from the clock-event reason names NVML reported while it ran."""
    seen = tuple(dict.fromkeys(r for r in reasons if is_throttling(r)))
    return ThrottleFlag(throttled=bool(seen), reasons=seen)
