"""tools/power_study.py: the old rule it keeps, the study on real recorded rounds, trimming, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_decide import AA25, BASE1, BASE25, SLOW80
from tools.power_study import main, old_rule, read_recorded, shared_cases, study, table

# Two back-to-back smoke runs of matmul (n=128, 512, 1024) on the 2-core development VM, trimmed by
# `python -m tools.power_study /work/gate-runs/aa-05 /work/gate-runs/aa-06 --trim ... --cases 3`.
SAMPLE = Path(__file__).parent / "data" / "power" / "matmul-smoke-2runs.json"


def test_old_rule_reproduces_the_issue() -> None:
    # The +80 % slowdown with 25 % spread: the old rule's noise veto hid it; the A/A pair was also `noisy`.
    assert old_rule({"a": BASE25}, {"a": SLOW80}, threshold=0.10) == {"a": "noisy"}
    assert old_rule({"a": BASE25}, {"a": AA25}, threshold=0.10) == {"a": "noisy"}
    assert old_rule({"a": BASE1}, {"a": [2 * x for x in BASE1]}, threshold=0.10) == {"a": "regression"}
    assert old_rule({"a": BASE1}, {"a": [x / 2 for x in BASE1]}, threshold=0.10) == {"a": "improvement"}
    assert old_rule({"a": BASE1[:4]}, {"a": BASE1[4:8]}, threshold=0.10) == {"a": "noisy"}


def test_sample_is_small_real_and_readable() -> None:
    assert SAMPLE.stat().st_size < 50_000
    runs = read_recorded(SAMPLE)
    assert [r.label.split("/")[0] for r in runs] == ["aa-05", "aa-06"]
    assert [name.split("-")[-2] for name in shared_cases(runs)] == ["n1024", "n128", "n512"]
    assert all(len(rounds) >= 17 for r in runs for rounds in r.cases.values())


def test_study_is_seeded_and_separates_a_50_percent_slowdown_from_an_a_a_pair() -> None:
    runs = read_recorded(SAMPLE)
    results = study(runs, trials=8, effects=(0.0, 0.5), seed=1)
    assert set(results) == {(p, e) for p in ("across runs", "within a run") for e in (0.0, 0.5)}
    aa, slow = results[("within a run", 0.0)], results[("within a run", 0.5)]
    assert sum(aa.new.values()) == 8 * 3  # 8 comparisons of 3 cases
    assert aa.new["regression"] == 0 and aa.new_exit_1 == 0  # no drift, no false alarm
    assert slow.new["regression"] >= 16  # most of the 24 case-trials at +50 %
    assert slow.new["regression"] > slow.old["regression"]  # the old veto hid some
    again = study(runs, trials=8, effects=(0.0, 0.5), seed=1)
    assert table(again, 0.10) == table(results, 0.10)


def test_table_has_one_row_per_pairing_and_slowdown() -> None:
    results = study(read_recorded(SAMPLE), trials=2, effects=(0.0, 0.1), seed=0)
    lines = table(results, 0.10).splitlines()
    assert lines[0].startswith("| pairing | slowdown | a flag is | old: regression | old: noisy | old: unchanged |")
    rows = lines[2:6]
    assert [row.split("|")[1:4] for row in rows] == [
        [" across runs ", " 0% ", " A/A: false alarm "],
        [" across runs ", " 10% ", " detection "],
        [" within a run ", " 0% ", " A/A: false alarm "],
        [" within a run ", " 10% ", " detection "],
    ]


def test_cli_prints_the_tables_and_trims(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "study.md"
    assert main([str(SAMPLE), "--trials", "2", "--effects", "0,0.2", "--markdown", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed == out.read_text()
    assert printed.startswith("2 runs, 2 trials per cell, threshold 10%, alpha 0.01, seed 0.")
    assert "| `test_matmul[tensorflow-CPU:0-n512-float32]` |" in printed
    trimmed = tmp_path / "t.json"
    assert main([str(SAMPLE), "--trim", str(trimmed), "--cases", "1"]) == 0
    data = json.loads(trimmed.read_text())
    assert [list(r["cases"]) for r in data["runs"]] == [["test_matmul[tensorflow-CPU:0-n1024-float32]"]] * 2


def test_bad_input_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main([str(bad), str(SAMPLE)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {bad}: ")
    (tmp_path / "foreign.json").write_text("[1, 2]")
    assert main([str(tmp_path / "foreign.json")]) == 2
    assert "neither a pytest-benchmark JSON file nor a trimmed sample" in capsys.readouterr().err
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"runs": [json.loads(SAMPLE.read_text())["runs"][0]]}))
    assert main([str(one)]) == 2
    assert capsys.readouterr().err == "error: need at least two runs that share a case\n"


def test_malformed_trimmed_sample_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "t.json"
    bad.write_text(json.dumps({"runs": [{"label": "x"}]}))
    assert main([str(bad), str(SAMPLE)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {bad}: not a trimmed sample")


def test_pairs_judges_real_runs_with_both_rules(capsys: pytest.CaptureFixture) -> None:
    assert main([str(SAMPLE), "--pairs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| baseline | current | old exit | new exit | old verdicts | new verdicts |"
    (row,) = lines[2:]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[0].startswith("aa-05/") and cells[1].startswith("aa-06/")
    assert cells[2:4] == ["0", "0"]
    assert cells[5] == "n1024 inconclusive, n128 inconclusive, n512 unchanged"
