"""How many back-to-back calls one timed round makes (pure: chosen from warm-up times, tested with literal ones).

A round of one call pays the host's sync and the launch gap every time: a 20 us sync on a 200 us GEMM is 10 %.
As nvbench, Triton's do_bench and torch.utils.benchmark do, a short call is timed in rounds of K calls queued
back to back with one sync at the end, and the per-call figure is the round's time / K. K is the smallest count
that makes the per-round overhead (estimated in warm-up from a round of one call against a round of several)
under 1 % of the round, or else that makes a round last the target (10 ms), whichever is fewer calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

TARGET_ROUND_S = 0.010  # a round this long needs no more calls, whatever its overhead
MAX_OVERHEAD = 0.01  # the per-round overhead allowed, as a fraction of the round
# K aims at half the allowed overhead: the estimate is a difference of two noisy times, the margin keeps it under 1 %
AIM = 0.5
MAX_CALLS = 10_000
PROBE_CALLS = 8  # calls in the warm-up round that estimates the overhead against a round of one


@dataclass(frozen=True)
class Batch:
    """Calls per timed round, why that many, and the warm-up's estimates behind it."""

    calls: int
    reason: str
    overhead_s: float | None = None  # per-round sync and launch overhead (None: not estimated)
    call_s: float | None = None  # one call's own time

    def record(self) -> dict[str, object]:
        """The fields of results_format's Timing this batch fills."""
        return {"calls_per_round": self.calls, "batch_reason": self.reason, "round_overhead_s": self.overhead_s}


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:.3g} us" if seconds < 1e-3 else f"{seconds * 1e3:.3g} ms"


def _at_least(calls: float) -> int:
    """The whole number of calls that reaches `calls` (not one more for a float's last digit), at least 1."""
    return max(1, math.ceil(calls - 1e-9))


def single_calls(reason: str) -> Batch:
    """Rounds of one call, for a stated reason (a latency workload, a cold cache, a long call)."""
    return Batch(1, reason)


def choose_batch(
    single_s: float,
    batch_s: float | None,
    probe_calls: int = PROBE_CALLS,
    target_s: float = TARGET_ROUND_S,
    max_overhead: float = MAX_OVERHEAD,
) -> Batch:
    """K from the warm-up: `single_s` a round of one call (call + sync), `batch_s` a round of `probe_calls` calls.

    Without a batch probe (a call already as long as the target) a round is one call.
    """
    if batch_s is None or single_s >= target_s or probe_calls < 2:
        return Batch(1, f"one call ({_us(single_s)}) lasts at least the {_us(target_s)} round target", None, single_s)
    per_call = (batch_s - single_s) / (probe_calls - 1)
    if per_call <= 0:  # noise larger than a call: count the whole probe as calls, no overhead
        per_call = batch_s / probe_calls
    overhead = max(single_s - per_call, 0.0)
    for_overhead = _at_least(overhead / (AIM * max_overhead * per_call))
    for_target = _at_least(target_s / per_call)
    calls = min(for_overhead, for_target, MAX_CALLS)
    share = overhead / (calls * per_call)
    if calls == MAX_CALLS:
        why = f"at most {MAX_CALLS} calls a round"
    elif calls == 1:
        why = f"one call ({_us(per_call)}) makes the {_us(overhead)} sync and launch overhead {share:.2%} of a round"
    elif calls == for_overhead:
        why = f"the {_us(overhead)} sync and launch overhead is {share:.2%} of a round of {calls} calls"
    else:
        why = f"a round of {calls} calls lasts the {_us(target_s)} target ({share:.2%} of it sync and launch overhead)"
    return Batch(calls, why, overhead, per_call)
