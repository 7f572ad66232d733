"""Open a generated report in a real headless Chromium (Debian's package) and check it renders.

Needs /usr/bin/chromium (.ci/run installs it) and Playwright's Python package, which drives that
browser through executable_path: no browser is ever downloaded. A screenshot is kept under the
test's tmp folder, and also in $DEVICEBENCH_SCREENSHOT_DIR when that is set.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.golden_runs import GPUBOX, MIXED

DATA = GPUBOX.parent
CHROMIUM = Path(os.environ.get("DEVICEBENCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)"
)


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium for the module's three pages, not a launch per page."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.mark.parametrize(
    ("runs", "shot", "images"),
    [
        ([str(GPUBOX)], "report-gpubox.png", 12),
        # at least: the usual plots, NVML, roofline, per watt, scaling and all-reduce
        (sorted(str(p) for p in DATA.iterdir()), "report.png", 12),
        ([str(MIXED)], "report-backends.png", 12),  # with the TensorFlow vs PyTorch plot, no tf.data
    ],
    ids=["gpubox", "golden-runs", "both-backends"],
)
def test_report_renders_in_chromium(tmp_path, golden_page, chromium, runs, shot, images):
    page_path = golden_page(*runs)  # `python -m reports RUN... -o`, built once a session (tests/conftest.py)
    console_errors: list[str] = []
    page_errors: list[str] = []
    remote: list[str] = []
    context = chromium.new_context(viewport={"width": 1280, "height": 900})  # nothing shared with another page
    try:
        page = context.new_page()
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page_errors.append(str(e)))

        def block(route):
            remote.append(route.request.url)
            route.abort()

        page.route("http*://**/*", block)
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        shown = page.evaluate(
            "Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete, w: i.naturalWidth,"
            " shown: i.getBoundingClientRect().width}))"
        )
        svgs = page.evaluate("Array.from(document.querySelectorAll('svg')).map(s => s.getBoundingClientRect().width)")
        findings = page.inner_text("#findings")
        screenshot = tmp_path / "report.png"
        page.screenshot(path=str(screenshot), full_page=True)
    finally:
        context.close()

    shots = os.environ.get("DEVICEBENCH_SCREENSHOT_DIR")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, Path(shots) / shot)

    assert len(shown) == page_path.read_text().count("<img ") >= images  # every image of the page, drawn
    for image in shown:
        assert image["complete"] and image["w"] > 0 and image["shown"] > 0, image
    assert all(width > 0 for width in svgs)
    assert console_errors == [] and page_errors == []
    assert remote == []
    assert "faster than" in findings  # the GPU/CPU speedup, after the verdicts against published figures
    assert screenshot.stat().st_size > 10_000
