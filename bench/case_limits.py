"""A GPU case's energy and throttling records, from the NVML summary of its timed rounds (pure).

The NVML window of a case covers exactly its timed rounds (the sampler starts just before the first and stops
just after the last), so the energy counter's delta over the window is what those rounds cost; the idle power
measured before the run, times the window, is subtracted (bench/hardware/energy.py). Only the case's own GPU
counts: a CPU case has neither record, and another GPU's clocks say nothing about this case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.hardware.energy import METHOD_NONE, CaseEnergy, case_energy
from bench.hardware.throttle import throttle_flag
from bench.round_clocks import RoundClock
from results_format import MIN_ENERGY_WINDOW_S


@dataclass(frozen=True)
class GpuContext:
    """The NVML GPU a case runs on and its idle power (None: not measured)."""

    nvml_index: int
    idle_power_w: float | None = None


def energy_record(summary: Mapping[str, Any], gpu: GpuContext, calls: int) -> dict[str, Any] | None:
    """results_format's CaseEnergy for the case's GPU, or None when NVML sampled it not at all."""
    if not summary.get("samples"):
        return None
    window = float(summary.get("duration_s") or 0.0)
    counter_j = summary.get("energy_j")
    energy = case_energy(
        duration_s=window,
        energy_delta_mj=None if counter_j is None else float(counter_j) * 1000.0,
        mean_power_w=summary.get("mean_power_w"),
        idle_power_w=gpu.idle_power_w,
    )
    notes = [energy.note] if energy.note else []
    if window < MIN_ENERGY_WINDOW_S and energy.joules is not None:
        energy = CaseEnergy(None, None, None, METHOD_NONE)  # the counter cannot resolve so short a window
        notes = [
            f"no energy figure: {summary.get('samples')} NVML samples over {window:.3f} s, shorter than the "
            f"{MIN_ENERGY_WINDOW_S:g} s the energy counter needs (a longer case: --precision or --profile full)"
        ]
    return {
        "nvml_index": gpu.nvml_index,
        **energy.as_dict(),
        "idle_power_w": gpu.idle_power_w,
        "window_s": round(window, 4),
        "calls": max(calls, 1),
        "joules_per_call": None if energy.joules is None else round(energy.joules / max(calls, 1), 6),
        "mean_power_w": summary.get("mean_power_w"),
        "note": "; ".join(notes),
    }


def throttle_record(
    summary: Mapping[str, Any], gpu: GpuContext, clocks: Sequence[RoundClock] = ()
) -> dict[str, Any] | None:
    """results_format's CaseThrottle for the case's GPU, or None when NVML gave no clock-event reasons.

    `clocks`, one per timed round where known, add each round's reasons and lowest SM clock.
    """
    if summary.get("throttled") is None:
        return None
    flag = throttle_flag(summary.get("throttle_reasons") or ())
    record: dict[str, Any] = {
        "nvml_index": gpu.nvml_index,
        "throttled": flag.throttled,
        "reasons": list(flag.reasons),
        "text": flag.describe(),
        "first_s": summary.get("first_throttle_s"),
    }
    if clocks:
        record["round_clocks"] = round_clock_runs(clocks)
        record["rounds_throttled"] = sum(1 for c in clocks if c.throttled)
    return record


def round_clock_runs(clocks: Sequence[RoundClock]) -> list[dict[str, Any]]:
    """Per-round clocks as runs of consecutive rounds with the same reasons and SM clock (results' RoundClockRun)."""
    runs: list[dict[str, Any]] = []
    for clock in clocks:
        reasons = list(clock.reasons)
        if runs and runs[-1]["reasons"] == reasons and runs[-1]["sm_clock_mhz"] == clock.sm_clock_mhz:
            runs[-1]["rounds"] += 1
        else:
            runs.append({"rounds": 1, "reasons": reasons, "sm_clock_mhz": clock.sm_clock_mhz})
    return runs
