"""Fixtures shared across test files: what is expensive to build and only read by the tests."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from reports import cli, history, limit_plots, plots
from tests.plot_stubs import stub_plots

#: the real plot functions: a golden page is never built with stubs (tests/plot_stubs.py)
_REAL_PLOTS = (plots.all_plots, plots.svg_data_uri, limit_plots.svg_data_uri, history.svg_data_uri)


def _plots_are_real() -> bool:
    """Whether no test has stubbed the plots right now."""
    return (plots.all_plots, plots.svg_data_uri, limit_plots.svg_data_uri, history.svg_data_uri) == _REAL_PLOTS


@pytest.fixture(scope="session")
def golden_page(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """`golden_page(*runs)`: the report of these run folders, built once a session by `python -m reports RUN... -o`.

    A report of a golden run takes seconds (every plot drawn as SVG); the tests that only read its page share one.
    Call it before `stub_plots` in a test: a page built with stubbed plots would be shared with the others.
    """
    pages: dict[tuple[str, ...], Path] = {}

    def page(*runs: Path | str) -> Path:
        key = tuple(str(run) for run in runs)
        if key not in pages:
            out = tmp_path_factory.mktemp("golden-page") / "report.html"
            assert _plots_are_real(), "golden_page(...) called while the plots are stubbed"
            with contextlib.redirect_stdout(io.StringIO()):
                assert cli.main([*key, "-o", str(out)]) == 0
            pages[key] = out
        return pages[key]

    return page


@pytest.fixture
def fast_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    """`stub_plots` for the whole test: one page's SVGs are checked in tests/test_report.py."""
    stub_plots(monkeypatch)
