"""Test helper: windows of runs made from one recorded run, rounds scaled per run (no I/O beyond the folder)."""

from __future__ import annotations

from pathlib import Path

import results_format
from results_format import Stats


def scaled_window(folder: Path, source: Path, scales: tuple[float, ...] = (1.0, 0.99, 1.01, 1.02, 0.98)) -> Path:
    """A window of runs: copies of `source` with every case's rounds scaled, one folder per run."""
    record = results_format.read(source)
    for i, scale in enumerate(scales):
        benchmarks = [
            b.model_copy(update={"stats": Stats.from_rounds([t * scale for t in b.stats.data])})
            for b in record.benchmarks
        ]
        run = folder / f"20261120-08{i:04d}-gpubox"
        run.mkdir(parents=True)
        (run / "benchmarks.json").write_text(results_format.dumps(record.model_copy(update={"benchmarks": benchmarks})))
    return folder
