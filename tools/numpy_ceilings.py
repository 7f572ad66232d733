"""An independent check of a CPU roofline: numpy's copy GB/s and matmul GFLOP/s beside a run's measured ceilings.

python -m tools.numpy_ceilings                      # numpy's figures on this machine
python -m tools.numpy_ceilings results/latest       # ... beside the run's CPU ceilings (best membw, best matmul)

numpy is neither backend: its copy is one memcpy-like pass (np.copyto) and its matmul is whatever BLAS numpy was
built with (OpenBLAS in the wheels), so agreement within tens of percent says the suite's ceilings are the
machine's, not an artefact of TensorFlow or torch. Copy GB/s counts bytes read plus written, as the suite's membw.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable, Sequence
from time import perf_counter

import numpy as np

COPY_MIB = 256
MATMUL_N = 2048
ROUNDS = 15


def median_time(call: Callable[[], object], rounds: int = ROUNDS) -> float:
    """The median seconds of `rounds` calls after one untimed call."""
    call()
    times = []
    for _ in range(rounds):
        start = perf_counter()
        call()
        times.append(perf_counter() - start)
    return statistics.median(times)


def numpy_copy_gbs(mib: int = COPY_MIB) -> float:
    """np.copyto of a float32 array of `mib` MiB: (read + write) bytes over the median time, in GB/s."""
    a = np.ones(mib * 2**20 // 4, dtype=np.float32)
    b = np.empty_like(a)
    return 2 * a.nbytes / median_time(lambda: np.copyto(b, a)) / 1e9


def numpy_matmul_gflops(n: int = MATMUL_N) -> float:
    """float32 n x n matmul through numpy's BLAS: 2 n^3 over the median time, in GFLOP/s."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    return 2.0 * n**3 / median_time(lambda: a @ b) / 1e9


def run_ceilings(path: str) -> list[tuple[str, float, str]]:
    """The CPU ceilings of a run: (what, value, how), from the report's own tables."""
    from reports import limits
    from reports.load import read_run, tidy

    frame = tidy([read_run(path)])
    ceilings = limits.roofline_ceilings(frame)
    rows = []
    for _, row in ceilings[ceilings["device_kind"] == "cpu"].iterrows():
        if row["dtype"] is not None and not np.isnan(row["measured GFLOP/s"]):
            rows.append((f"{row['device_label']} matmul {row['dtype']}", row["measured GFLOP/s"], f"n={row['at n']}"))
        if not np.isnan(row["measured GB/s"]):
            rows.append((f"{row['device_label']} memory", row["measured GB/s"], str(row["measured by"])))
    return list(dict.fromkeys(rows))


def main(argv: Sequence[str] | None = None) -> int:
    """Print numpy's figures, and a run's CPU ceilings beside them; exit 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", help="a run folder, results/latest or benchmarks.json")
    args = parser.parse_args(argv)
    print(f"numpy {np.__version__}: copy {numpy_copy_gbs(COPY_MIB):.1f} GB/s ({COPY_MIB} MiB float32, read + write)")
    print(f"numpy {np.__version__}: matmul {numpy_matmul_gflops(MATMUL_N):.1f} GFLOP/s (n={MATMUL_N} float32)")
    if args.run:
        for what, value, how in run_ceilings(args.run):
            unit = "GB/s" if what.endswith("memory") else "GFLOP/s"
            print(f"run: {what} {value:.1f} {unit} ({how})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
