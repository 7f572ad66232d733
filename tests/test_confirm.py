"""The confirmation step: paired rule (reports.confirm), its command (reports confirm) and the driver's edges."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from reports.cli import main
from reports.confirm import confirm_case, pair_log_ratios
from tests.window_runs import scaled_window
from tools import confirm as driver

BASELINE = Path(__file__).parent / "data" / "compare" / "baseline"
DRIFT = (1.0, 1.3, 0.9, 1.2, 1.05)  # the machine drifts between pairs, alike on both sides of each pair


def test_a_slowdown_the_pairs_show_and_that_reaches_the_threshold_is_confirmed() -> None:
    logs = [math.log(r) for r in (1.20, 1.22, 1.18, 1.21, 1.19)]
    result = confirm_case("c", logs, 0.10, 0.99)
    assert result.confirmed and result.pairs == 5 and result.ratio == pytest.approx(1.20, rel=1e-2)
    assert result.ci_low > 1 and "confirmed" in result.reason


def test_no_change_a_small_change_and_too_few_pairs_are_not_confirmed() -> None:
    same = confirm_case("c", [0.01, -0.02, 0.0, 0.015, -0.01], 0.10, 0.99)
    assert not same.confirmed and "no slowdown they can vouch for" in same.reason
    small = confirm_case("c", [math.log(r) for r in (1.03, 1.031, 1.029, 1.030, 1.032)], 0.10, 0.99)
    assert not small.confirmed and "below the 10% threshold" in small.reason
    few = confirm_case("c", [0.5, 0.5], 0.10, 0.99)
    assert not few.confirmed and "at least 3" in few.reason


def test_pairs_use_each_sides_median() -> None:
    assert pair_log_ratios([[1, 2, 3], [2, 2, 2]], [[2, 4, 6], [1, 1, float("nan")]]) == pytest.approx(
        [math.log(2), math.log(0.5)]
    )


def test_confirm_command_exit_codes_on_drifting_pairs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    base = scaled_window(tmp_path / "base", BASELINE, DRIFT)
    slower = scaled_window(tmp_path / "slower", BASELINE, tuple(1.25 * s * (1 + 0.01 * i) for i, s in enumerate(DRIFT)))
    same = scaled_window(tmp_path / "same", BASELINE, tuple(s * (1 + 0.01 * (-1) ** i) for i, s in enumerate(DRIFT)))
    name = "test_matmul[tensorflow-CPU:0-n256-float32]"
    verdicts = tmp_path / "c.json"
    assert main(["confirm", str(base), str(slower), "--case", name, "--json", str(verdicts)]) == 1
    assert "❌ regression confirmed" in capsys.readouterr().out
    data = json.loads(verdicts.read_text())
    assert [c["name"] for c in data["cases"]] == [name] and data["cases"][0]["confirmed"]
    assert main(["confirm", str(base), str(same), "--case", name]) == 0
    assert "✅ not confirmed" in capsys.readouterr().out
    assert main(["confirm", str(base), str(tmp_path / "nowhere")]) == 2


def test_the_driver_with_nothing_flagged_re_times_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    verdicts = tmp_path / "v.json"
    verdicts.write_text(json.dumps({"to_confirm": []}))
    assert driver.main([str(tmp_path), str(tmp_path), "--out", str(tmp_path / "o"), "--verdicts", str(verdicts)]) == 0
    assert "nothing to confirm" in capsys.readouterr().out
    assert not (tmp_path / "o").exists()
