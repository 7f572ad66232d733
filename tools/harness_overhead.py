"""What the suite's harness costs: one case through pytest + the plugin vs a bare timing loop of the same call.

    python -m tools.harness_overhead               # 9 interleaved pairs, matmul n=1024, TensorFlow on CPU:0
    python -m tools.harness_overhead --pairs 9 --n 2048
    python -m tools.harness_overhead --workload attention --backend torch --profile smoke \\
        --case fwd-h12x64-s512-b1-float32 --pairs 7

The case is one of the profile's cases for the workload on the backend's device: --case names it by its label
(`fwd-h12x64-s512-b1-float32`), its pytest id (`torch-CPU:0-fwd-...`), its node id (`...::test_attention[ID]`) or
any part of the id that only one case has; matmul's default is `n<--n>-float32`. Both sides run in this one process,
with a device sync after every round: the bare side builds the call with the backend's builder for the workload
(bench.backends load_backend(...).build, as a run does) and times `perf_counter(); call(); sync(); perf_counter()`
in a plain loop for as many rounds as the suite kept, a round as many calls as the suite's (one sync a round, the
time divided by the calls); the suite side runs the case's node id through pytest.main (warm-up, placement check,
the output check, pytest-benchmark's rounds, short calls batched). Pairs alternate which side goes first; the figure
is the median of the per-pair ratios of medians (suite / bare), with every pair shown in the workload's throughput
unit, and the same for the minimums (the least noise-prone estimate of a fixed cost on a busy machine). Set the
thread counts (OMP_NUM_THREADS, TF_NUM_INTRAOP_THREADS, ...) in the environment: both sides share them.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any

from bench.devices import Device

BENCHMARKS = Path(__file__).resolve().parents[1] / "bench" / "benchmarks"


class SelectionError(ValueError):
    """A workload, device or case the options do not name exactly once."""


@dataclass(frozen=True)
class Options:
    """What to compare: one case of one workload on one backend's device, and how many pairs."""

    workload: str
    backend: str
    case: str | None
    device: str | None
    profile: str
    pairs: int


def parse_args(argv: Sequence[str] | None = None) -> Options:
    """The command line as Options; matmul without --case selects `n<--n>-float32`."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.harness_overhead",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--workload", default="matmul", help="the workload (default matmul)")
    parser.add_argument("--backend", default="tensorflow", help="tensorflow (default) or torch")
    parser.add_argument("--case", help="the case's label, pytest id, node id, or a part of its id only it has")
    parser.add_argument("--device", help="the device's name (default: the backend's first device)")
    parser.add_argument("--n", type=int, default=1024, help="matmul's matrix size when --case is not given (1024)")
    parser.add_argument("--pairs", type=int, default=9, help="interleaved suite/bare pairs (default 9)")
    parser.add_argument("--profile", default="standard", help="the suite's profile: its cases and rounds (standard)")
    args = parser.parse_args(argv)
    if args.pairs < 1:
        parser.error("--pairs must be at least 1")
    case = args.case
    if case is None and args.workload == "matmul":
        case = f"n{args.n}-float32"
    return Options(args.workload, args.backend, case, args.device, args.profile, args.pairs)


def select_case(cases: Sequence[Any], wanted: str | None) -> Any:
    """The one case (bench.cases.Case) `wanted` names: its label, id, node id, else the only id containing it."""
    runnable = [c for c in cases if c.skip_reason is None]
    labels = ", ".join(c.workload.label(dict(c.params)) for c in runnable) or "none"
    if wanted is None:
        if len(runnable) == 1:
            return runnable[0]
        raise SelectionError(f"name a case with --case (the profile's cases: {labels})")
    node = re.fullmatch(r".*::\w+\[(.+)\]", wanted)
    key = node.group(1) if node else wanted
    exact = [c for c in runnable if key in (c.id, c.workload.label(dict(c.params)))]
    found = exact or [c for c in runnable if key in c.id]
    if len(found) == 1:
        return found[0]
    if not found:
        raise SelectionError(f"no runnable case matches {wanted!r} (the profile's cases: {labels})")
    raise SelectionError(f"{wanted!r} matches {len(found)} cases: {', '.join(c.id for c in found)}")


def benchmark_node(workload: str, folder: Path = BENCHMARKS) -> str:
    """`path::test_function` of the benchmark marked @pytest.mark.workload(workload) in `folder`."""
    marker = re.compile(rf"@pytest\.mark\.workload\([\"']{re.escape(workload)}[\"']\)\s*\ndef (test_\w+)")
    for path in sorted(folder.glob("test_*.py")):
        match = marker.search(path.read_text())
        if match:
            return f"{path}::{match.group(1)}"
    raise SelectionError(f"no benchmark in {folder} is marked with workload {workload!r}")


def bare_median(
    call: Callable[[], Any], sync: Callable[[], None], rounds: int, calls: int = 1, warmup: int = 2
) -> tuple[float, float]:
    """(median, min) seconds a call over `rounds` bare rounds of `calls` calls and one device sync.

    `calls` is the suite's calls per round (bench.batching): on a busy CPU a short round is less often preempted
    than a long one, so timing single calls against the suite's batched rounds would favour the bare side.
    """
    for _ in range(warmup):
        call()
        sync()
    times = []
    for _ in range(rounds):
        start = perf_counter()
        for _ in range(calls):
            call()
        sync()
        times.append((perf_counter() - start) / calls)
    return statistics.median(times), min(times)


def suite_median(node: str, out: Path, options: Options, device: Device) -> tuple[float, float, int, int]:
    """(median s, min s, rounds, calls per round) of the case's node run through pytest and the devicebench plugin."""
    import pytest

    import results_format

    code = pytest.main(
        [
            node,
            "-q",
            "-p",
            "no:cacheprovider",
            "--profile",
            options.profile,
            "--backend",
            device.backend,
            "--devices",
            device.name,
            "--results-dir",
            str(out),
            "--run-path-file",
            str(out / "run-path"),
            "--benchmark-quiet",
        ]
    )
    if code != 0:
        raise SelectionError(f"the suite run of {node} failed (pytest exit {code})")
    (bench,) = results_format.read((out / "run-path").read_text().strip()).benchmarks
    timing = bench.extra_info.timing
    calls = timing.calls_per_round if timing is not None and timing.calls_per_round else 1
    return bench.stats.median, bench.stats.min, bench.stats.rounds, calls


def compare(options: Options) -> int:
    """Run the interleaved pairs and print each pair, the throughputs and the median ratio."""
    from bench.backends import load_backend, parse_backends
    from bench.cases import make_cases
    from bench.profiles import get_profile
    from bench.workloads import WORKLOADS

    if options.workload not in WORKLOADS:
        raise SelectionError(f"unknown workload {options.workload!r} (known: {', '.join(WORKLOADS)})")
    workload = WORKLOADS[options.workload]
    names = parse_backends(options.backend)
    if len(names) != 1:
        raise SelectionError(f"--backend: name one backend, not {options.backend!r}")
    backend = load_backend(names[0])
    devices = backend.devices()
    chosen = [d for d in devices if options.device in (None, d.name)][:1]
    if not chosen:
        raise SelectionError(f"{names[0]} has no device {options.device} ({', '.join(d.name for d in devices)})")
    device = chosen[0]
    case = select_case(make_cases(workload, get_profile(options.profile), [device]), options.case)
    node = f"{benchmark_node(workload.name)}[{case.id}]"
    params = dict(case.params)
    prepared = backend.build(case)
    unit = workload.throughput_unit
    ratios, min_ratios = [], []
    print(f"{workload.name} {case.id} on {device.name} ({device.model}), profile {options.profile}:")
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(options.pairs):
            out = Path(tmp) / f"run{i}"
            if i % 2 == 0:  # alternate which side goes first, so drift does not favour one
                s_med, s_min, rounds, calls = suite_median(node, out, options, device)
                b_med, b_min = bare_median(prepared.call, backend.sync, rounds, calls)
            else:
                b_med, b_min = bare_median(prepared.call, backend.sync, rounds, calls)
                s_med, s_min, rounds, calls = suite_median(node, out, options, device)
            ratios.append(s_med / b_med)
            min_ratios.append(s_min / b_min)
            print(
                f"pair {i + 1}: suite {s_med * 1e3:8.3f} ms {workload.throughput(params, s_med):9.4g} {unit}  "
                f"bare {b_med * 1e3:8.3f} ms {workload.throughput(params, b_med):9.4g} {unit}  "
                f"median ratio {ratios[-1]:.4f}  min ratio {min_ratios[-1]:.4f}  ({rounds} rounds of {calls})"
            )
    ratio, min_ratio = statistics.median(ratios), statistics.median(min_ratios)
    print(
        f"{workload.name} {case.workload.label(params)} on {device.backend} {device.name}: suite/bare = {ratio:.4f} "
        f"({(ratio - 1) * 100:+.2f} %, median of {options.pairs} per-pair ratios of medians); "
        f"of minimums {min_ratio:.4f} ({(min_ratio - 1) * 100:+.2f} %)"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the interleaved comparison; a bad workload, backend, device or case is one line and exit 2."""
    from bench.backends.base import BackendUnavailable, CaseSkipped

    options = parse_args(argv)
    try:
        return compare(options)
    except (SelectionError, LookupError, ValueError, BackendUnavailable) as exc:
        print(f"harness_overhead: {exc}", file=sys.stderr)
        return 2
    except CaseSkipped as exc:  # e.g. a dtype the device does not support, found when the case is built
        print(f"harness_overhead: the case cannot run here: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
