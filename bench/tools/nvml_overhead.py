"""What the NVML sampler costs a CPU benchmark: matmul with and without it, interleaved.

    python -m bench.tools.nvml_overhead                 # numpy matmul n=1024, a fake GPU, 10 ms
    python -m bench.tools.nvml_overhead --backend tensorflow --rounds 60
    python -m bench.tools.nvml_overhead --real          # poll the machine's real GPUs instead

Each round times `--calls` matmuls twice, once while the sampler polls and once without,
alternating which goes first; the overhead is the median of the per-round time ratios, with a
bootstrap 95 % interval. Without `--real` the sampler polls fake GPUs patched into nvidia-ml-py,
so the figure is the Python-side cost of a poll (thread wake-up, the GIL, the calls).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Callable, Iterator

import numpy as np
from scipy import stats

from bench.nvml import DEFAULT_INTERVAL_S, Telemetry, nvml_available
from bench.nvml_fake import FakeGpu, FakeNvml


def make_matmul(backend: str, n: int) -> tuple[str, Callable[[], object]]:
    """A no-argument CPU matmul of two n×n float32 matrices, and the backend it uses."""
    if backend in ("tensorflow", "auto"):
        try:
            import tensorflow as tf  # imported here: optional and slow to import
        except ImportError:
            if backend == "tensorflow":
                raise SystemExit("nvml_overhead: --backend tensorflow but TensorFlow is not importable") from None
        else:
            with tf.device("/CPU:0"):
                a = tf.random.normal((n, n), dtype=tf.float32)
                b = tf.random.normal((n, n), dtype=tf.float32)

            def tf_call() -> object:
                with tf.device("/CPU:0"):
                    return tf.linalg.matmul(a, b).numpy()  # .numpy() waits for the result

            return f"tensorflow {tf.__version__}", tf_call
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, n), dtype=np.float32)
    y = rng.standard_normal((n, n), dtype=np.float32)
    return f"numpy {np.__version__}", lambda: x @ y


@contextlib.contextmanager
def sampler_source(real: bool, gpus: int) -> Iterator[str]:
    """Patch fake GPUs into pynvml (unless `real`), saying what the sampler polls."""
    if real:
        ok, reason = nvml_available()
        yield "real NVML" if ok else f"real NVML unavailable ({reason})"
        return
    fakes = [
        FakeGpu(uuid=f"GPU-fake-{i}", pci_bus_id=f"00000000:{0x3B + i:02X}:00.0", energy_step_mj=5) for i in range(gpus)
    ]
    with FakeNvml(fakes).patched():
        nvml_available.cache_clear()
        yield f"{gpus} fake GPU{'s' if gpus != 1 else ''} patched into nvidia-ml-py"
    nvml_available.cache_clear()


def time_block(fn: Callable[[], object], calls: int) -> float:
    """Seconds per call over `calls` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def poll_cost_s(tel: Telemetry, polls: int = 500) -> float:
    """Mean seconds one poll of every GPU takes, measured in the foreground."""
    with tel.sample("poll-cost", background=False):
        start = time.perf_counter()
        for _ in range(polls):
            tel.poll_once()
        return (time.perf_counter() - start) / polls


def main(argv: list[str] | None = None) -> int:
    """Run the interleaved comparison and print the overhead."""
    parser = argparse.ArgumentParser(prog="python -m bench.tools.nvml_overhead", description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("numpy", "tensorflow", "auto"), default="numpy")
    parser.add_argument("--n", type=int, default=1024, help="matrix size (default 1024)")
    parser.add_argument("--rounds", type=int, default=40, help="interleaved pairs (default 40)")
    parser.add_argument("--calls", type=int, default=5, help="matmuls per timed block (default 5)")
    parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL_S, help="sampling interval, s")
    parser.add_argument("--gpus", type=int, default=1, help="fake GPUs to poll (default 1)")
    parser.add_argument("--real", action="store_true", help="poll the real GPUs instead of fake ones")
    args = parser.parse_args(argv)
    if args.n < 1 or args.rounds < 2 or args.calls < 1 or args.gpus < 1 or not args.interval > 0:
        parser.error("--n, --calls and --gpus must be >= 1, --rounds >= 2 and --interval > 0")

    backend, fn = make_matmul(args.backend, args.n)
    with sampler_source(args.real, args.gpus) as source:
        tel = Telemetry.start(interval_s=args.interval)
        if not tel.enabled:
            print(f"nvml_overhead: {tel.header_line()}", file=sys.stderr)
            return 1
        print(tel.header_line())
        for _ in range(3):
            fn()
        off: list[float] = []
        on: list[float] = []
        polled = 0
        for r in range(args.rounds):
            for sampled in (False, True) if r % 2 == 0 else (True, False):
                if sampled:
                    with tel.sample(f"round-{r}") as rec:
                        on.append(time_block(fn, args.calls))
                    polled += len(rec.samples)
                else:
                    off.append(time_block(fn, args.calls))
        per_poll = poll_cost_s(tel)
        error = tel.error
        tel.close()

    ratios = np.array(on) / np.array(off)
    ci = stats.bootstrap((ratios,), np.median, confidence_level=0.95, random_state=0).confidence_interval
    pct = (float(np.median(ratios)) - 1) * 100
    print(f"workload: {backend} matmul n={args.n} float32 on the CPU, {args.calls} calls per block")
    print(f"sampler: {source}, every {args.interval * 1000:g} ms; {polled} polls in {args.rounds} sampled blocks")
    print(
        f"one poll of {args.gpus if not args.real else 'every'} GPU(s): {per_poll * 1e6:.1f} µs "
        f"({per_poll / args.interval * 100:.2f} % of the interval)"
    )
    print(f"median per call: without {statistics.median(off) * 1e3:.3f} ms, with {statistics.median(on) * 1e3:.3f} ms")
    print(
        f"overhead: {pct:+.2f} % (median of {args.rounds} paired ratios; "
        f"95 % CI {(ci.low - 1) * 100:+.2f} % .. {(ci.high - 1) * 100:+.2f} %)"
    )
    if error:
        print(f"sampler error: {error}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
