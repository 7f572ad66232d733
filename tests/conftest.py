"""Fixtures shared across test files: what is expensive to build and only read by the tests."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from reports import cli


@pytest.fixture(scope="session")
def golden_page(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """`golden_page(*runs)`: the report of these run folders, built once a session by `python -m reports RUN... -o`.

    A report of a golden run takes seconds (every plot drawn as SVG); the tests that only read its page share one.
    """
    pages: dict[tuple[str, ...], Path] = {}

    def page(*runs: Path | str) -> Path:
        key = tuple(str(run) for run in runs)
        if key not in pages:
            out = tmp_path_factory.mktemp("golden-page") / "report.html"
            with contextlib.redirect_stdout(io.StringIO()):
                assert cli.main([*key, "-o", str(out)]) == 0
            pages[key] = out
        return pages[key]

    return page
