"""`compare --html`: the gate page with its forest plot, and the link between it and the run's report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from reports.cli import main
from reports.gate_page import forest_svg
from tests.golden_runs import COMPARE


def test_the_gate_page_draws_each_judged_case_and_links_the_report_both_ways(tmp_path: Path, fast_plots: None) -> None:
    shutil.copytree(COMPARE, tmp_path / "compare")
    base, cur = tmp_path / "compare" / "baseline", tmp_path / "compare" / "regressed"
    assert main([str(cur)]) == 0  # its report.html first
    page, verdicts = cur / "gate.html", tmp_path / "v.json"
    assert main(["compare", str(base), str(cur), "--html", str(page), "--json", str(verdicts)]) in (0, 1)
    html = page.read_text(encoding="utf-8")
    cases = json.loads(verdicts.read_text())["cases"]
    judged = [c for c in cases if c["ratio"] is not None]
    assert html.count("<circle ") == len(judged) > 0
    assert all(c["name"] in html for c in cases) and 'href="report.html"' in html
    assert main([str(cur)]) == 0
    assert 'href="gate.html"' in (cur / "report.html").read_text(encoding="utf-8")


def test_the_threshold_band_and_an_mde_are_drawn() -> None:
    case = {"name": "a<b", "verdict": "unchanged", "ratio": 1.02, "ci_low": 0.99, "ci_high": 1.05, "mde": 0.04}
    svg = forest_svg([case], threshold=0.10)
    assert "a&lt;b" in svg and "<rect " in svg and "MDE 4.0%" in svg and "1.1×" in svg
