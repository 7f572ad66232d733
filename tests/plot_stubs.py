"""Placeholders for the report's plots, for tests of the page and CLI around them (drawing plots is slow)."""

from __future__ import annotations

import base64
import io

import pytest

from reports import history, limit_plots, plots

STUB_SVG = "data:image/svg+xml;base64," + base64.b64encode(b'<svg xmlns="http://www.w3.org/2000/svg"/>').decode()


def stub_plots(monkeypatch: pytest.MonkeyPatch, *, draw_history: bool = False) -> None:
    """Replace the plots with placeholders, for tests of the page and CLI around them (plots are slow).

    The limits section's and History's figures are still built from the data, but not rendered to SVG:
    matplotlib's layout and SVG writer took 20 of a three-run report's 34 s. `draw_history` draws History's.
    """

    def stub(frame, nvml):
        return [plots.Plot("stub", "Stub", "stub?", why_not="Plots are stubbed in this test.")]

    monkeypatch.setattr(plots, "all_plots", stub)
    for module in (limit_plots,) if draw_history else (limit_plots, history):
        monkeypatch.setattr(module, "svg_data_uri", lambda fig: STUB_SVG)


def draw_small(fig) -> str:
    """Draw a figure the way a report would (layout, ticks, labels) into a tiny PNG, a fraction of the SVG's time.

    Returns STUB_SVG: the page still counts it as a drawn plot.
    """
    import matplotlib
    import matplotlib.pyplot as plt

    with matplotlib.rc_context(plots.RC):
        fig.savefig(io.BytesIO(), format="png", dpi=24)
    plt.close(fig)
    return STUB_SVG


def draw_plots_small(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every figure of the page built and drawn small (`draw_small`) instead of as SVG."""
    for module in (plots, limit_plots, history):
        monkeypatch.setattr(module, "svg_data_uri", draw_small)
