"""Each timed round's GPU clocks from the NVML samples taken while it ran, and which rounds the headline keeps (pure).

NVML is sampled in the background (every 20 ms by default) while a case is timed; the runner notes after every
round how many samples there were, so round i owns the samples taken between the end of round i-1 and its own end.
A round short enough to see no sample of its own takes the state of the last sample before its end (the clocks in
effect). A round under a power or thermal clock event ran slower than the GPU can: the headline median leaves it
out (it stays in the record, with the share left out stated), as nvbench does (NVIDIA/nvbench PR #206); when every
round was throttled, all of them are kept and the case says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.nvml_summary import Sample, reason_names

#: clock-event reasons that mean power or heat held the clocks down (bench.nvml_summary's names)
POWER_OR_THERMAL = frozenset(
    {"sw_power_cap", "hw_slowdown", "sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown"}
)


@dataclass(frozen=True)
class RoundClock:
    """What NVML saw of one GPU during one round: its clock-event reasons and lowest SM clock."""

    reasons: tuple[str, ...]
    sm_clock_mhz: int | None

    @property
    def throttled(self) -> bool:
        """Whether a power or thermal clock event held this round back."""
        return any(r in POWER_OR_THERMAL for r in self.reasons)


@dataclass(frozen=True)
class Headline:
    """Which rounds the headline median uses, and what was left out."""

    kept: tuple[int, ...]
    left_out: int
    every_round_throttled: bool

    @property
    def text(self) -> str:
        """What the headline is made of, in words."""
        if self.every_round_throttled:
            return "every round ran under a power or thermal clock event: all are kept, the figure is throttled"
        if self.left_out:
            return f"{self.left_out} of {self.left_out + len(self.kept)} rounds left out (power or thermal clock event)"
        return "all rounds"


def _state(samples: Sequence[Sample]) -> RoundClock:
    reasons: dict[str, None] = {}
    clocks = [s.sm_clock_mhz for s in samples if s.sm_clock_mhz is not None]
    for s in samples:
        if s.throttle_mask is not None:
            reasons.update(dict.fromkeys(reason_names(s.throttle_mask)))
    return RoundClock(tuple(reasons), min(clocks) if clocks else None)


def round_clocks(samples: Sequence[Sample], marks: Sequence[int], gpu_index: int, first: int = 0) -> list[RoundClock]:
    """One RoundClock per round: `marks[i]` is the length of the sample list when round i ended.

    `samples` is the whole list the marks index (from `first`, where the case's window began); only `gpu_index`'s
    samples count. A round with no sample of its own takes the last one before its end; None of those: no reasons.
    """
    out: list[RoundClock] = []
    start = first
    last: Sample | None = None
    for mark in marks:
        own = [s for s in samples[start:mark] if s.gpu_index == gpu_index]
        if own:
            last = own[-1]
        out.append(_state(own if own else [last] if last is not None else []))
        start = max(start, mark)
    return out


def headline(clocks: Sequence[RoundClock], rounds: int) -> Headline:
    """The rounds the headline median keeps: all but the throttled ones, unless every round was throttled."""
    if len(clocks) != rounds:  # no per-round clocks (no NVML): every round counts
        return Headline(tuple(range(rounds)), 0, False)
    kept = tuple(i for i, clock in enumerate(clocks) if not clock.throttled)
    if not kept:
        return Headline(tuple(range(rounds)), 0, True)
    return Headline(kept, rounds - len(kept), False)
