"""Speedup and crossover arithmetic, and the findings built on it, from literal inputs."""

from __future__ import annotations

import pandas as pd
import pytest

from reports import fmt, summary
from reports import speedup as sp


def matmul_frame(cpu: dict[int, float], gpu: dict[int, float], host: str = "box", dtype: str = "float32"):
    """A tidy frame of matmul rows with the given throughputs per size."""
    rows = []
    for kind, device, values in (("cpu", "CPU:0", cpu), ("gpu", "GPU:0", gpu)):
        for n, value in values.items():
            rows.append(
                {
                    "host": host,
                    "run": f"r-{host}",
                    "backend": "tensorflow",
                    "device": device,
                    "device_kind": kind,
                    "device_name": device,
                    "workload": "matmul",
                    "name": f"{device}{n}",
                    "n": n,
                    "dtype": dtype,
                    "throughput": value,
                    "throughput_unit": "GFLOP/s",
                    "iqr_rel": 0.01,
                }
            )
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("sizes", "ratios", "expected"),
    [
        ([100, 512, 1024, 8192], [0.9, 1.5, 4.0, 31.0], 512),
        ([100, 512, 1024, 8192], [1.2, 1.5, 4.0, 31.0], 100),
        ([100, 512, 1024, 8192], [1.2, 0.8, 4.0, 31.0], 1024),  # a later loss resets the crossover
        ([100, 512, 1024, 8192], [0.5, 0.7, 0.9, 0.95], None),
        ([8192, 100, 1024, 512], [31.0, 0.9, 4.0, 1.5], 512),  # order of the input does not matter
        ([100, 512], [1.0, 1.0], None),  # a tie is not a win
        ([], [], None),
    ],
)
def test_crossover(sizes, ratios, expected):
    assert sp.crossover(sizes, ratios) == expected


def test_speedups_divide_gpu_by_cpu_throughput_per_size():
    frame = matmul_frame({100: 20.0, 1000: 100.0, 10000: 50.0}, {100: 10.0, 1000: 400.0, 10000: 2060.0})
    table = sp.speedups(frame)
    assert list(table["n"]) == [100, 1000, 10000]
    assert list(table["speedup"]) == pytest.approx([0.5, 4.0, 41.2])
    assert set(table["gpu"]) == {"GPU:0"} and set(table["cpu"]) == {"CPU:0"}
    cross = sp.crossovers(table)
    assert list(cross["crossover"]) == [1000.0]


def test_speedups_compare_float32_only_and_need_both_devices():
    frame = pd.concat([matmul_frame({100: 20.0}, {100: 40.0}), matmul_frame({}, {100: 400.0}, dtype="float16")])
    assert list(sp.speedups(frame)["speedup"]) == [2.0]
    assert sp.speedups(matmul_frame({100: 1.0}, {})).empty


def test_speedups_pair_within_a_run_not_across_hosts():
    frame = pd.concat(
        [matmul_frame({100: 10.0}, {100: 20.0}, host="a"), matmul_frame({100: 10.0}, {100: 50.0}, host="b")]
    )
    table = sp.speedups(frame)
    assert dict(zip(table["host"], table["speedup"], strict=True)) == {"a": 2.0, "b": 5.0}


def test_book_lines_quote_the_chapter():
    frame = matmul_frame({100: 20.0, 10000: 50.0}, {100: 19.0, 10000: 2060.0})
    lines = summary.book_lines(frame)
    assert lines == [
        "n=10000: GPU:0 is 41.2x CPU:0 (book: 32x on a notebook GPU)",
        "n=100: GPU:0 is 0.95x CPU:0: no difference (book: no difference for small tensors)",
    ]
    assert summary.book_lines(matmul_frame({100: 20.0}, {100: 19.0})) == []


def test_matmul_headline_names_speedup_and_crossover():
    frame = matmul_frame({100: 20.0, 512: 40.0, 8192: 100.0}, {100: 10.0, 512: 80.0, 8192: 3100.0})
    assert summary.matmul_lines(frame) == [
        "GPU:0 is 31.0x faster than CPU:0 at n=8192 (float32 matmul); the GPU wins from n>=512."
    ]


def test_cpu_only_headline():
    frame = matmul_frame({100: 20.0, 1024: 150.0}, {})
    assert summary.matmul_lines(frame) == ["No GPU in run r-box: CPU:0 peaks at 150 GFLOP/s (n=1024, float32)."]


def test_formatting():
    assert fmt.fmt_ratio(41.23) == "41.2x"
    assert fmt.fmt_ratio(0.857) == "0.86x"
    assert fmt.fmt_ratio(0.998) == "1.0x"  # not "1x" beside "1.0x"
    assert fmt.fmt_ratio(0.994) == "0.99x"
    assert fmt.fmt_number(49017.49) == "49,017"
    assert fmt.fmt_number(0.08234) == "0.0823"
    assert fmt.fmt_bytes(2**28) == "256 MiB"
    assert fmt.fmt_bytes(1024) == "1 KiB"


def test_noise_lines_flag_wide_iqr():
    frame = matmul_frame({100: 20.0}, {100: 10.0})
    frame.loc[0, "iqr_rel"] = 0.3
    lines = summary.noise_lines(frame)
    assert lines == [
        "1 of 2 cases vary by more than 10% (IQR/median): the regression gate needs more rounds to see small changes "
        "in them (flagged in the table of all cases)."
    ]
