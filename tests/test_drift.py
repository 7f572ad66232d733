"""reports.drift: the machine changing under a run, from the reference case and from round-time trends."""

from __future__ import annotations

import numpy as np
import pytest

from reports.compare import compare
from reports.drift import reference_drift, round_trend
from tests.literal_runs import bench, run

RNG = np.random.default_rng(7)
REFERENCE = list(0.0008 * RNG.lognormal(0.0, 0.03, 50))
SAME = list(0.0008 * RNG.lognormal(0.0, 0.03, 50))
BASE = [1.000, 1.011, 0.992, 1.023, 0.984, 1.005, 1.014, 0.996, 1.002, 1.027, 0.981, 1.008] * 3


def test_the_same_pace_at_start_and_end_is_no_drift() -> None:
    finding = reference_drift(REFERENCE, SAME)
    assert finding is not None and not finding.drifted and finding.size == 0
    assert finding.ci_low < 1 < finding.ci_high
    assert "no drift during the run" in finding.text("current")


def test_a_machine_25_percent_slower_at_the_end_drifted() -> None:
    finding = reference_drift(REFERENCE, [1.25 * t for t in SAME])
    assert finding is not None and finding.drifted
    assert finding.ratio == pytest.approx(1.25, rel=0.03)
    assert 0.15 < finding.size < 0.25  # the least drift the interval vouches for
    assert "ran slower at the end than at the start" in finding.text("current")


def test_a_run_cut_before_its_end_has_no_drift_finding() -> None:
    assert reference_drift(REFERENCE, None) is None


def test_a_steady_climb_of_round_times_is_a_flagged_trend() -> None:
    climbing = [0.010 * (1 + 0.5 * i / 39) * f for i, f in enumerate(RNG.lognormal(0.0, 0.02, 40))]
    trend = round_trend(climbing)
    assert trend is not None and trend.flagged
    assert trend.change == pytest.approx(0.5, abs=0.05)


def test_flat_noise_is_no_trend_and_few_rounds_are_not_judged() -> None:
    trend = round_trend(list(0.010 * RNG.lognormal(0.0, 0.05, 40)))
    assert trend is not None and not trend.flagged
    assert round_trend([0.01, 0.02, 0.03]) is None


def test_a_slowdown_no_larger_than_the_drift_becomes_inconclusive() -> None:
    drifting = (REFERENCE, [1.30 * t for t in SAME])
    slower = [1.2 * x for x in BASE]
    result = compare(run(bench("a", BASE)), run(bench("a", slower), drift=drifting))
    (case,) = result.cases
    assert case.verdict == "inconclusive"
    assert "it may be the drift" in case.reason
    assert result.exit_code == 0
    assert result.drift[1] is not None and result.drift[1].drifted


def test_a_slowdown_well_beyond_the_drift_stays_a_regression() -> None:
    drifting = (REFERENCE, [1.10 * t for t in SAME])
    result = compare(run(bench("a", BASE)), run(bench("a", [2 * x for x in BASE]), drift=drifting))
    assert result.cases[0].verdict == "regression"
    assert result.exit_code == 1
