"""Run profiles: which cases a run makes and how long each may take (pure data)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from math import ceil
from typing import Any


class ProfileError(ValueError):
    """An unknown profile name."""


@dataclass(frozen=True)
class Profile:
    """How long a run's cases may take, and which workloads it runs; each workload keeps its own sizes per profile.

    (bench/workloads/NAME.py `sizes`, read with Workload.sizes_for: a profile adds its name there.)
    """

    name: str
    description: str
    warmup_calls: int
    min_rounds: int
    max_rounds: int
    target_seconds: float  # timed time per case, within min_rounds..max_rounds
    precision_budget_s: float  # with --precision: timed seconds a case may spend reaching it
    workloads: tuple[str, ...] | None = None  # the workloads it runs; None: every one that is not opt-in
    sustained_s: float = 300.0  # timed seconds of a sustained case (--sustained-minutes overrides)
    peaks_seconds: float = 120.0  # the peak search's budget per GPU dtype (--peaks-seconds overrides)
    peaks_seconds_cpu: float = 2.0  # and on a CPU, which searches small sizes only
    # A workload's sizes for this profile in place of the ones its module declares (a custom profile, a test).
    sizes: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def runs(self, workload: str, opt_in: bool = False) -> bool:
        """Whether this profile makes cases of `workload` (an opt-in one only where the profile names it)."""
        return workload in self.workloads if self.workloads is not None else not opt_in

    def rounds_for(self, seconds_per_call: float) -> int:
        """How many timed rounds a case gets, given one call's time measured during warm-up."""
        if seconds_per_call <= 0:
            return self.max_rounds
        return max(self.min_rounds, min(self.max_rounds, ceil(self.target_seconds / seconds_per_call)))


#: opt-in: one large matmul for minutes; nothing else runs (the peaks profile is this one with its own rounds).
SUSTAINED = Profile(
    name="sustained",
    description="opt-in: a large matmul for --sustained-minutes per device, its result checked every round",
    warmup_calls=2,
    min_rounds=1,
    max_rounds=10**9,
    target_seconds=300.0,
    precision_budget_s=300.0,
    workloads=("sustained",),
)


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            name="smoke",
            description="CI-sized: a few small cases per device, minutes on a 2-core CPU",
            warmup_calls=2,
            min_rounds=5,
            max_rounds=30,
            target_seconds=0.5,
            precision_budget_s=3.0,
        ),
        Profile(
            name="standard",
            description="the default: matmul 128..4096, one MNIST epoch, under 15 minutes on a 2-core CPU",
            warmup_calls=2,
            min_rounds=5,
            max_rounds=100,
            target_seconds=1.5,
            precision_budget_s=8.0,
        ),
        Profile(
            name="full",
            description="for GPU hosts: the book's 100 and 10000, up to 16384, the book's 10 MNIST epochs",
            warmup_calls=3,
            min_rounds=5,
            max_rounds=200,
            target_seconds=3.0,
            precision_budget_s=20.0,
        ),
        SUSTAINED,
        replace(
            SUSTAINED,
            name="peaks",
            description="opt-in: a MAMF-style search of (M, N, K) shapes per dtype for the best matmul TFLOP/s",
            min_rounds=5,
            max_rounds=50,
            target_seconds=1.0,
            precision_budget_s=5.0,
            workloads=("peaks",),
        ),
    )
}


def with_peaks_seconds(profile: Profile, seconds: float | None) -> Profile:
    """`profile` with --peaks-seconds applied to its GPU search budget (ProfileError when it cannot apply)."""
    if seconds is None:
        return profile
    if not seconds > 0:
        raise ProfileError(f"--peaks-seconds must be above 0, got {seconds:g}")
    if not profile.runs("peaks", opt_in=True):
        raise ProfileError(f"--peaks-seconds needs --profile peaks (profile {profile.name} runs no peak search)")
    return replace(profile, peaks_seconds=float(seconds))


def get_profile(name: str) -> Profile:
    """The profile called `name`, or a ProfileError listing the ones that exist."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ProfileError(f"unknown profile {name!r}; profiles: {', '.join(PROFILES)}") from None
