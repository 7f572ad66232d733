"""Findings, tables and plots never fail on a run that holds only some workloads (a cut run, a -k selection)."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from reports import limit_plots, page, plots, sections
from reports.load import read_runs, skipped, tidy

DATA = Path(__file__).parent / "data"
RICH = [DATA / "runs" / "20261121-120000-gpubox", DATA / "backends" / "20261123-100000-mixedbox"]


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tidy frame and skipped cases of two golden runs with every workload between them."""
    runs, _ = read_runs(RICH)
    return tidy(runs), skipped(runs)


def tiny_raster(fig) -> str:
    """Draw a figure the way a report would (layout, ticks, labels) into a tiny PNG: a fraction of the SVG's time."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=24)
    plt.close(fig)
    return "data:image/png;base64,drawn"


@pytest.fixture
def quick_images(monkeypatch):
    """Plots drawn but not written as SVG (28 report passes here; one page's SVGs are tested in test_report.py)."""
    for module in (plots, limit_plots):
        monkeypatch.setattr(module, "svg_data_uri", tiny_raster)


@pytest.mark.parametrize("keep", ["only", "without"])
def test_every_workload_alone_or_left_out_reports_without_an_error(frames, quick_images, keep) -> None:
    frame, left_out = frames
    for workload in sorted(frame["workload"].unique()):
        chosen = frame["workload"] == workload if keep == "only" else frame["workload"] != workload
        part = frame[chosen].reset_index(drop=True)
        assert isinstance(sections.headlines(part, left_out), list), workload
        for table in page.throughput_tables(part) + page.training_tables(part, left_out) + page.serving_tables(part):
            assert table.columns, workload
        for made in plots.all_plots(part, pd.DataFrame(columns=plots.NVML_COLUMNS)):
            assert made.image or made.why_not, (workload, made.key)
