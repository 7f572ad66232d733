"""tools/power_across.py: the study across runs runs end to end on a small synthetic sample."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tools import power_across


def _sample(path: Path, runs: int = 8) -> Path:
    """A trimmed sample (tools.power_study's format) of `runs` runs with two cases of tight rounds."""
    rng = np.random.default_rng(0)
    data = {
        "runs": [
            {"label": f"r{i:02d}", "cases": {c: list(rng.normal(1e-3 * (1 + 0.01 * i), 1e-5, 20)) for c in ("a", "b")}}
            for i in range(runs)
        ]
    }
    path.write_text(json.dumps(data))
    return path


def test_the_study_prints_both_tables(tmp_path: Path, capsys) -> None:
    sample = _sample(tmp_path / "s.json")
    out = tmp_path / "study.md"
    argv = [str(sample), "--window", "3", "--confirm", "runs", "--pairs", "3", "--trials", "6", "--effects", "0,0.5"]
    argv += ["--markdown", str(out)]
    assert power_across.main(argv) == 0
    text = capsys.readouterr().out
    assert text == out.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| 0%") or line.startswith("| 50%")]
    assert len(rows) == 2 and "A/A: false alarm" in rows[0] and "detection" in rows[1]
    assert "| `a` |" in text and "| `b` |" in text


def test_too_few_runs_is_one_line(tmp_path: Path, capsys) -> None:
    assert power_across.main([str(_sample(tmp_path / "s.json", runs=4))]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_round_pairs_confirm_a_large_slowdown_of_tight_rounds(tmp_path: Path, capsys) -> None:
    argv = [str(_sample(tmp_path / "s.json")), "--window", "3", "--trials", "5", "--effects", "0,0.5"]
    assert power_across.main(argv) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 50%")]
    assert "| **100.0%** |" in rows[0]  # 1 % rounds: +50 % is flagged and confirmed every time
