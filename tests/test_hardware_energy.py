"""Energy per case (counter, else power x time, minus idle), work per joule, and the throttle flag."""

from __future__ import annotations

import pytest

from bench.hardware.energy import (
    METHOD_COUNTER,
    METHOD_NONE,
    METHOD_POWER,
    case_energy,
    gflop_per_joule,
    idle_power_w,
    samples_per_joule,
    work_per_joule,
)
from bench.hardware.throttle import THROTTLING, is_throttling, throttle_flag
from bench.nvml_summary import CLOCK_EVENT_REASONS, reason_names


def test_idle_power_is_the_median_of_the_readings() -> None:
    assert idle_power_w([62.0, 61.0, 250.0]) == 62.0
    assert idle_power_w([None, 60.0]) == 60.0
    assert idle_power_w([]) is None


def test_energy_from_the_counter_minus_idle() -> None:
    energy = case_energy(duration_s=2.0, energy_delta_mj=900_000, mean_power_w=400.0, idle_power_w=62.0)
    assert (energy.joules, energy.gross_joules, energy.idle_joules) == (776.0, 900.0, 124.0)
    assert energy.method == METHOD_COUNTER == "energy counter"
    assert energy.note == "idle 62 W x 2 s subtracted"


def test_energy_from_power_times_time_is_labelled() -> None:
    energy = case_energy(duration_s=0.5, energy_delta_mj=None, mean_power_w=300.0, idle_power_w=100.0)
    assert (energy.joules, energy.gross_joules, energy.idle_joules) == (100.0, 150.0, 50.0)
    assert energy.method == METHOD_POWER == "mean power x time (no energy counter)"


def test_a_counter_that_went_backwards_falls_back_to_power() -> None:
    energy = case_energy(duration_s=1.0, energy_delta_mj=-5, mean_power_w=200.0)
    assert energy.method == METHOD_POWER
    assert energy.joules == 200.0
    assert energy.note == "idle power unknown: gross energy, idle not subtracted"


def test_no_energy_and_a_case_at_idle() -> None:
    none = case_energy(duration_s=1.0)
    assert (none.joules, none.method, none.note) == (None, METHOD_NONE, "no energy: no energy counter and no power")
    backwards = case_energy(duration_s=1.0, energy_delta_mj=-1)
    assert backwards.note == "no energy: the energy counter went backwards"
    idle = case_energy(duration_s=1.0, energy_delta_mj=50_000, idle_power_w=60.0)
    assert (idle.joules, idle.note) == (0.0, "the case drew no more than the idle power")
    with pytest.raises(ValueError, match="duration must not be negative"):
        case_energy(duration_s=-1.0, mean_power_w=1.0)


def test_as_dict() -> None:
    assert case_energy(duration_s=1.0, energy_delta_mj=1234, idle_power_w=0.5).as_dict() == {
        "joules": 0.734,
        "gross_joules": 1.234,
        "idle_joules": 0.5,
        "method": "energy counter",
        "note": "idle 0.5 W x 1 s subtracted",
    }


def test_work_per_joule() -> None:
    # a 4096^3 matmul (2 * 4096^3 FLOP) 100 times for 776 J
    assert gflop_per_joule(100 * 2 * 4096**3, 776.0) == pytest.approx(17.71, abs=0.01)
    assert samples_per_joule(60_000, 120.0) == 500.0
    assert work_per_joule(1e12, 0.0) is None
    assert work_per_joule(None, 10.0) is None
    assert gflop_per_joule(1e12, None) is None


# --- throttling -----------------------------------------------------------------------------------------


def test_every_reason_but_idle_counts_as_throttling() -> None:
    assert set(THROTTLING) | {"gpu_idle"} == set(CLOCK_EVENT_REASONS.values())
    assert not is_throttling("gpu_idle")
    assert all(is_throttling(name) for name in THROTTLING)
    assert is_throttling("0x1000")  # a bit this code does not know is flagged, not ignored


def test_the_flag_for_a_case() -> None:
    assert throttle_flag(reason_names(0x1)) == throttle_flag([])
    assert not throttle_flag(["gpu_idle"]).throttled
    assert throttle_flag(["gpu_idle"]).describe() == "not throttled"
    flag = throttle_flag(["gpu_idle", "sw_power_cap", "hw_thermal_slowdown", "sw_power_cap"])
    assert flag.throttled
    assert flag.reasons == ("sw_power_cap", "hw_thermal_slowdown")
    assert flag.describe() == "throttled: software power cap, hardware thermal slowdown"
    assert throttle_flag(reason_names(0x2 | 0x1000)).describe() == (
        "throttled: application clocks set below the maximum, unknown reason 0x1000"
    )
