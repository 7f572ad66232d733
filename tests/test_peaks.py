"""The matmul peak search (--profile peaks): the search itself, its cases, and a run of it on the fake H100."""

from __future__ import annotations

import pytest

from bench.cases import make_cases
from bench.devices import Device
from bench.profiles import ProfileError, get_profile, with_peaks_seconds
from bench.workloads.matmul import FP8
from bench.workloads.peaks import (
    CPU_SIZES,
    PEAKS,
    batch_calls,
    best_shape_facts,
    candidate_shapes,
    search,
    search_shapes,
    shape_flops,
)
from reports import envelope, limits, peaks
from reports.load import read_run, tidy
from reports.sections import headlines
from tests.golden_runs import PEAKS as PEAKS_RUN

H100 = Device("torch", "GPU:0", "gpu", "NVIDIA H100 80GB HBM3", compute_capability="9.0")
A100 = Device("torch", "GPU:0", "gpu", "NVIDIA A100-SXM4-80GB", compute_capability="8.0")
CPU = Device("torch", "CPU:0", "cpu", "cpu")


class Ticks:
    """A clock that moves only when a shape is timed (by the seconds that timing takes)."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_candidates_start_with_the_largest_squares_then_every_other_shape_once() -> None:
    shapes = candidate_shapes((64, 128, 256))
    assert shapes[:3] == [(256, 256, 256), (128, 128, 128), (64, 64, 64)]
    assert len(shapes) == len(set(shapes)) == 27
    assert candidate_shapes((64, 128, 256)) == shapes  # a fixed order: two runs search the same shapes


def test_the_search_keeps_the_fastest_shape_and_the_best_square_within_its_budget() -> None:
    clock = Ticks()
    rates = {(512, 512, 512): 100e9, (512, 512, 256): 110e9, (256, 256, 256): 90e9}

    def seconds_per_call(shape):
        clock.t += 1.0  # each shape costs one second of searching
        if shape == (64, 512, 64):
            raise RuntimeError("out of memory")  # passed over
        return shape_flops(shape) / rates.get(shape, 50e9)

    shapes = [(512, 512, 512), (64, 512, 64), (256, 256, 256), (512, 512, 256), (128, 128, 128)]
    result = search(shapes, seconds_per_call, budget_s=3.5, clock=clock)
    assert result.best == (512, 512, 256) and result.best_gflops == pytest.approx(110)
    assert (result.square_n, result.square_gflops) == (512, pytest.approx(100))
    assert result.shapes_tried == 4 and result.seconds == 4.0  # the fifth shape is past the budget
    facts = best_shape_facts(result, median_s=shape_flops((512, 512, 256)) / 105e9)
    assert facts["best_shape"] == "512x512x256" and facts["throughput"] == pytest.approx(105)
    assert facts["work_per_call"] == 2 * 512 * 512 * 256 and facts["shapes_tried"] == 4


def test_a_search_where_nothing_could_be_timed_says_so() -> None:
    def fails(shape):
        raise RuntimeError("no")

    with pytest.raises(RuntimeError, match="none of the 2 shapes tried could be timed"):
        search([(16, 16, 16), (32, 32, 32)], fails, 1.0, Ticks())


@pytest.mark.parametrize(("one_call_s", "calls"), [(1e-5, 100), (1e-3, 21), (0.05, 1), (0.0, 100)])
def test_a_timed_batch_lasts_at_least_20_ms_within_1_to_100_calls(one_call_s: float, calls: int) -> None:
    assert batch_calls(one_call_s) == calls


def test_one_case_per_dtype_fp8_only_where_it_runs_and_only_in_the_peaks_profile() -> None:
    profile = get_profile("peaks")
    dtypes = {d.name: [c.params["dtype"] for c in make_cases(PEAKS, profile, [d])] for d in (H100, A100, CPU)}
    assert dtypes == {"GPU:0": ["float32", "bfloat16", "float16"], "CPU:0": ["float32"]}  # A100 overwrote H100
    assert [c.params["dtype"] for c in make_cases(PEAKS, profile, [H100])][-1] == FP8
    seconds = {c.device.kind: c.params["seconds"] for c in make_cases(PEAKS, profile, [H100, CPU])}
    assert seconds == {"gpu": 120.0, "cpu": 2.0}
    assert make_cases(PEAKS, get_profile("standard"), [H100]) == []  # opt-in
    assert max(max(s) for s in search_shapes(CPU, "float32")) == max(CPU_SIZES)
    assert all(v % 16 == 0 for s in search_shapes(H100, FP8) for v in s)


def test_peaks_seconds_applies_to_the_peaks_profile_only() -> None:
    assert with_peaks_seconds(get_profile("peaks"), 30).peaks_seconds == 30.0
    assert with_peaks_seconds(get_profile("standard"), None) == get_profile("standard")
    with pytest.raises(ProfileError, match="--peaks-seconds needs --profile peaks"):
        with_peaks_seconds(get_profile("standard"), 30)
    with pytest.raises(ProfileError, match="--peaks-seconds must be above 0, got 0"):
        with_peaks_seconds(get_profile("peaks"), 0)


@pytest.fixture(scope="module")
def frame():
    return tidy([read_run(PEAKS_RUN)])


def test_the_fake_h100_s_search_finds_a_shape_above_square_n_in_every_dtype(frame) -> None:
    rows = frame.set_index(["device", "dtype"])
    assert set(rows.index) == {("CPU:0", "float32"), *(("GPU:0", d) for d in ("float32", "bfloat16", "float16", FP8))}
    for (device, _dtype), row in rows.iterrows():
        if device == "GPU:0":  # the budget ends the search (the shape that crosses it is the last)
            assert row["seconds"] == 5.0 and row["search_s"] >= 5.0
        else:  # the CPU's small sizes are all searched within its 2 s
            assert row["seconds"] == 2.0 and row["shapes_tried"] == len(CPU_SIZES) ** 3
        assert row["search_best_gflops"] > row["square_gflops"]
        m, n, k = (int(v) for v in row["best_shape"].split("x"))
        assert row["work_per_call"] == 2.0 * m * n * k
        assert row["throughput"] == pytest.approx(row["work_per_call"] / row["median_s"] / 1e9)
    assert rows.loc[("GPU:0", FP8), "peak_basis"].startswith("FP8 tensor-core peak")
    assert rows.loc[("GPU:0", FP8), "pct_of_peak"] == pytest.approx(
        rows.loc[("GPU:0", FP8), "throughput"] / 1_979_000 * 100
    )


def test_the_roofline_takes_the_searched_shape_as_the_measured_ceiling(frame) -> None:
    ceilings = limits.roofline_ceilings(frame).set_index(["device_label", "dtype"])
    row = ceilings.loc[("GPU:0", "bfloat16")]
    best = frame[(frame["device"] == "GPU:0") & (frame["dtype"] == "bfloat16")].iloc[0]
    assert row["measured GFLOP/s"] == pytest.approx(best["throughput"])
    assert row["searched shape"] == best["best_shape"] and row["at n"] is None


def test_the_findings_give_the_best_shape_beside_square_n_and_the_spec(frame) -> None:
    lines = peaks.peaks_lines(frame)
    verdicts = len(envelope.envelope_lines(frame))
    assert headlines(frame)[verdicts : verdicts + len(lines)] == lines  # next after the envelope verdicts
    gpu = next(line for line in lines if line.startswith("Peak search on GPU:0, bfloat16"))
    best = frame[(frame["device"] == "GPU:0") & (frame["dtype"] == "bfloat16")].iloc[0]
    assert f"at M x N x K = {best['best_shape']}" in gpu
    change = best["search_best_gflops"] / best["square_gflops"] - 1
    assert f"in the search it ran {change * 100:.0f} % above the best square shape, n={int(best['square_n'])} (" in gpu
    assert "% of the BF16 tensor-core peak, NVIDIA H100 SXM5 80GB." in gpu
    assert any(line.startswith("Peak search on CPU:0, float32: best ") for line in lines)


def test_the_torch_search_on_the_cpu_times_small_shapes_and_hands_over_the_best_one() -> None:
    """A real (tiny) search: whatever shape wins, the call multiplies it and the facts count its FLOPs."""
    from bench.backends.torch_peaks import build_peaks
    from bench.cases import Case

    class Stub:
        def sync(self) -> None:
            pass

    prepared = build_peaks(Case(PEAKS, CPU, {"dtype": "float32", "seconds": 0.2}), Stub())  # type: ignore[arg-type]
    facts = prepared.facts(1e-3)
    m, n, k = facts["best_m"], facts["best_n"], facts["best_k"]
    assert {m, n, k} <= set(CPU_SIZES) and facts["shapes_tried"] >= 1
    assert tuple(prepared.call().shape) == (m, n)
    assert facts["work_per_call"] == 2.0 * m * n * k and facts["throughput"] == pytest.approx(
        2.0 * m * n * k / 1e-3 / 1e9
    )


def test_a_search_won_by_a_square_shape_says_no_shape_beat_it() -> None:
    import pandas as pd

    row = {
        "host": "h", "run": "r", "backend": "torch", "device": "CPU:0", "workload": "peaks",
        "precision_label": "float32", "throughput": 11.7, "best_shape": "512x512x512", "shapes_tried": 22,
        "search_s": 2.03, "square_n": 512, "square_gflops": 13.4, "search_best_gflops": 13.4,
        "pct_of_peak": None, "peak_basis": None,
    }  # fmt: skip
    (line,) = peaks.peaks_lines(pd.DataFrame([row]))
    assert line == (
        "Peak search on CPU:0, float32: best 11.7 GFLOP/s at M x N x K = 512x512x512 (22 shapes in 2.03 s); "
        "no shape beat the best square one, n=512, in the search."
    )


def test_peaks_seconds_outside_the_peaks_profile_is_a_usage_error(pytester) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest("-p", "bench.plugin", "--profile", "smoke", "--peaks-seconds", "30", "--no-nvml")
    assert result.ret == 4  # pytest's usage error
    result.stderr.fnmatch_lines(["*--peaks-seconds needs --profile peaks (profile smoke runs no peak search)*"])
