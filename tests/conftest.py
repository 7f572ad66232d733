"""Fixtures shared across test files: what is expensive to build and only read by the tests."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

from reports import cli, history, limit_plots, plots
from tests.plot_stubs import stub_plots

#: the real plot functions: a golden page is never built with stubs (tests/plot_stubs.py)
_REAL_PLOTS = (plots.all_plots, plots.svg_data_uri, limit_plots.svg_data_uri, history.svg_data_uri)


def _plots_are_real() -> bool:
    """Whether no test has stubbed the plots right now."""
    return (plots.all_plots, plots.svg_data_uri, limit_plots.svg_data_uri, history.svg_data_uri) == _REAL_PLOTS


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `heavy` tests first, each group in its usual order: a 30 s test started last kept one core busy alone."""
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)


def _shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder the pytest-xdist workers of this test run share (this session's own one without xdist)."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run is None:
        return tmp_path_factory.mktemp("golden-pages")
    shared = tmp_path_factory.getbasetemp().parent / f"golden-pages-{run}"
    shared.mkdir(exist_ok=True)
    return shared


@pytest.fixture(scope="session")
def golden_page(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """`golden_page(*runs)`: the report of these run folders, built once a test run by `python -m reports RUN... -o`.

    A report of a golden run takes seconds (every plot drawn as SVG); the tests that only read its page share one,
    across pytest-xdist's workers too (the first to need it builds it under a file lock, the others wait for it).
    Call it before `stub_plots` in a test: a page built with stubbed plots would be shared with the others.
    """
    shared = _shared_folder(tmp_path_factory)

    def page(*runs: Path | str) -> Path:
        key = "\0".join(str(run) for run in runs)
        folder = shared / hashlib.sha256(key.encode()).hexdigest()[:16]
        out = folder / "report.html"
        with FileLock(f"{folder}.lock"):
            if not out.exists():
                assert _plots_are_real(), "golden_page(...) called while the plots are stubbed"
                building = Path(f"{folder}.building")
                shutil.rmtree(building, ignore_errors=True)
                building.mkdir()
                with contextlib.redirect_stdout(io.StringIO()):
                    assert cli.main([*map(str, runs), "-o", str(building / "report.html")]) == 0
                building.rename(folder)  # whole or not at all: a worker that failed mid-build leaves no page
        return out

    return page


@pytest.fixture
def fast_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    """`stub_plots` for the whole test: one page's SVGs are checked in tests/test_report.py."""
    stub_plots(monkeypatch)
