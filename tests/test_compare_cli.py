"""`python -m reports compare`: exit codes, outputs and one-line errors on the golden runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reports.cli import main
from tests.window_runs import scaled_window

DATA = Path(__file__).parent / "data" / "compare"
BAD = Path(__file__).parent / "data" / "bad"
BASELINE = DATA / "baseline"


def one_error_line(err: str) -> str:
    """The single line written to stderr, checked to be one line starting with 'error: '."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


def test_regressed_run_exits_1_with_markdown_and_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # Across runs a regression needs the between-run noise: here from a history window of five runs
    # (before issue 19, one run per side was judged on its rounds alone).
    md, verdicts = tmp_path / "out" / "compare.md", tmp_path / "verdicts.json"
    history = scaled_window(tmp_path / "history", BASELINE)
    argv = ["compare", str(BASELINE), str(DATA / "regressed"), "--history", str(history)]
    code = main([*argv, "--markdown", str(md), "--json", str(verdicts)])
    out = capsys.readouterr().out
    assert code == 1
    assert md.read_text() == out
    assert "history of 5 runs" in out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "verdict" not in line]
    # n512 was `unchanged` on its rounds alone; across runs (its 4 degrees of freedom and 16 lent by the other
    # four cases) its MDE is above 10 %.
    assert [row.split("|")[1].split()[-1] for row in rows] == [
        "regression", "missing", "inconclusive", "inconclusive", "inconclusive", "improvement", "new",
    ]  # fmt: skip
    assert "test_matmul[tensorflow-CPU:0-n256-float32]" in rows[0]
    # before pooling the cases' between-run variance (4 degrees of freedom): +70 … +135 %
    assert "+100% time across runs, interval +85 … +116%" in rows[0]
    assert "oom: out of memory on GPU:0: ResourceExhaustedError: OOM when allocating tensor" in rows[1]
    assert "within runs alone: unchanged" in next(row for row in rows if "n512" in row)
    data = json.loads(verdicts.read_text())
    assert data["exit_code"] == 1
    assert data["summary"] == {
        "regression": 1, "missing": 1, "inconclusive": 3, "version-changed": 0, "improvement": 1, "new": 1,
        "unchanged": 0,
    }  # fmt: skip
    n256 = data["cases"][0]["across"]
    assert n256["df"] == 20 and n256["df_case"] == 4 and n256["confirm"] and n256["runs_base"] == 1
    # every case's history scaled alike: the cases agree, so the prior lends all the other cases' degrees of freedom
    assert data["between_prior"]["cases"] == 5 and data["between_prior"]["df_sum"] == 20
    assert data["between_prior"]["df"] is None  # infinite: JSON null
    assert n256["aa_false_alarms"] == {"flagged": 0, "pairs": 5}  # from the history window
    # estimated slower, with a slowdown of 10 % not ruled out across runs: n256 (+100 %) and tfdata (+2 %); n512's
    # estimate is a hair faster in the golden runs (batched rounds), so it is not re-timed
    assert data["to_confirm"] == [
        "test_matmul[tensorflow-CPU:0-n256-float32]",
        "test_tfdata[tensorflow-CPU:0-autotune-cache-prefetch-e60000]",
    ]
    assert data["machine"] == {"differences": [], "allowed": False, "notes": []}


def test_one_run_per_side_without_history_is_at_most_inconclusive(capsys: pytest.CaptureFixture) -> None:
    assert main(["compare", str(BASELINE), str(DATA / "regressed")]) == 0
    out = capsys.readouterr().out
    assert "between-run noise unknown" in out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "verdict" not in line]
    n256 = next(row for row in rows if "n256" in row)
    assert "🟡 inconclusive" in n256 and "within runs alone: regression" in n256
    assert not [row for row in rows if "regression |" in row or "improvement |" in row]


def test_a_window_of_one_run_says_the_between_run_noise_is_unknown(tmp_path: Path, capsys) -> None:
    window = scaled_window(tmp_path / "w", BASELINE, scales=(1.0,))
    assert main(["compare", str(window), str(DATA / "regressed")]) == 0
    assert "holds one complete run: its between-run noise is unknown" in capsys.readouterr().out


def test_a_window_leaves_incomplete_runs_out_with_a_note(tmp_path: Path, capsys) -> None:
    window = scaled_window(tmp_path / "w", BASELINE)
    shutil.copytree(INCOMPLETE / "20261124-100000-stopbox", window / "20261124-100000-stopbox")
    main(["compare", str(window), str(DATA / "same"), "--allow-machine-change"])
    out = capsys.readouterr().out
    assert "(5 runs)" in out and "1 incomplete run(s) left out: 20261124-100000-stopbox (incomplete" in out


def test_a_window_against_a_regressed_run_exits_1(tmp_path: Path, capsys) -> None:
    window = scaled_window(tmp_path / "w", BASELINE)
    assert main(["compare", str(window), str(DATA / "regressed")]) == 1
    assert main(["compare", str(window), str(DATA / "same")]) == 0
    out = capsys.readouterr().out
    assert "A/A in window" in out and "| 0/5 |" in out


def test_a_a_pair_exits_0(capsys: pytest.CaptureFixture) -> None:
    assert main(["compare", str(BASELINE), str(DATA / "same")]) == 0
    out = capsys.readouterr().out
    assert "✅ no regression" in out
    assert "regression |" not in out


def test_json_file_given_directly_and_baseline_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    scaled_window(tmp_path / "results" / "baselines" / "main", BASELINE)
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "results/baselines/main", str(DATA / "same" / "benchmarks.json")]) == 0
    assert main(["compare", "main", str(DATA / "regressed")]) == 1  # a bare name under results/baselines/
    capsys.readouterr()


def test_machine_change_is_refused_then_allowed(capsys: pytest.CaptureFixture) -> None:
    assert main(["compare", str(BASELINE), str(DATA / "other-driver")]) == 2
    captured = capsys.readouterr()
    line = one_error_line(captured.err)
    assert "NVIDIA driver: 555.42.06 -> 560.35.03" in line
    assert "tensorflow version: 2.21.0 -> 2.20.0" in line
    assert "--allow-machine-change" in line
    assert captured.out == ""

    assert main(["compare", str(BASELINE), str(DATA / "other-driver"), "--allow-machine-change"]) == 0
    captured = capsys.readouterr()
    assert "warning: machine changed: NVIDIA driver: 555.42.06 -> 560.35.03" in captured.err
    assert "Machine changed (allowed by --allow-machine-change):" in captured.out
    assert "- tensorflow version: 2.21.0 -> 2.20.0" in captured.out


@pytest.mark.parametrize(
    ("bad", "expect"),
    [
        (BAD / "corrupt.json", "corrupt JSON"),
        (BAD / "foreign.json", "not a pytest-benchmark JSON file"),
        (BAD / "no-stats-data.json", "stats.data"),
        (BAD / "empty-folder", "no benchmarks.json"),
        (DATA / "does-not-exist", "no such file or folder"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_file(
    bad: Path, expect: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    if bad.name == "empty-folder":
        bad = tmp_path / "empty-folder"
        bad.mkdir()
    for argv in (["compare", str(bad), str(BASELINE)], ["compare", str(BASELINE), str(bad)]):
        assert main(argv) == 2
        captured = capsys.readouterr()
        line = one_error_line(captured.err)
        assert str(bad) in line and expect in line
        assert captured.out == ""


def test_truncated_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cut = tmp_path / "benchmarks.json"
    text = (DATA / "regressed" / "benchmarks.json").read_text()
    cut.write_text(text[: len(text) // 2])
    assert main(["compare", str(BASELINE), str(cut)]) == 2
    assert str(cut) in one_error_line(capsys.readouterr().err)


def test_bad_options_exit_2(capsys: pytest.CaptureFixture) -> None:
    assert main(["compare", str(BASELINE), str(DATA / "same"), "--threshold-for", "mnist"]) == 2
    assert "WORKLOAD=FRACTION" in capsys.readouterr().err
    assert main(["compare", str(BASELINE), str(DATA / "same"), "--alpha", "3"]) == 2
    one_error_line(capsys.readouterr().err)


def test_threshold_for_turns_the_regression_off(capsys: pytest.CaptureFixture) -> None:
    argv = ["compare", str(BASELINE), str(DATA / "regressed"), "--threshold-for", "matmul=1.5"]
    assert main(argv) == 0
    capsys.readouterr()


def test_real_process_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The module entry point returns the gate's code to the shell (what CI sees): 1 and 2 in a real process.

    0 is main's own return here: a process exits 0 when main returns 0 (a process costs ~3 s of imports).
    """
    window = str(scaled_window(tmp_path / "w", BASELINE))
    assert main(["compare", window, str(DATA / "same")]) == 0
    capsys.readouterr()
    cmd = [sys.executable, "-m", "reports", "compare", window]
    assert subprocess.run([*cmd, str(DATA / "regressed")], capture_output=True).returncode == 1
    bad = subprocess.run([*cmd, str(BAD / "corrupt.json")], capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_results_folder_sides_are_pooled(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Interleaved mode: each side is a results folder holding several runs of the same code."""
    for side, sources in (("base", ["baseline", "same"]), ("cand", ["regressed", "regressed"])):
        for i, source in enumerate(sources):
            shutil.copytree(DATA / source, tmp_path / side / f"20261120-09000{i}-gpubox")
        (tmp_path / side / "latest").symlink_to(f"20261120-09000{len(sources) - 1}-gpubox")
    verdicts = tmp_path / "v.json"
    assert main(["compare", str(tmp_path / "base"), str(tmp_path / "cand"), "--json", str(verdicts)]) == 1
    out = capsys.readouterr().out
    assert "(2 runs)" in out
    data = json.loads(verdicts.read_text())
    n256 = next(c for c in data["cases"] if "n256" in c["name"])
    assert n256["verdict"] == "regression" and n256["rounds_base"] == n256["rounds_cur"] == 200  # 2 x 100 rounds
    assert data["pooled_runs"] == [2, 2]
    assert "One run per side" not in out


def test_pooled_runs_from_two_machines_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for i, source in enumerate(["baseline", "other-driver"]):
        shutil.copytree(DATA / source, tmp_path / "base" / f"20261120-09000{i}-gpubox")
    assert main(["compare", str(tmp_path / "base"), str(DATA / "same")]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "20261120-090001-gpubox" in line and "two machines" in line and "NVIDIA driver" in line


INCOMPLETE = Path(__file__).parent / "data" / "incomplete"


def test_an_incomplete_run_is_refused_in_one_line(capsys: pytest.CaptureFixture) -> None:
    stopped = INCOMPLETE / "20261124-100000-stopbox"
    assert main(["compare", str(BASELINE), str(stopped)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"error: {stopped} is an incomplete run (stopped by SIGTERM")
    assert "--allow-incomplete" in err[0]


def test_allow_incomplete_compares_what_the_runs_have_and_warns(capsys: pytest.CaptureFixture) -> None:
    stopped, killed = INCOMPLETE / "20261124-100000-stopbox", INCOMPLETE / "20261124-110000-killbox"
    code = main(["compare", str(stopped), str(killed), "--allow-incomplete", "--allow-machine-change"])
    assert code in (0, 1)
    err = capsys.readouterr().err
    assert "killed or crashed while running" in err and "compared anyway (--allow-incomplete)" in err


def test_a_change_point_in_the_window_moves_the_level_but_keeps_the_scatter(tmp_path: Path, capsys) -> None:
    window = scaled_window(tmp_path / "w", BASELINE, scales=(1.0, 1.01, 2.0, 2.02, 1.99, 2.01))
    verdicts = tmp_path / "v.json"
    main(["compare", str(window), str(DATA / "same"), "--json", str(verdicts)])
    out = capsys.readouterr().out
    assert "change point in the baseline window at 20261120-080002-gpubox: the window starts at" in out
    n512 = next(c for c in json.loads(verdicts.read_text())["cases"] if "CPU:0-n512" in c["name"])
    # tau^2 from all 6 runs of the window (5 degrees of freedom), and the five other cases' lent to it
    assert n512["across"]["runs_base"] == 4 and n512["across"]["df_case"] == 5 and n512["across"]["df"] == 30
    assert n512["across"]["ratio"] < 0.6  # against the level after the step (2x), not the whole window
    assert n512["across"]["tau"] > 0.3  # the step is part of the scatter
    assert n512["verdict"] == "inconclusive"
