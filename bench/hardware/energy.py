"""Energy per case and work per joule (pure).

    idle = idle_power_w([62.1, 61.8, 63.0])                 # watts, measured before the run
    e = case_energy(duration_s=2.0, energy_delta_mj=900_000, idle_power_w=idle)
    e.joules, e.method                                      # 775.8, "energy counter"
    work_per_joule(2.0e12, e.joules, unit=1e9)              # GFLOP/J

The energy comes from NVML's total-energy counter (millijoules since the driver loaded) where the GPU has one,
else from mean sampled power x duration, and says which. The idle power times the duration is subtracted, so
the joules are what the case cost above an idle GPU; the gross figure is kept beside it.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass

METHOD_COUNTER = "energy counter"
METHOD_POWER = "mean power x time (no energy counter)"
METHOD_NONE = "none"


@dataclass(frozen=True)
class CaseEnergy:
    """A case's energy: `joules` net of idle (gross when no idle power is known), with the method used."""

    joules: float | None
    gross_joules: float | None
    idle_joules: float | None
    method: str
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        """The energy as JSON-friendly data."""
        return {
            "joules": _round(self.joules),
            "gross_joules": _round(self.gross_joules),
            "idle_joules": _round(self.idle_joules),
            "method": self.method,
            "note": self.note,
        }


def _round(value: float | None) -> float | None:
    """Round to millijoules, passing None through."""
    return None if value is None else round(value, 3)


def idle_power_w(readings_w: Iterable[float | None]) -> float | None:
    """The idle power from readings taken before the run: their median (robust to one busy sample)."""
    present = [float(r) for r in readings_w if r is not None]
    return statistics.median(present) if present else None


def case_energy(
    duration_s: float,
    energy_delta_mj: float | None = None,
    mean_power_w: float | None = None,
    idle_power_w: float | None = None,
) -> CaseEnergy:
    """The case's energy from the counter delta (mJ), else mean power x duration, minus idle power x duration."""
    if duration_s < 0:
        raise ValueError(f"duration must not be negative, got {duration_s}")
    if energy_delta_mj is not None and energy_delta_mj >= 0:
        gross, method = energy_delta_mj / 1000.0, METHOD_COUNTER
    elif mean_power_w is not None:
        gross, method = mean_power_w * duration_s, METHOD_POWER
    else:
        why = "the energy counter went backwards" if energy_delta_mj is not None else "no energy counter and no power"
        return CaseEnergy(None, None, None, METHOD_NONE, f"no energy: {why}")
    if idle_power_w is None:
        return CaseEnergy(gross, gross, None, method, "idle power unknown: gross energy, idle not subtracted")
    idle = idle_power_w * duration_s
    net = gross - idle
    if net <= 0:
        return CaseEnergy(0.0, gross, idle, method, "the case drew no more than the idle power")
    return CaseEnergy(net, gross, idle, method, f"idle {idle_power_w:g} W x {duration_s:g} s subtracted")


def work_per_joule(work: float | None, joules: float | None, unit: float = 1.0) -> float | None:
    """Work done per joule in `unit`s (unit=1e9 with FLOPs gives GFLOP/J); None when there are no joules."""
    if work is None or joules is None or joules <= 0:
        return None
    return work / unit / joules


def gflop_per_joule(flops: float | None, joules: float | None) -> float | None:
    """GFLOP per joule."""
    return work_per_joule(flops, joules, unit=1e9)


def samples_per_joule(samples: float | None, joules: float | None) -> float | None:
    """Samples (images, sequences, ...) per joule."""
    return work_per_joule(samples, joules)
