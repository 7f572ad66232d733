"""The suite's CPU memory bandwidth beside numpy's copyto into a preallocated array, measured interleaved.

python -m tools.membw_vs_numpy                           # both backends, 256 MiB arrays, 7 interleaved passes
python -m tools.membw_vs_numpy --backend torch --mib 64 --passes 11 --tolerance 0.10

A benchmark-style check, not a unit test (its figures depend on the machine and its load): each pass times one
call of numpy's copyto and then one call of each backend's membw kernel (built by the backend exactly as a run
builds it), A B A B, so a busy neighbour slows all of them alike. GB/s counts bytes read plus written as the
suite does (2 arrays for copy, 3 for triad).

numpy's copyto of a large array is glibc's memcpy, whose non-temporal stores skip the read a CPU's ordinary store
makes of each destination cache line first (write-allocate); the backends' kernels use ordinary stores, so the
memory really moves 1.5x (copy) or 4/3x (triad) the bytes STREAM counts for them (see bench/workloads/membw.py).
The check therefore compares memory traffic: a kernel's GB/s times that factor must be within --tolerance of
numpy's copyto (exit 1 otherwise); the plain ratio is printed too.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable, Mapping, Sequence
from time import perf_counter

import numpy as np

NUMPY = "numpy copyto"
ARRAYS = {"copy": 2, "triad": 3}
#: bytes an ordinary-store kernel moves per byte STREAM counts: the destination's write-allocate reads added
WRITE_ALLOCATE = {"copy": 3 / 2, "triad": 4 / 3}


def interleaved(
    calls: Mapping[str, Callable[[], object]], passes: int, clock: Callable[[], float] = perf_counter
) -> dict[str, list[float]]:
    """Seconds of each call per pass, the calls taking turns (one untimed call of each first)."""
    for call in calls.values():
        call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(passes):
        for name, call in calls.items():
            start = clock()
            call()
            times[name].append(clock() - start)
    return times


def rates(times: Mapping[str, Sequence[float]], bytes_moved: Mapping[str, float]) -> dict[str, float]:
    """Median GB/s of each call."""
    return {name: bytes_moved[name] / statistics.median(seconds) / 1e9 for name, seconds in times.items()}


def traffic_factor(name: str) -> float:
    """Memory traffic per counted byte of a call named "<backend> <kernel>" (1 for numpy's copyto)."""
    kernel = name.rsplit(" ", 1)[-1]
    return 1.0 if name == NUMPY else WRITE_ALLOCATE.get(kernel, 1.0)


def verdicts(gbs: Mapping[str, float], tolerance: float) -> list[tuple[str, float, float, float, bool]]:
    """(name, GB/s, ratio to numpy's copyto, traffic ratio, traffic within tolerance) per call, numpy's first."""
    reference = gbs[NUMPY]
    out = []
    for name, value in gbs.items():
        traffic = value * traffic_factor(name) / reference
        out.append((name, value, value / reference, traffic, traffic >= 1 - tolerance))
    return out


def backend_calls(backends: Sequence[str], mib: int) -> tuple[dict[str, Callable[[], object]], dict[str, float]]:
    """Each backend's membw copy and triad on the CPU, built as a run builds them, with their bytes per call."""
    from bench.backends import load_backend
    from bench.cases import Case
    from bench.workloads.membw import MEMBW

    calls: dict[str, Callable[[], object]] = {}
    moved: dict[str, float] = {}
    for name in backends:
        backend = load_backend(name)
        cpu = backend.devices()[0]
        for kernel in ARRAYS:
            prepared = backend.build(Case(MEMBW, cpu, {"kernel": kernel, "bytes": mib * 2**20, "dtype": "float32"}))

            def call(prepared_call: Callable[[], object] = prepared.call, sync: Callable[[], None] = backend.sync):
                prepared_call()
                sync()

            calls[f"{name} {kernel}"] = call
            moved[f"{name} {kernel}"] = ARRAYS[kernel] * mib * 2**20
    return calls, moved


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print one line per call, and exit 1 when a kernel falls short of numpy's copyto."""
    parser = argparse.ArgumentParser(prog="python -m tools.membw_vs_numpy", description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="tensorflow,torch", help="tensorflow, torch or both (default)")
    parser.add_argument("--mib", type=int, default=256, help="size of each array in MiB (default 256)")
    parser.add_argument("--passes", type=int, default=7, help="interleaved passes (default 7)")
    parser.add_argument("--tolerance", type=float, default=0.10, help="allowed shortfall (default 0.10)")
    args = parser.parse_args(argv)
    if args.mib < 1 or args.passes < 1 or not 0 <= args.tolerance < 1:
        parser.error("--mib and --passes must be at least 1 and --tolerance within [0, 1)")
    source = np.ones(args.mib * 2**20 // 4, dtype=np.float32)
    target = np.zeros_like(source)  # zeros: touched before any timing, as the suite's buffers are
    calls: dict[str, Callable[[], object]] = {NUMPY: lambda: np.copyto(target, source)}
    moved: dict[str, float] = {NUMPY: 2 * source.nbytes}
    try:
        more, more_moved = backend_calls([b.strip() for b in args.backend.split(",") if b.strip()], args.mib)
    except Exception as exc:  # an unknown or missing backend: one line, not a traceback
        print(f"membw_vs_numpy: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    calls.update(more)
    moved.update(more_moved)
    results = verdicts(rates(interleaved(calls, args.passes), moved), args.tolerance)
    print(f"{args.mib} MiB arrays, {args.passes} interleaved passes, median GB/s (read + written, STREAM's count):")
    for name, value, ratio, traffic, ok in results:
        print(
            f"  {name:<18} {value:8.2f} GB/s  {ratio:5.2f}x numpy copyto  "
            f"{traffic:5.2f}x its memory traffic{'' if ok else '  LOW'}"
        )
    return 0 if all(ok for *_, ok in results) else 1


if __name__ == "__main__":
    sys.exit(main())
