"""The matmul peak search (--profile peaks): the best TFLOP/s a device reaches over (M, N, K) shapes, per dtype.

After stas00's MAMF-finder (ml-engineering, compute/accelerator/benchmarks/mamf-finder.py): square n is one point
of a large space, and cuBLAS tiles some shapes better than others (its searched shapes run 5-10 % above square
n on H100/H200). One case per device and dtype: its build step searches shapes in a fixed pseudo-random order
(a few well-known ones first) until the time budget is spent, each shape timed over back-to-back calls with one
sync; the best shape is then timed like any case, so its figure has the suite's statistics. The case records
the best shape, the best square n it tried, the shapes tried and the time spent.

Bounded in time: `Profile.peaks_seconds` per GPU dtype (--peaks-seconds), `peaks_seconds_cpu` on a CPU, which
searches small sizes only, so the profile runs (and is tested) without a GPU.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.cases import Params, Workload
from bench.devices import Device
from bench.profiles import Profile
from bench.workloads.matmul import FP8, FP8_MULTIPLE, fp8_unsupported
from results_format.workloads import Fact, WorkloadSpec

Shape = tuple[int, int, int]  # (M, N, K): an M x K by K x N multiply, 2 M N K FLOP

#: the sizes each of M, N and K is drawn from (MAMF-finder's default step is 1024 on GPUs)
GPU_SIZES = tuple(range(1024, 16385, 1024))
CPU_SIZES = (64, 128, 256, 384, 512)
GPU_DTYPES = ("float32", "bfloat16", "float16", FP8)
SEED = 20240301
#: back-to-back calls per timed batch last at least this long, so one sync is a small share of the batch
BATCH_S = 0.02
MAX_CALLS = 100


def shape_flops(shape: Shape) -> float:
    """FLOPs of one (M, N, K) multiply: 2 M N K."""
    m, n, k = shape
    return 2.0 * m * n * k


def shape_text(shape: Shape) -> str:
    """'8192x8192x4096' (M x N x K)."""
    return "x".join(str(part) for part in shape)


def candidate_shapes(sizes: Sequence[int], seed: int = SEED) -> list[Shape]:
    """Every (M, N, K) over `sizes`: the square ones first, largest first, then the rest in a fixed shuffled order."""
    squares = [(s, s, s) for s in sorted(sizes, reverse=True)]
    rest = [(m, n, k) for m in sizes for n in sizes for k in sizes if not m == n == k]
    random.Random(seed).shuffle(rest)
    return squares[:4] + rest + squares[4:]


@dataclass(frozen=True)
class SearchResult:
    """What a shape search found: the best shape and figure, the best square n, and how much was tried."""

    best: Shape
    best_gflops: float
    square_n: int | None
    square_gflops: float | None
    shapes_tried: int
    seconds: float

    def facts(self) -> dict[str, Any]:
        """The case's record of the search (flat, so each is a column of the tidy table)."""
        return {
            "best_shape": shape_text(self.best),
            "best_m": self.best[0],
            "best_n": self.best[1],
            "best_k": self.best[2],
            "search_best_gflops": round(self.best_gflops, 3),
            "square_n": self.square_n,
            "square_gflops": None if self.square_gflops is None else round(self.square_gflops, 3),
            "shapes_tried": self.shapes_tried,
            "search_s": round(self.seconds, 3),
        }


def search(
    shapes: Sequence[Shape],
    seconds_per_call: Callable[[Shape], float],
    budget_s: float,
    clock: Callable[[], float],
) -> SearchResult:
    """Time shapes in order until `budget_s` of `clock` is spent (at least one); the fastest by GFLOP/s wins.

    `seconds_per_call` times one shape (its inputs made, warmed up, back-to-back calls with one sync); a shape
    that raises (out of memory, unsupported) is passed over.
    """
    if not shapes:
        raise ValueError("no shapes to search")
    start = clock()
    best: tuple[float, Shape] | None = None
    square: tuple[float, int] | None = None
    tried = 0
    for shape in shapes:
        if tried and clock() - start >= budget_s:
            break
        tried += 1
        try:
            per_call = seconds_per_call(shape)
        except Exception:  # a shape that does not fit is no peak; the others still count
            continue
        if per_call <= 0:
            continue
        gflops = shape_flops(shape) / per_call / 1e9
        if best is None or gflops > best[0]:
            best = (gflops, shape)
        if shape[0] == shape[1] == shape[2] and (square is None or gflops > square[0]):
            square = (gflops, shape[0])
    if best is None:
        raise RuntimeError(f"none of the {tried} shapes tried could be timed")
    return SearchResult(
        best=best[1],
        best_gflops=best[0],
        square_n=square[1] if square else None,
        square_gflops=square[0] if square else None,
        shapes_tried=tried,
        seconds=clock() - start,
    )


def batch_calls(one_call_s: float) -> int:
    """How many back-to-back calls make a timed batch of at least BATCH_S (1..MAX_CALLS)."""
    if one_call_s <= 0:
        return MAX_CALLS
    return max(1, min(MAX_CALLS, int(BATCH_S / one_call_s) + 1))


def peaks_params(profile: Profile, device: Device) -> list[tuple[Params, str | None]]:
    """One search per dtype: float32 on CPUs; float32, bf16, fp16 and (where it runs) FP8 on GPUs."""
    if device.kind == "cpu":
        return [({"dtype": "float32", "seconds": float(profile.peaks_seconds_cpu)}, None)]
    dtypes = [d for d in GPU_DTYPES if d != FP8 or fp8_unsupported(device) is None]
    return [({"dtype": dtype, "seconds": float(profile.peaks_seconds)}, None) for dtype in dtypes]


def search_shapes(device: Device, dtype: str) -> list[Shape]:
    """The shapes a device searches: GPU_SIZES on GPUs, CPU_SIZES on CPUs (multiples of 16 for FP8)."""
    sizes = GPU_SIZES if device.kind == "gpu" else CPU_SIZES
    if dtype == FP8:
        sizes = tuple(s for s in sizes if s % FP8_MULTIPLE == 0)
    return candidate_shapes(sizes)


def best_shape_facts(result: SearchResult, median_s: float) -> dict[str, Any]:
    """The case's facts: its throughput is the best shape's (2 M N K per call), with the search's record."""
    flops = shape_flops(result.best)
    return {**result.facts(), "work_per_call": flops, "throughput": flops / median_s / 1e9 if median_s > 0 else None}


SPEC = WorkloadSpec(
    name="peaks",
    version=1,
    title="matmul peak search",
    params=("dtype", "seconds"),  # seconds: the search's time budget
    keys=("dtype",),
    work_unit="FLOP",  # of one call of the best shape found (2 M N K)
    throughput_unit="GFLOP/s",
    facts=(
        Fact(name="best_shape", description="the fastest (M, N, K) found", hint="text"),
        Fact(name="search_best_gflops", description="its throughput during the search", unit="GFLOP/s"),
        Fact(name="square_gflops", description="the best square shape's throughput", unit="GFLOP/s"),
        Fact(name="shapes_tried", description="shapes the search timed", hint="count"),
        Fact(name="search_s", description="the search's time", hint="duration"),
    ),
)


PEAKS = WORKLOAD = Workload(
    spec=SPEC,
    throughput_scale=1e9,
    backends=("torch",),
    params_for=peaks_params,
    # the work of a call is the best shape's, known only after the search: best_shape_facts records it
    work_per_call=lambda params: 0.0,
    label=lambda p: f"{p['dtype']}-{float(p['seconds']):g}s",
    absent_reason="the peak search follows MAMF-finder, a torch tool; TensorFlow runs the square matmuls",
    opt_in=True,
    text=lambda p: str(p["dtype"]),
)
