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


def test_two_single_runs_are_paired_round_by_round(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """tools/confirm.py --mode rounds leaves one run per side whose rounds alternated: round i pairs with round i."""
    slower = scaled_window(tmp_path / "s", BASELINE, (1.3,)) / "20261120-080000-gpubox"
    name = "test_matmul[tensorflow-CPU:0-n256-float32]"
    assert main(["confirm", str(BASELINE), str(slower), "--case", name]) == 1
    assert "| 🔴 confirmed |" in capsys.readouterr().out
    assert main(["confirm", str(BASELINE), str(BASELINE), "--case", name]) == 0


def test_the_interleave_plugin_times_a_round_per_go_and_stops_on_stop_in_the_older_runners_shape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import threading

    from tools import interleave_plugin

    fifo_in, fifo_out = tmp_path / "in", tmp_path / "out"
    os.mkfifo(fifo_in)
    os.mkfifo(fifo_out)
    monkeypatch.setenv("DEVICEBENCH_INTERLEAVE_IN", str(fifo_in))
    monkeypatch.setenv("DEVICEBENCH_INTERLEAVE_OUT", str(fifo_out))
    interleave_plugin._pipes.clear()
    answers: list[str] = []

    def drive() -> None:
        with open(fifo_in, "w", buffering=1) as pipe_in, open(fifo_out) as pipe_out:
            answers.append(pipe_out.readline().strip())
            for _ in range(3):
                pipe_in.write("go\n")
                answers.append(pipe_out.readline().strip())
            pipe_in.write("stop\n")

    class Bench:
        """Just enough of pytest-benchmark's fixture."""

        _mode = None

        def _make_stats(self, _: int) -> Bench:
            return self

        def update(self, _: float) -> None:
            """Record a round (ignored)."""

    ticks = iter(range(100))
    driver_thread = threading.Thread(target=drive)
    driver_thread.start()
    times, why = interleave_plugin.time_rounds_benchmark(Bench(), lambda: None, lambda: float(next(ticks)), None)
    driver_thread.join(5)
    interleave_plugin._pipes.clear()
    assert times == [1.0, 1.0, 1.0] and why == "rounds"
    assert answers == ["ready", "1.0", "1.0", "1.0"]


def _driven(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rounds: int) -> tuple[list[str], object]:
    """FIFOs for the interleave plugin and a thread that sends `go` `rounds` times, then `stop`."""
    import os
    import threading

    from tools import interleave_plugin

    fifo_in, fifo_out = tmp_path / "in", tmp_path / "out"
    os.mkfifo(fifo_in)
    os.mkfifo(fifo_out)
    monkeypatch.setenv("DEVICEBENCH_INTERLEAVE_IN", str(fifo_in))
    monkeypatch.setenv("DEVICEBENCH_INTERLEAVE_OUT", str(fifo_out))
    interleave_plugin._pipes.clear()
    answers: list[str] = []

    def drive() -> None:
        with open(fifo_in, "w", buffering=1) as pipe_in, open(fifo_out) as pipe_out:
            answers.append(pipe_out.readline().strip())
            for _ in range(rounds):
                pipe_in.write("go\n")
                answers.append(pipe_out.readline().strip())
            pipe_in.write("stop\n")

    thread = threading.Thread(target=drive, daemon=True)
    thread.start()
    return answers, thread


def test_the_interleave_plugin_replaces_the_batched_round_loop_of_this_runner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # bench.runner.time_rounds(one_round, policy, check, after_round) -> Rounds since the batched rounds: the plugin
    # written for the older shape failed every case ("'function' object has no attribute '_make_stats'")
    import bench.runner
    from tools import interleave_plugin

    monkeypatch.setattr(bench.runner, "time_rounds", bench.runner.time_rounds)
    monkeypatch.setattr(bench.runner, "single_call_reason", bench.runner.single_call_reason)
    interleave_plugin.pytest_configure(None)
    assert bench.runner.time_rounds is interleave_plugin.time_rounds
    # both sides time one call per round: batches picked by each process's own warm-up would not pair
    assert "interleaved confirmation" in bench.runner.single_call_reason(None, None, False, False)
    answers, thread = _driven(tmp_path, monkeypatch, 3)
    marks: list[int] = []
    rounds = bench.runner.time_rounds(lambda: ("out", 0.5, 0.25), None, None, lambda: marks.append(1))
    thread.join(5)  # type: ignore[attr-defined]
    interleave_plugin._pipes.clear()
    assert isinstance(rounds, bench.runner.Rounds)
    assert (rounds.host_s, rounds.device_s, rounds.stopped_by) == ([0.5] * 3, [0.25] * 3, "rounds")
    assert answers == ["ready", "0.5", "0.5", "0.5"] and marks == [1, 1, 1]


def test_the_driver_does_not_wait_for_ever_on_a_worker_that_ended_before_its_first_round(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    import argparse
    import threading

    from tools import confirm as driver

    args = argparse.Namespace(
        out=tmp_path / "out", base_src=tmp_path, head_src=tmp_path, python="false", pairs=3
    )  # `false -m pytest …` exits 1 at once, as a pytest whose cases all fail before timing
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(driver.interleave_rounds(args, ["x"], [], 0.0)), daemon=True)
    thread.start()
    thread.join(20)
    assert codes == [2]
    assert "the base process ended (exit 1) before its first round" in capsys.readouterr().err
