"""What the NVML sampler costs a CPU benchmark: matmul with and without it, interleaved.

    python -m tools.nvml_overhead                 # numpy matmul n=1024, a fake GPU, 20 ms
    python -m tools.nvml_overhead --backend tensorflow --rounds 60
    python -m tools.nvml_overhead --workload dispatch --gpus 8   # GIL-bound case, a big host
    python -m tools.nvml_overhead --real          # poll the machine's real GPUs instead

Each round times `--calls` matmuls three times, rotating the order: without the sampler, with
a control thread that only wakes up every interval (what the OS scheduler alone costs), and with
the sampler polling; each overhead is the median of the per-round time ratios against "without",
with a bootstrap 95 % interval, and the sampler thread's own CPU time is reported beside it.
Without `--real` the sampler polls fake GPUs patched into nvidia-ml-py, so the figure is the
Python-side cost of a poll (thread wake-up, the GIL, the calls).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
from scipy import stats

from bench.nvml import DEFAULT_INTERVAL_S, Telemetry, nvml_available
from tools.fake_nvml import FakeGpu, FakeNvml


def make_dispatch(n: int) -> tuple[str, Callable[[], object]]:
    """A dispatch-bound call: 1000 tiny numpy additions driven from Python (needs the GIL throughout)."""
    x = np.ones(max(1, n // 64), dtype=np.float32)

    def call() -> object:
        y = x
        for _ in range(1000):
            y = y + x
        return y

    return f"numpy {np.__version__} dispatch-bound (1000 adds of {x.size} floats per call)", call


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


@contextlib.contextmanager
def idle_wakeups(interval_s: float) -> Iterator[None]:
    """A control: a thread that wakes every interval and does nothing (the scheduler's share)."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval_s):
            pass

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def overhead_pct(with_s: list[float], without_s: list[float]) -> tuple[float, float, float]:
    """Median paired overhead in %, with a bootstrap 95 % interval."""
    ratios = np.array(with_s) / np.array(without_s)
    ci = stats.bootstrap((ratios,), np.median, confidence_level=0.95, random_state=0).confidence_interval
    return (float(np.median(ratios)) - 1) * 100, (ci.low - 1) * 100, (ci.high - 1) * 100


def main(argv: list[str] | None = None) -> int:
    """Run the interleaved comparison and print the overhead."""
    parser = argparse.ArgumentParser(prog="python -m tools.nvml_overhead", description=__doc__.split("\n")[0])
    parser.add_argument("--workload", choices=("matmul", "dispatch"), default="matmul")
    parser.add_argument("--backend", choices=("numpy", "tensorflow", "auto"), default="numpy")
    parser.add_argument("--n", type=int, default=1024, help="matrix size (default 1024)")
    parser.add_argument("--rounds", type=int, default=40, help="interleaved rounds (default 40)")
    parser.add_argument("--calls", type=int, default=5, help="matmuls per timed block (default 5)")
    parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL_S, help="sampling interval, s")
    parser.add_argument("--gpus", type=int, default=1, help="fake GPUs to poll (default 1)")
    parser.add_argument("--real", action="store_true", help="poll the real GPUs instead of fake ones")
    args = parser.parse_args(argv)
    if args.n < 1 or args.rounds < 2 or args.calls < 1 or args.gpus < 1 or not args.interval > 0:
        parser.error("--n, --calls and --gpus must be >= 1, --rounds >= 2 and --interval > 0")

    backend, fn = make_matmul(args.backend, args.n) if args.workload == "matmul" else make_dispatch(args.n)
    with sampler_source(args.real, args.gpus) as source:
        tel = Telemetry.start(interval_s=args.interval)
        if not tel.enabled:
            print(f"nvml_overhead: {tel.header_line()}", file=sys.stderr)
            return 1
        print(tel.header_line())
        for _ in range(3):
            fn()
        times: dict[str, list[float]] = {"off": [], "idle": [], "sampler": []}
        polls, sampler_cpu_s, sampled_wall_s = 0, 0.0, 0.0
        conditions = list(times)
        for r in range(args.rounds):
            for condition in conditions[r % 3 :] + conditions[: r % 3]:  # rotate the order
                if condition == "sampler":
                    with tel.sample(f"round-{r}") as rec:
                        per_call = time_block(fn, args.calls)
                    polls += len(rec.samples) // max(1, len(tel.gpus))
                    sampler_cpu_s += rec.sampler_cpu_s
                    sampled_wall_s += per_call * args.calls
                elif condition == "idle":
                    with idle_wakeups(args.interval):
                        per_call = time_block(fn, args.calls)
                else:
                    per_call = time_block(fn, args.calls)
                times[condition].append(per_call)
        per_poll = poll_cost_s(tel)
        error = tel.error
        tel.close()

    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    sampler = overhead_pct(times["sampler"], times["off"])
    idle = overhead_pct(times["idle"], times["off"])
    gpus = "every GPU" if args.real else f"{args.gpus} GPU{'s' if args.gpus != 1 else ''}"
    what = f"matmul n={args.n} float32 on the CPU" if args.workload == "matmul" else "on the CPU"
    print(f"workload: {backend} {what}, {args.calls} calls per block")
    print(f"sampler: {source}, every {args.interval * 1000:g} ms; {polls} polls in {args.rounds} blocks")
    print(
        f"one poll of {gpus}: {per_poll * 1e6:.1f} µs; sampler thread CPU time "
        f"{sampler_cpu_s / sampled_wall_s * 100:.2f} % of one core while sampling"
    )
    print(f"median ms per call: off {med['off']:.3f}, idle wake-ups {med['idle']:.3f}, sampler {med['sampler']:.3f}")
    print(f"overhead of the sampler: {sampler[0]:+.2f} % (95 % CI {sampler[1]:+.2f} .. {sampler[2]:+.2f} %)")
    print(
        f"overhead of a thread that only wakes up every {args.interval * 1000:g} ms (control): "
        f"{idle[0]:+.2f} % (95 % CI {idle[1]:+.2f} .. {idle[2]:+.2f} %)"
    )
    if error:
        print(f"sampler error: {error}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
