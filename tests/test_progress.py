"""The live line per case, the time-left estimate and the durations they print (bench/progress.py)."""

from __future__ import annotations

import math

import pytest

from bench.progress import case_line, fmt_duration, fmt_time, fmt_value, time_left, what_width
from tests.literal_runs import bench


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.2, "1 s"), (40.4, "40 s"), (59.4, "59 s"), (180, "3 min"), (3900, "1 h 5 min"), (math.nan, "?"), (-1, "?")],
)
def test_durations_are_rough_and_readable(seconds: float, text: str) -> None:
    assert fmt_duration(seconds) == text


def test_values_and_times_have_three_significant_digits() -> None:
    assert [fmt_value(v) for v in (124.44, 0.00275, 11108.2, 999.4)] == ["124", "0.00275", "11,108", "999"]
    assert [fmt_time(t) for t in (2.5, 0.0213, 4.2e-6, 3e-9)] == ["2.5 s", "21.3 ms", "4.2 µs", "3 ns"]


def test_time_left_uses_each_workloads_mean_then_the_overall_mean() -> None:
    done = {"matmul": [1.0, 3.0], "mnist": [10.0]}
    # matmul at 2 s, mnist at 10 s, a workload not seen yet at the overall mean 14/3 s
    assert time_left(done, ["matmul", "mnist", "tfdata"]) == pytest.approx(2 + 10 + 14 / 3)
    assert time_left(done, []) == 0.0
    assert math.isnan(time_left({}, ["matmul"]))


def test_the_first_column_is_as_wide_as_the_longest_case_so_columns_line_up() -> None:
    short, long = bench("a", [0.02] * 30), bench("a-much-longer-case-label", [0.02] * 30)
    width = what_width(["matmul a", "matmul a-much-longer-case-label"])
    assert width == len("matmul a-much-longer-case-label")
    lines = [case_line(short, 1, 12, 20.0, width), case_line(long, 2, 12, 18.0, width)]
    assert lines[0].index("tensorflow CPU:0") == lines[1].index("tensorflow CPU:0") == width + 1
    assert lines[0].index("rounds") == lines[1].index("rounds")
    assert lines[0].startswith("matmul a ") and lines[0].endswith("IQR 0%    30 rounds  [ 1/12, ~20 s left]")
    assert case_line(short, 12, 12, 0.0, width).endswith("[12/12]")
