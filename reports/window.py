"""Read one side of a comparison as a list of runs: a run folder, or a window of run folders (I/O at the edge).

A window is a folder whose sub-folders are runs (``results/baselines/NAME/`` as ``--save-baseline``
keeps it, or a results folder), or runs a caller read elsewhere (``compare --store``: the newest runs of a
host in the results store). Its incomplete runs are left out and counted; its runs must come from
one machine (the first fact that differs is named) unless the caller allows a machine change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import results_format
from reports.compare import machine_differences
from reports.load import ResultsFileError, Run, read_run

__all__ = ["BASELINES", "Side", "WindowError", "read_side_runs", "resolve_side", "run_folders", "window_of"]

BASELINES = Path("results") / "baselines"


class WindowError(ValueError):
    """A side that cannot be used as it is; the message is one line."""


@dataclass(frozen=True)
class Side:
    """The runs of one side, oldest first, and what was left out."""

    label: str
    runs: list[Run]
    window: bool  # read from a folder of runs
    left_out: list[str] = field(default_factory=list)  # incomplete runs of a window, with why
    wanted: int | None = None  # the complete runs asked for (compare --store --window N); None: the folder's all

    @property
    def records(self) -> list:
        """The runs' validated records."""
        return [run.record for run in self.runs]


def resolve_side(text: str) -> Path:
    """A run path as given, or results/baselines/<text> when only that exists."""
    path = Path(text)
    if not path.exists() and (BASELINES / text).exists():
        return BASELINES / text
    return path


def run_folders(path: Path) -> list[Path]:
    """The run folders directly inside a results folder (not `latest`, not symlinks, not hidden), by name."""
    return results_format.run_folders(path)


def read_side_runs(text: str) -> Side:
    """One side: a single run (kept even when incomplete: the caller decides), or a window of complete runs."""
    path = resolve_side(text)
    folders = run_folders(path)
    if not folders:
        return Side(text, [read_run(path)], window=False)
    side = window_of(text, [read_run(folder) for folder in folders])
    if not side.runs:
        raise ResultsFileError(path, f"no complete run in this window ({len(side.left_out)} incomplete)")
    return side


def window_of(label: str, runs: list[Run], wanted: int | None = None) -> Side:
    """A window of these runs (any order): the complete ones oldest first; the incomplete ones left out, with why."""
    ordered = sorted(runs, key=lambda r: (r.record.datetime, r.name))
    kept = [run for run in ordered if run.complete]
    left_out = [f"{run.name} ({run.state_text})" for run in ordered if not run.complete]
    return Side(label, kept, window=True, left_out=left_out, wanted=wanted)


def machine_change(sides: list[Side]) -> str | None:
    """The first machine fact that differs among all runs of these sides (one line), or None."""
    first: Run | None = None
    for side in sides:
        for run in side.runs:
            if first is None:
                first = run
                continue
            diffs = machine_differences(first.record.machine_info, run.record.machine_info)
            if diffs:
                return f"{run.name} ({side.label}) differs from {first.name}: {diffs[0]}"
    return None
