"""reports.history: change points on literal series, the history frame and its plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reports.history import history_frame, history_host, plot_history, steps_frame
from reports.load import read_run, tidy
from reports.steps import detect_steps, segment
from tests.plot_stubs import STUB_SVG, stub_plots

HISTORY = Path(__file__).parent / "data" / "history"
STEPPED = "test_matmul[tensorflow-GPU:0-n512-float32]"
NOISE = [0.4, -1.1, 0.9, -0.3, 1.3, -0.8, 0.1, -1.4, 0.7, 1.0, -0.6, 0.2, -0.9, 1.2, -0.2, 0.5]


def test_segment_finds_the_best_split() -> None:
    starts, cost = segment([1, 1, 1, 5, 5, 5], 2)
    assert starts == [3] and cost == 0.0
    starts, cost = segment([1, 1, 9, 9, 3, 3], 3)
    assert starts == [2, 4] and cost == 0.0
    with pytest.raises(ValueError):
        segment([1, 2], 3)


def test_one_clean_step() -> None:
    assert detect_steps([10.0] * 8 + [20.0] * 8) == [8]


def test_flat_and_noisy_flat_series_have_no_steps() -> None:
    assert detect_steps([100.0] * 12) == []
    assert detect_steps([100 + x for x in NOISE]) == []


def test_noisy_steps_down_and_up() -> None:
    series = [100 + x for x in NOISE[:8]] + [70 + x for x in NOISE[8:]] + [110 + x for x in NOISE[:8]]
    assert detect_steps(series) == [8, 16]


def test_small_steps_below_min_change_are_not_reported() -> None:
    series = [100.0] * 8 + [103.0] * 8
    assert detect_steps(series) == []
    assert detect_steps(series, min_change=0.01) == [8]


def test_latest_run_stepping_down_is_reported() -> None:
    assert detect_steps([100 + x for x in NOISE[:10]] + [60.0]) == [10]


def test_missing_points_are_skipped_and_indices_kept() -> None:
    assert detect_steps([10.0, None, 10.0, float("nan"), 10.0, 20.0, 20.0, None, 20.0]) == [5]


def test_short_series() -> None:
    assert detect_steps([]) == []
    assert detect_steps([5.0]) == []
    assert detect_steps([5.0, 5.0]) == []


def golden_history() -> list:
    """The five nightly golden runs of one host, oldest first (matmul n512 on its GPU 35 % slower from the fourth)."""
    return [read_run(folder) for folder in sorted(HISTORY.iterdir())]


def test_history_frame_orders_runs_by_datetime() -> None:
    runs = golden_history()
    frame = history_frame(list(reversed(runs)))
    case = frame[frame["name"] == STEPPED]
    assert case["position"].tolist() == [0, 1, 2, 3, 4]
    assert case["run"].tolist() == [run.name for run in runs]
    assert history_host(frame) == "nightly"
    steps = steps_frame(frame)
    assert steps[["name", "position"]].values.tolist() == [[STEPPED, 3]]  # the one scripted step, nothing else
    assert steps["change"].iloc[0] == pytest.approx(1 / 1.35 - 1, abs=0.02)


def test_plot_history_needs_two_runs() -> None:
    runs = golden_history()
    assert plot_history(history_frame(runs[:1])) is None
    fig = plot_history(history_frame(runs[:2]))
    assert fig is not None
    workloads = {b.extra_info.workload for run in runs[:2] for b in run.record.benchmarks}
    assert len(fig.axes) == len(workloads) == 5  # one panel per workload: matmul, membw, mnist, tfdata, transfer


def test_a_single_outlier_run_is_not_a_step() -> None:
    assert detect_steps([100.0, 101.0, 99.0, 130.0, 100.0, 100.0]) == []
    assert detect_steps([100.0, 101.0, 99.0, 130.0, 131.0, 129.0]) == [3]


def test_steps_within_the_runs_own_spread_are_not_reported() -> None:
    series = [100.0] * 6 + [115.0] * 6
    assert detect_steps(series) == [6]
    assert detect_steps(series, noise=[20.0] * 12) == []  # each run's IQR is wider than the step


def test_report_page_has_a_history_section_for_several_runs_of_one_host(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reports.cli import main

    stub_plots(monkeypatch, draw_history=True)  # the other plots are drawn in tests/test_report.py
    runs = golden_history()
    page = tmp_path / "report.html"
    assert main(["build", *[str(r.folder) for r in runs], "-o", str(page)]) == 0
    html = page.read_text()
    assert '<section id="history">' in html and 'href="#history"' in html
    assert "Throughput over 5 runs of nightly" in html
    assert STEPPED in html.split('<section id="history">')[1]
    history = html.split('<section id="history">')[1].split("</section>")[0]
    assert '<img src="data:image/svg+xml;base64,' in history and STUB_SVG not in history  # History's plot, drawn
    assert main(["build", str(runs[0].folder), "-o", str(tmp_path / "one.html")]) == 0
    assert '<section id="history">' not in (tmp_path / "one.html").read_text()
    capsys.readouterr()


def test_a_run_of_fed_step_cases_alone_gets_only_the_input_bound_panel(monkeypatch) -> None:
    from reports import plots

    drawn = []
    monkeypatch.setattr(plots, "svg_data_uri", lambda fig: drawn.append([a.get_title() for a in fig.axes]) or "svg")
    frame = tidy([golden_history()[0]])
    assert set(frame[frame["workload"] == "tfdata"]["variant"]) == {"fed-step"}  # the nightly runs' only tf.data
    plots.tfdata(frame.assign(device_label=frame["device"]), {})
    assert drawn == [["training step: input-bound?"]]


def test_the_cost_matrix_is_the_l1_cost_of_every_piece() -> None:
    from reports.steps import _l1_cost_matrix

    y = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0])
    cost = _l1_cost_matrix(y)
    for i in range(len(y)):
        for j in range(i + 1, len(y) + 1):
            assert cost[i, j] == pytest.approx(np.abs(y[i:j] - np.median(y[i:j])).sum())


def test_a_long_series_is_fitted_on_bins_and_the_step_placed_within_one() -> None:
    from reports.steps import MAX_POINTS

    n = 1000
    series = [100 + NOISE[i % len(NOISE)] for i in range(600)] + [80 + NOISE[i % len(NOISE)] for i in range(n - 600)]
    (step,) = detect_steps(series)
    assert abs(step - 600) <= n // MAX_POINTS + 1
