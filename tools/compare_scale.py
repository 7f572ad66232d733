"""Build a baseline/current pair with many rounds per case, to measure `compare` at scale (a developer tool).

    python -m tools.compare_scale OUT --rounds 2500000            # OUT/baseline, OUT/current
    /usr/bin/time -v python -m reports compare OUT/baseline OUT/current > /dev/null

The pair is cut from a template run (the golden compare baseline by default) and written through the
results format's own writer: its first `--cases` cases keep their identity, their rounds become `--rounds`
seeded log-normal times (5 % spread) around the template's median; the current side is `--slowdown`
slower (default 3 %) and trends by `--trend` from its first round to its last (default 12 %, enough for
the round-trend note).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import results_format
from results_format import RunFile, Stats

TEMPLATE = Path("tests") / "data" / "compare" / "baseline"


def rounds(median: float, count: int, slowdown: float, trend: float, seed: int) -> list[float]:
    """`count` seeded log-normal round times around `median` × (1 + slowdown), ramping by `trend`."""
    rng = np.random.default_rng(seed)
    ramp = 1 + trend * np.linspace(0.0, 1.0, count)
    times = median * (1 + slowdown) * ramp * rng.lognormal(0.0, 0.05, count)
    return times.tolist()


def side(template: RunFile, count: int, cases: int, slowdown: float, trend: float, seed: int) -> RunFile:
    """The template's first `cases` cases with `count` made-up rounds each."""
    benchmarks = [
        bench.model_copy(
            update={"stats": Stats.from_rounds(rounds(bench.stats.median, count, slowdown, trend, seed + i))}
        )
        for i, bench in enumerate(template.benchmarks[:cases])
    ]
    block = template.devicebench.model_copy(
        update={"skipped": [], "run": template.devicebench.run.model_copy(update={"measured": len(benchmarks)})}
    )
    return template.model_copy(update={"benchmarks": benchmarks, "devicebench": block})


def main(argv: list[str] | None = None) -> int:
    """Write OUT/baseline and OUT/current."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--rounds", type=int, default=10_000)
    parser.add_argument("--cases", type=int, default=1)
    parser.add_argument("--slowdown", type=float, default=0.03)
    parser.add_argument("--trend", type=float, default=0.12)
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    args = parser.parse_args(argv)
    template = results_format.read(args.template)
    for name, slowdown, trend, seed in (("baseline", 0.0, 0.0, 0), ("current", args.slowdown, args.trend, 1000)):
        folder = args.out / name
        folder.mkdir(parents=True, exist_ok=True)
        run = side(template, args.rounds, args.cases, slowdown, trend, seed)
        results_format.write(folder / results_format.RESULTS_FILE, run)
        print(f"{folder}: {len(run.benchmarks)} case(s) × {args.rounds} rounds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
