"""What the suite's harness costs: CPU matmul n=1024 through pytest + the plugin vs a bare timing loop.

    python -m tools.harness_overhead               # 9 interleaved pairs, TensorFlow on CPU:0
    python -m tools.harness_overhead --pairs 9 --n 2048

Both sides run in this one process, on the same inputs' shape, with the same device sync after
every call: the bare side is `perf_counter(); call(); sync(); perf_counter()` in a plain loop, the
suite side is `pytest bench/benchmarks/test_matmul.py -k <case>` through pytest.main (warm-up,
placement check, pytest-benchmark's pedantic rounds). Pairs alternate which side goes first; the
figure is the median of the per-pair ratios of medians (suite / bare), with every pair shown, and the
same for the minimums (the least noise-prone estimate of a fixed cost on a busy machine).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from time import perf_counter
from typing import Any

import pytest

import results_format
from bench.backends import load_backend
from bench.cases import Case
from bench.workloads.matmul import MATMUL

REPO = Path(__file__).resolve().parents[2]


def bare_median(call: Callable[[], Any], sync: Callable[[], None], rounds: int, warmup: int = 2) -> tuple[float, float]:
    """(median, min) seconds of `rounds` bare calls, each followed by the device sync."""
    for _ in range(warmup):
        call()
        sync()
    times = []
    for _ in range(rounds):
        start = perf_counter()
        call()
        sync()
        times.append(perf_counter() - start)
    return statistics.median(times), min(times)


def suite_median(case_id: str, out: Path, profile: str) -> tuple[float, float, int]:
    """(median seconds, min seconds, rounds) of the case run through pytest and the devicebench plugin."""
    code = pytest.main(
        [
            str(REPO / "bench" / "benchmarks" / "test_matmul.py"),
            "-q",
            "-p",
            "no:cacheprovider",
            "--profile",
            profile,
            "-k",
            case_id,
            "--results-dir",
            str(out),
            "--run-path-file",
            str(out / "run-path"),
            "--benchmark-quiet",
        ]
    )
    if code != 0:
        sys.exit(f"error: the suite run failed (pytest exit {code})")
    (bench,) = results_format.read((out / "run-path").read_text().strip()).benchmarks
    return bench.stats.median, bench.stats.min, bench.stats.rounds


def main(argv: list[str] | None = None) -> int:
    """Run the interleaved comparison and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1024, help="matrix size (default 1024)")
    parser.add_argument("--pairs", type=int, default=9, help="interleaved suite/bare pairs (default 9)")
    parser.add_argument("--profile", default="standard", help="the suite's profile, which sets the rounds")
    args = parser.parse_args(argv)

    backend = load_backend("tensorflow")
    cpu = backend.devices()[0]
    case = Case(MATMUL, cpu, {"n": args.n, "dtype": "float32"})
    prepared = backend.build(case)
    ratios, min_ratios = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.pairs):
            out = Path(tmp) / f"run{i}"
            if i % 2 == 0:  # alternate which side goes first, so drift does not favour one
                s_med, s_min, rounds = suite_median(case.id, out, args.profile)
                b_med, b_min = bare_median(prepared.call, backend.sync, rounds)
            else:
                b_med, b_min = bare_median(prepared.call, backend.sync, rounds)
                s_med, s_min, rounds = suite_median(case.id, out, args.profile)
            ratios.append(s_med / b_med)
            min_ratios.append(s_min / b_min)
            print(
                f"pair {i + 1}: suite {s_med * 1e3:8.3f} ms  bare {b_med * 1e3:8.3f} ms  "
                f"median ratio {ratios[-1]:.4f}  min ratio {min_ratios[-1]:.4f}  ({rounds} rounds)"
            )
    ratio, min_ratio = statistics.median(ratios), statistics.median(min_ratios)
    print(
        f"matmul n={args.n} on {cpu.name} ({cpu.model}): suite/bare = {ratio:.4f} "
        f"({(ratio - 1) * 100:+.2f} %, median of {args.pairs} per-pair ratios of medians); "
        f"of minimums {min_ratio:.4f} ({(min_ratio - 1) * 100:+.2f} %)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
