"""The suite's CPU attention figures beside a hand-written causal attention in numpy and in plain torch ops.

python -m tools.attention_vs_loop                                 # forward, 12 x 64 heads, 512 tokens, float32
python -m tools.attention_vs_loop --pass forward+backward --seq-len 1024 --passes 11
python -m tools.attention_vs_loop --run /tmp/att/latest           # every CPU float32 case of a run, its figure too

A benchmark-style check, not a unit test (its figures depend on the machine and its load). Each interleaved pass
times, in turn, each backend's attention call built exactly as a run builds it (bench/backends/*_attention.py),
and the same attention written by hand twice: in numpy and in plain torch ops (no SDPA). The hand-written
version is FlashAttention's algorithm without its tiling over keys: for each block of BLOCK query rows, the scores
against the keys up to the block's end, the causal mask on the diagonal block, a softmax kept as its log-sum-exp,
and the product with V; the backward pass recomputes the probabilities and makes dV, dP, dQ and dK (five matmuls
per block against the forward's two, FlashAttention's 2.5x). Every figure is GFLOP/s by the suite's count
(bench.workloads.attention.attention_flops: the causal half only), timed by this tool's own loop: calls back to
back for at least 50 ms a measurement, the median over passes.

With --run, the run's own figure for each case (its median, from benchmarks.json) is printed beside them and
each figure's ratio to it: the tool's loop over the suite's call must agree with the suite within --tolerance
(else exit 1), which checks the suite's timing and FLOP count; the hand-written loops are other kernels of the same
math and FLOP count, so their ratio says how the frameworks' kernels compare with plain BLAS-backed code.

The 5 % check of the suite's own figure is tools/harness_overhead.py, not --run: a run made earlier is timed at
another moment, and a busy VM's speed drifts by up to 2x between runs seconds apart. That tool runs the case
through pytest and the plugin and times the same built call in a bare loop, in one process, in interleaved pairs:

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 \
    python -m tools.harness_overhead --workload attention --backend torch --profile smoke \
        --case fwd-h12x64-s512-b1-float32 --pairs 9

This tool stays the independent-kernel comparison: the hand-written loops are other kernels than SDPA or XLA, and
their ratio to them is not expected to be 1.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import numpy as np

BLOCK = 64  # query rows per block: the diagonal block's masked half is computed and not credited (BLOCK / 2s)
MIN_SECONDS = 0.05  # each measurement runs back-to-back calls for at least this long
BACKENDS = ("tensorflow", "torch")
GFLOPS_PER_UNIT = {"GFLOP/s": 1.0, "TFLOP/s": 1e3}  # the run records attention in TFLOP/s


@dataclass(frozen=True)
class Ops:
    """The few array operations the hand-written attention needs, for numpy or torch."""

    exp: Callable[[Any], Any]
    log: Callable[[Any], Any]
    rowmax: Callable[[Any], Any]
    rowsum: Callable[[Any], Any]
    zeros_like: Callable[[Any], Any]
    where: Callable[[Any, Any, float], Any]
    transpose: Callable[[Any], Any]  # the last two axes


def numpy_ops() -> Ops:
    """numpy's spelling of the operations."""
    return Ops(
        exp=np.exp,
        log=np.log,
        rowmax=lambda x: x.max(axis=-1, keepdims=True),
        rowsum=lambda x: x.sum(axis=-1, keepdims=True),
        zeros_like=np.zeros_like,
        where=np.where,
        transpose=lambda x: np.swapaxes(x, -1, -2),
    )


def torch_ops() -> Ops:
    """torch's spelling of the operations."""
    import torch

    return Ops(
        exp=torch.exp,
        log=torch.log,
        rowmax=lambda x: x.amax(dim=-1, keepdim=True),
        rowsum=lambda x: x.sum(dim=-1, keepdim=True),
        zeros_like=torch.zeros_like,
        where=torch.where,
        transpose=lambda x: x.transpose(-1, -2),
    )


def causal_blocks(seq_len: int, block: int = BLOCK) -> list[tuple[int, int, np.ndarray]]:
    """(first row, end row, visible mask of the block's rows against keys 0..end) per block of query rows."""
    out = []
    for start in range(0, seq_len, block):
        end = min(start + block, seq_len)
        visible = np.arange(end)[None, :] <= np.arange(start, end)[:, None]
        out.append((start, end, visible))
    return out


def forward(ops: Ops, q: Any, k: Any, v: Any, blocks: Sequence[tuple[int, int, Any]]) -> tuple[Any, list[Any]]:
    """Causal attention of (heads, seq_len, head_dim) arrays: the output and each block's log-sum-exp."""
    scale = 1.0 / math.sqrt(q.shape[-1])
    out, lse = ops.zeros_like(q), []
    for start, end, visible in blocks:
        scores = ops.where(visible, q[:, start:end] @ ops.transpose(k[:, :end]) * scale, -math.inf)
        top = ops.rowmax(scores)
        p = ops.exp(scores - top)
        total = ops.rowsum(p)
        out[:, start:end] = (p / total) @ v[:, :end]
        lse.append(top + ops.log(total))
    return out, lse


def backward(
    ops: Ops, q: Any, k: Any, v: Any, out: Any, lse: Sequence[Any], d_out: Any, blocks: Sequence[tuple[int, int, Any]]
) -> tuple[Any, Any, Any]:
    """(dQ, dK, dV) for the upstream gradient `d_out`, the probabilities recomputed per block as FlashAttention does."""
    scale = 1.0 / math.sqrt(q.shape[-1])
    dq, dk, dv = ops.zeros_like(q), ops.zeros_like(k), ops.zeros_like(v)
    for (start, end, visible), block_lse in zip(blocks, lse, strict=True):
        qb, gb = q[:, start:end], d_out[:, start:end]
        p = ops.exp(ops.where(visible, qb @ ops.transpose(k[:, :end]) * scale, -math.inf) - block_lse)
        dv[:, :end] += ops.transpose(p) @ gb
        dp = gb @ ops.transpose(v[:, :end])
        ds = p * (dp - ops.rowsum(gb * out[:, start:end]))
        dq[:, start:end] = ds @ k[:, :end] * scale
        dk[:, :end] += ops.transpose(ds) @ qb * scale
    return dq, dk, dv


def hand_written(ops: Ops, arrays: Sequence[Any], backward_pass: bool, block: int = BLOCK) -> Callable[[], Any]:
    """One call of the hand-written attention on (heads, seq_len, head_dim) q, k, v (and d_out)."""
    q, k, v, d_out = arrays
    blocks = causal_blocks(q.shape[1], block)
    if ops.exp is not np.exp:
        import torch

        blocks = [(s, e, torch.from_numpy(m)) for s, e, m in blocks]

    def call() -> Any:
        out, lse = forward(ops, q, k, v, blocks)
        return backward(ops, q, k, v, out, lse, d_out, blocks) if backward_pass else out

    return call


def measure(calls: Mapping[str, Callable[[], object]], passes: int, clock: Callable[[], float] = perf_counter) -> dict:
    """Median seconds per call of each call, the calls taking turns, each measurement lasting MIN_SECONDS or more."""
    repeats: dict[str, int] = {}
    for name, call in calls.items():
        start = clock()
        call()
        once = max(clock() - start, 1e-9)
        repeats[name] = max(1, math.ceil(MIN_SECONDS / once))
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(passes):
        for name, call in calls.items():
            start = clock()
            for _ in range(repeats[name]):
                call()
            times[name].append((clock() - start) / repeats[name])
    return {name: statistics.median(seconds) for name, seconds in times.items()}


def suite_calls(params: Mapping[str, Any], backends: Sequence[str]) -> dict[str, Callable[[], object]]:
    """Each backend's attention call on its CPU, built as a run builds it, followed by the backend's sync."""
    from bench.backends import load_backend
    from bench.cases import Case
    from bench.workloads.attention import WORKLOAD

    calls: dict[str, Callable[[], object]] = {}
    for name in backends:
        backend = load_backend(name)
        prepared = backend.build(Case(WORKLOAD, backend.devices()[0], dict(params)))

        def call(prepared_call: Callable[[], object] = prepared.call, sync: Callable[[], None] = backend.sync) -> None:
            prepared_call()
            sync()

        calls[f"{name} (the suite's call)"] = call
    return calls


def loop_calls(params: Mapping[str, Any]) -> dict[str, Callable[[], object]]:
    """The hand-written attention in numpy and in torch ops on the same float32 inputs (batch folded into heads)."""
    rows = int(params["batch"]) * int(params["heads"])
    shape = (rows, int(params["seq_len"]), int(params["head_dim"]))
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(shape, dtype=np.float32) for _ in range(4)]
    backward_pass = params["pass"] == "forward+backward"
    calls = {"numpy loop": hand_written(numpy_ops(), arrays, backward_pass)}
    try:
        import torch
    except ImportError:
        return calls
    calls["torch-ops loop"] = hand_written(torch_ops(), [torch.from_numpy(a) for a in arrays], backward_pass)
    return calls


def run_figures(path: str) -> list[tuple[dict[str, Any], dict[str, float]]]:
    """Each CPU float32 attention case of a run: its params and each backend's figure there, in GFLOP/s."""
    from results_format.io import read

    found: dict[str, tuple[dict[str, Any], dict[str, float]]] = {}
    for bench in read(path).benchmarks:
        info = bench.extra_info
        if info.workload != "attention" or info.device_kind != "cpu" or info.params.get("dtype") != "float32":
            continue
        label = "-".join(str(info.params[k]) for k in ("pass", "heads", "head_dim", "seq_len", "batch"))
        entry = found.setdefault(label, (dict(info.params), {}))
        entry[1][info.backend] = float(info.throughput) * GFLOPS_PER_UNIT.get(info.throughput_unit, 1.0)
    return list(found.values())


def report(
    params: Mapping[str, Any], seconds: Mapping[str, float], suite: Mapping[str, float], tolerance: float
) -> tuple[list[str], bool]:
    """The lines for one case and whether the tool's timing of each suite call agrees with the run's figure."""
    from bench.workloads.attention import attention_flops, attention_label

    flops = attention_flops(params)
    lines, ok = [f"{attention_label(params)}: {flops / 1e9:.3g} GFLOP a call (causal, FlashAttention count)"], True
    for name, backend in [(n, n.split(" ", 1)[0]) for n in seconds]:
        gflops = flops / seconds[name] / 1e9
        line = f"  {name:<28} {seconds[name] * 1e3:9.2f} ms  {gflops:8.2f} GFLOP/s"
        for suite_backend, figure in suite.items():
            line += f"  {gflops / figure:5.2f}x run's {suite_backend}"
        if backend in suite and "suite" in name:
            agree = abs(gflops / suite[backend] - 1) <= tolerance
            ok &= agree
            line += "" if agree else "  DISAGREES"
        lines.append(line)
    for backend, figure in suite.items():
        lines.append(
            f"  {backend + ' (the run: its median)':<28} {flops / figure / 1e6:9.2f} ms  {figure:8.2f} GFLOP/s"
        )
    return lines, ok


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print a block per case, and exit 1 when the tool's timing of a suite call disagrees with the run."""
    parser = argparse.ArgumentParser(prog="python -m tools.attention_vs_loop", description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a run folder (or benchmarks.json): time its CPU float32 attention cases")
    parser.add_argument("--backend", default="tensorflow,torch", help="tensorflow, torch or both (default)")
    parser.add_argument("--pass", dest="pass_", default="forward", choices=("forward", "forward+backward"))
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--passes", type=int, default=7, help="interleaved passes (default 7)")
    parser.add_argument("--tolerance", type=float, default=0.05, help="allowed disagreement with the run (0.05)")
    args = parser.parse_args(argv)
    if args.passes < 1 or min(args.heads, args.head_dim, args.seq_len) < 1 or not 0 <= args.tolerance < 1:
        parser.error("--passes, --heads, --head-dim and --seq-len must be at least 1 and --tolerance within [0, 1)")
    backends = [b.strip() for b in args.backend.split(",") if b.strip()]
    try:
        cases = run_figures(args.run) if args.run else []
    except Exception as exc:  # a missing or malformed run: one line, not a traceback
        print(f"attention_vs_loop: {exc}", file=sys.stderr)
        return 2
    if args.run and not cases:
        print(f"attention_vs_loop: {args.run} has no CPU float32 attention case", file=sys.stderr)
        return 2
    if not cases:
        single = {"pass": args.pass_, "heads": args.heads, "head_dim": args.head_dim, "dtype": "float32"}
        cases = [({**single, "seq_len": args.seq_len, "batch": 1}, {})]
    ok = True
    print(f"{args.passes} interleaved passes, median per call; GFLOP/s by the suite's count (the causal half):")
    for params, suite in cases:
        try:
            calls = {**suite_calls(params, backends), **loop_calls(params)}
        except Exception as exc:  # an unknown or missing backend: one line, not a traceback
            print(f"attention_vs_loop: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
        lines, agree = report(params, measure(calls, args.passes), suite, args.tolerance)
        ok &= agree
        print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
