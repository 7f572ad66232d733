"""The virtual clock the scripted backends run on: seconds pass only when a scripted call (or idle wait) says so."""

from __future__ import annotations

from collections.abc import Callable


class VirtualClock:
    """Seconds that pass only when a scripted call says so; every read moves on by READ_STEP_S.

    The step keeps two reads apart, as a real clock does: pytest-benchmark's timer-precision probe waits for
    two different readings. Listeners hear every advance (the golden plugin polls the fake NVML on them).
    """

    READ_STEP_S = 1e-9

    def __init__(self) -> None:
        self.t = 0.0
        self.listeners: list[Callable[[float], None]] = []

    def now(self) -> float:
        """The time, moving on by READ_STEP_S."""
        self.t += self.READ_STEP_S
        return self.t

    def peek(self) -> float:
        """The time without moving it (for observers that must not change what is timed)."""
        return self.t

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass, then tell the listeners."""
        self.t += seconds
        for listener in list(self.listeners):
            listener(self.t)


CLOCK = VirtualClock()
