"""Profiles: what each makes, and how rounds follow from a warm-up time."""

import pytest

from bench.cases import make_cases
from bench.devices import Device
from bench.profiles import PROFILES, ProfileError, get_profile
from bench.workloads.matmul import FP8, MATMUL, matmul_flops

CPU = Device("tensorflow", "CPU:0", "cpu", "cpu")
GPU = Device("tensorflow", "GPU:0", "gpu", "gpu")


def runnable(cases):
    """Cases without a collection-time skip; FP8 ones are left out (their builder decides, see test_workloads)."""
    return [
        (c.device.name, c.params["n"], c.params["dtype"])
        for c in cases
        if c.skip_reason is None and c.params["dtype"] != FP8
    ]


def test_smoke_runs_matmul_1024_on_the_cpu_and_reports_what_it_leaves_out():
    cases = make_cases(MATMUL, get_profile("smoke"), [CPU])
    assert ("CPU:0", 1024, "float32") in runnable(cases)
    skipped = [c for c in cases if c.skip_reason]
    assert [c.params["n"] for c in skipped] == [2048]
    assert skipped[0].skip_reason == "profile smoke: n=2048 is above its CPU limit n=1024"


def test_standard_covers_128_to_4096_everywhere():
    cases = make_cases(MATMUL, get_profile("standard"), [CPU])
    assert sorted(n for _, n, _ in runnable(cases)) == [128, 256, 512, 1024, 2048, 4096]


def test_full_has_the_books_sizes_and_low_precision_only_on_gpus():
    full = get_profile("full")
    gpu = runnable(make_cases(MATMUL, full, [GPU]))
    cpu = runnable(make_cases(MATMUL, full, [CPU]))
    assert {100, 10000, 16384} <= {n for _, n, _ in gpu}
    assert max(MATMUL.sizes_for(full).sizes) >= 8192
    assert {d for _, _, d in gpu} == {"float32", "float16", "bfloat16"}
    assert {d for _, _, d in cpu} == {"float32"}
    assert (min(n for _, n, _ in cpu), max(n for _, n, _ in cpu)) == (100, 10000)


def test_unknown_profile_lists_the_profiles():
    with pytest.raises(ProfileError, match="unknown profile 'huge'; profiles: smoke, standard, full"):
        get_profile("huge")


@pytest.mark.parametrize(("per_call", "rounds"), [(0.001, 30), (0.1, 5), (0.05, 10), (5.0, 5), (0.0, 30)])
def test_rounds_fill_the_time_budget_within_limits(per_call, rounds):
    assert PROFILES["smoke"].rounds_for(per_call) == rounds


def test_matmul_work_and_throughput():
    assert matmul_flops({"n": 1000}) == 2e9
    assert MATMUL.throughput({"n": 1000, "dtype": "float32"}, 0.5) == pytest.approx(4.0)
