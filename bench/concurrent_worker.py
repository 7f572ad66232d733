"""One GPU's worker of `--concurrent` (bench.concurrent): warm up, wait for the common start, time, print JSON.

    python -m bench.concurrent_worker --backend torch --workload matmul --gpu 5 --seconds 5 --start-at 1733390000.0

matmul: bfloat16 n=8192 (TFLOP/s, 2 n^3 per call); membw: the STREAM triad a = b + s c on 256 MiB float32 arrays
(GB/s, 3 arrays read or written per call). Each timed stretch ends with a device sync. The last stdout line is
{"figure": ..., "unit": ..., "calls": ..., "late_s": ...} or {"error": "..."}.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

MATMUL_N = 8192
TRIAD_BYTES = 256 * 2**20


def _torch(workload: str, gpu: int) -> tuple[Callable[[], None], Callable[[], None], float]:
    import torch

    device = torch.device(f"cuda:{gpu}")
    sync = lambda: torch.cuda.synchronize(device)  # noqa: E731
    if workload == "matmul":
        a = torch.randn(MATMUL_N, MATMUL_N, device=device, dtype=torch.bfloat16)
        b = torch.randn(MATMUL_N, MATMUL_N, device=device, dtype=torch.bfloat16)
        return lambda: torch.matmul(a, b), sync, 2.0 * MATMUL_N**3 / 1e12
    n = TRIAD_BYTES // 4
    b, c = torch.rand(n, device=device), torch.rand(n, device=device)
    out = torch.empty(n, device=device)
    return lambda: torch.add(b, c, alpha=3.0, out=out), sync, 3.0 * TRIAD_BYTES / 1e9


def _tensorflow(workload: str, gpu: int) -> tuple[Callable[[], None], Callable[[], None], float]:
    import tensorflow as tf  # CUDA_VISIBLE_DEVICES shows this worker its one GPU, as GPU:0

    with tf.device("/GPU:0"):
        if workload == "matmul":
            a = tf.random.normal((MATMUL_N, MATMUL_N), dtype=tf.bfloat16)
            b = tf.random.normal((MATMUL_N, MATMUL_N), dtype=tf.bfloat16)
            call, work = (lambda: tf.linalg.matmul(a, b)), 2.0 * MATMUL_N**3 / 1e12
        else:
            n = TRIAD_BYTES // 4
            b, c = tf.random.uniform((n,)), tf.random.uniform((n,))
            call, work = (lambda: b + 3.0 * c), 3.0 * TRIAD_BYTES / 1e9
    return call, tf.test.experimental.sync_devices, work


def measure(backend: str, workload: str, gpu: int, seconds: float, start_at: float) -> dict[str, float]:
    """Warm up, wait for the common start, call for `seconds`; the figure per second."""
    call, sync, work = (_torch if backend == "torch" else _tensorflow)(workload, gpu)
    for _ in range(3):
        call()
    sync()
    late = max(0.0, time.time() - start_at)  # a worker that warmed up past the common start starts at once
    time.sleep(max(0.0, start_at - time.time()))
    calls, start = 0, time.perf_counter()
    while True:
        for _ in range(10):
            call()
        sync()
        calls += 10
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    return {"figure": calls * work / elapsed, "calls": calls, "late_s": round(late, 3)}


def main(argv: list[str] | None = None) -> int:
    """Run one GPU's share of the concurrent check; print its result as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.concurrent_worker")
    parser.add_argument("--backend", choices=("torch", "tensorflow"), required=True)
    parser.add_argument("--workload", choices=("matmul", "membw"), required=True)
    parser.add_argument("--gpu", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--start-at", type=float, default=0.0)
    args = parser.parse_args(argv)
    try:
        result: dict[str, object] = measure(args.backend, args.workload, args.gpu, args.seconds, args.start_at)
    except Exception as err:  # one line for the parent, which records it as this GPU's reason
        print(json.dumps({"error": f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
