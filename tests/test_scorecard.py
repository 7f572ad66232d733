"""reports.scorecard: the first screen's headline figures per device, their verdicts and what changed."""

from __future__ import annotations

from reports import scorecard
from reports.history import history_frame
from reports.load import read_run, tidy
from tests.golden_runs import DATA, GPUBOX

HISTORY = sorted((DATA / "history").iterdir())


def test_a_gpu_card_has_matmul_per_precision_bandwidth_and_link_with_percent_of_peak() -> None:
    run = read_run(GPUBOX)
    (gpu,) = [c for c in scorecard.cards(tidy([run]), [run]) if c.title.startswith("GPU:0")]
    figures = {row[0]: row for row in gpu.rows}
    assert {"matmul float16", "matmul bfloat16", "memory bandwidth", "host link"} <= set(figures)
    assert "H100" in gpu.title and gpu.previous is None
    assert "since previous run" not in gpu.columns  # no earlier run: the column is left out
    assert figures["matmul float16"][1].endswith("TFLOP/s") and figures["matmul float16"][2].endswith(" %")


def test_the_card_says_what_changed_since_the_hosts_previous_run() -> None:
    runs = [read_run(path) for path in HISTORY]
    frame = tidy(runs)
    (gpu,) = [c for c in scorecard.cards(frame, runs, history_frame(runs)) if c.title.startswith("GPU:0")]
    assert gpu.run == HISTORY[-1].name and gpu.previous == HISTORY[-2].name
    since = gpu.columns.index("since previous run")
    assert all(row[since].endswith("%") for row in gpu.rows)


def test_the_cards_show_the_runs_health_verdict(golden_page) -> None:
    """A sick host's cards say UNHEALTHY and why (reports.health); a healthy host's say healthy."""
    sick = read_run(DATA / "health" / "20261127-090000-sickbox")
    (card, *_) = [c for c in scorecard.cards(tidy([sick]), [sick]) if c.title.startswith("GPU:")]
    assert card.health is not None and card.health.startswith("UNHEALTHY: GPU 2: a row remap is pending")
    html = golden_page(GPUBOX).read_text(encoding="utf-8")  # the build command's page, shared (tests/conftest.py)
    assert html.index('<section id="scorecard">') < html.index('<section id="findings">')
    assert '<span class="health">Health: healthy</span>' in html
    assert '<section id="tables">\n<details open><summary><h2>Tables</h2></summary>' in html  # collapsible


def test_each_headline_comes_from_the_newest_run_that_measured_it() -> None:
    real = DATA / "real" / "20261126-h200"
    runs = [read_run(real / name) for name in ("main", "peaks", "peaks-tf32")]
    (gpu,) = [c for c in scorecard.cards(tidy(runs), runs, history_frame(runs)) if c.title.startswith("GPU:0")]
    figures = [row[0] for row in gpu.rows]
    assert {"memory bandwidth", "host link", "training", "inference"} <= set(figures)  # from main
    assert "matmul float32 (TF32)" in figures and "peaks-tf32" in gpu.run and "main" in gpu.run
    assert "main" not in (gpu.previous or "")  # a standard run is not the previous run of a full-profile one


def test_tf32_on_is_never_the_change_from_tf32_off() -> None:
    """The H200's TF32 run follows its TF32-off run of the same profile: matmul float32 (TF32) has no previous figure
    (it was +604 % when the two were matched by case name alone), from the files and from the store alike."""
    real = DATA / "real" / "20261126-h200"
    runs = [read_run(real / name) for name in ("main", "peaks", "peaks-tf32")]
    history = history_frame(runs)
    assert set(history.loc[history["run"] == "peaks-tf32", "tf32"]) == {True}
    (gpu,) = [c for c in scorecard.cards(tidy(runs), runs, history) if c.title.startswith("GPU:0")]
    row = next(r for r in gpu.rows if r[0] == "matmul float32 (TF32)")
    assert "since previous run" not in gpu.columns or row[gpu.columns.index("since previous run")] == ""
