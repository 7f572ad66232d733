"""Findings, tables and plots never fail on a run that holds only some workloads (a cut run, a -k selection)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from reports import limit_plots, page, plots, sections
from reports.load import read_runs, skipped, tidy
from tests.plot_stubs import draw_small

DATA = Path(__file__).parent / "data"
RICH = [DATA / "runs" / "20261121-120000-gpubox", DATA / "backends" / "20261123-100000-mixedbox"]
# read at collection: one test per workload and way of cutting, so pytest -n spreads the 28 report passes
_RUNS, _ = read_runs(RICH)
FRAME, LEFT_OUT = tidy(_RUNS), skipped(_RUNS)
WORKLOADS = sorted(FRAME["workload"].unique())


def built_only(fig) -> str:
    """Close a figure that was built (every plotting call made) without drawing it."""
    plt.close(fig)
    return "data:image/png;base64,built"


@pytest.mark.parametrize("workload", WORKLOADS)
@pytest.mark.parametrize("keep", ["only", "without"])
def test_every_workload_alone_or_left_out_reports_without_an_error(monkeypatch, keep, workload) -> None:
    """A run with only this workload, or with every workload but this one, has headlines, tables and plots.

    Alone, each plot is drawn into a tiny PNG (layout, ticks, labels: the fewest points a plot can get). Left out,
    each plot is built but not drawn: a figure of the other 12 workloads draws as in the full run, whose page
    test_report.py and test_report_browser.py draw, and drawing them here took 13 x 45 % of this test's time.
    """
    for module in (plots, limit_plots):
        monkeypatch.setattr(module, "svg_data_uri", draw_small if keep == "only" else built_only)
    chosen = FRAME["workload"] == workload if keep == "only" else FRAME["workload"] != workload
    part = FRAME[chosen].reset_index(drop=True)
    assert isinstance(sections.headlines(part, LEFT_OUT), list)
    for table in page.throughput_tables(part) + page.training_tables(part, LEFT_OUT) + page.serving_tables(part):
        assert table.columns
    for made in plots.all_plots(part, pd.DataFrame(columns=plots.NVML_COLUMNS)):
        assert made.image or made.why_not, made.key
