"""One run's folder on disk: checked before anything runs, made when the first case finishes, never half-written.

    folder = RunFolder.prepare(Path("results"), host, started, baseline="main")  # RunFolderError if unusable
    folder.save(document)       # after every finished case: atomic rewrite of benchmarks.json
    folder.finish(document)     # at the end: the final state, then the baseline copy when the run completed

A baseline is a rolling window: `results_dir/baselines/NAME/` holds the last K complete runs, one folder
each (copied under a hidden name, then renamed into place: readers never see half a run); older ones are
pruned, and two runs saving one name at once both land (each is its own entry).

`latest` moves (atomically) to this run when its first case is saved, so it only ever points at a run that
measured something; the folder's name is claimed with an atomic mkdir, so two runs starting in the same
second get two folders.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from results_format import LATEST, RESULTS_FILE, ResultsWriteError, RunFile, dumps, run_folders, write_atomic

BASELINE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
#: runs a baseline window keeps by default (`--baseline-window`).
BASELINE_WINDOW = 5


class RunFolderError(ValueError):
    """A results folder, baseline name or path file that cannot be used; the message is one line."""


class BaselineSaveError(ResultsWriteError):
    """The finished run could not be added to its baseline window (the run itself is kept)."""


def run_folder_name(now: datetime, host: str) -> str:
    """`<UTC yyyymmdd-HHMMSS>-<host>`, the name of one run's folder."""
    return f"{now.astimezone(UTC):%Y%m%d-%H%M%S}-{host}"


def claim_run_dir(results_dir: Path, now: datetime, host: str) -> Path:
    """Create a new run folder under `results_dir`, atomically: `-2`, `-3`, ... when the name is taken."""
    base = run_folder_name(now, host)
    for n in range(1, 10_000):
        path = results_dir / (base if n == 1 else f"{base}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise ResultsWriteError(exc.errno, f"cannot make a run folder in {results_dir}: {exc.strerror}") from None
        return path
    raise ResultsWriteError(0, f"cannot make a run folder in {results_dir}: 10000 folders named {base}-*")


def point_latest(results_dir: Path, run_dir: Path) -> None:
    """Make `results_dir/latest` a relative symlink to `run_dir`, replacing the old link atomically."""
    tmp = results_dir / f".latest-{os.getpid()}"
    try:
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(run_dir.name)
        os.replace(tmp, results_dir / LATEST)
    except OSError as exc:
        raise ResultsWriteError(
            exc.errno, f"cannot point {results_dir / LATEST} at {run_dir.name}: {exc.strerror}"
        ) from None


def check_baseline_name(name: str) -> str:
    """A usable `--save-baseline` name (letters, digits, `.`, `_`, `-`; no path), else RunFolderError."""
    if not BASELINE_NAME.match(name) or name in (".", "..", LATEST):
        raise RunFolderError(
            f"--save-baseline: {name!r} is not a usable baseline name (letters, digits, '.', '_' and '-', "
            "starting with a letter or digit; no '/')"
        )
    return name


def check_results_dir(results_dir: Path) -> None:
    """Make sure runs can be written under `results_dir` before anything runs; RunFolderError says why not."""
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunFolderError(f"--results-dir {results_dir}: cannot create it: {exc.strerror or exc}") from None
    if not results_dir.is_dir():
        raise RunFolderError(f"--results-dir {results_dir}: not a folder")
    latest = results_dir / LATEST
    if latest.exists() and not latest.is_symlink():
        raise RunFolderError(
            f"--results-dir {results_dir}: {latest} is a real {'folder' if latest.is_dir() else 'file'}, "
            "not the link devicebench keeps to the newest run; move it away"
        )
    probe = results_dir / f".devicebench-write-test-{os.getpid()}"
    try:
        with probe.open("w") as handle:
            handle.write("x")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise RunFolderError(f"--results-dir {results_dir}: cannot write there: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink(missing_ok=True)


@dataclass
class RunFolder:
    """Where one run's files go; the folder itself exists only once a case has been saved."""

    results_dir: Path
    host: str
    started: datetime
    baseline: str | None = None
    path_file: Path | None = None  # gets the run folder's path as soon as it exists (for nox and the entrypoint)
    baseline_keep: int = BASELINE_WINDOW  # runs the baseline window keeps
    run_dir: Path | None = field(default=None, init=False)

    @classmethod
    def prepare(
        cls,
        results_dir: Path,
        host: str,
        started: datetime,
        baseline: str | None = None,
        path_file: Path | None = None,
        baseline_keep: int = BASELINE_WINDOW,
    ) -> RunFolder:
        """Check everything a run will need to write (RunFolderError: one line) and return its RunFolder."""
        check_results_dir(results_dir)
        if baseline is not None:
            check_baseline_name(baseline)
        if path_file is not None:
            if path_file.is_dir():
                raise RunFolderError(f"--run-path-file {path_file}: is a folder")
            try:
                path_file.parent.mkdir(parents=True, exist_ok=True)
                path_file.unlink(missing_ok=True)  # a stale path from an earlier run must not be mistaken for this one
            except OSError as exc:
                raise RunFolderError(f"--run-path-file {path_file}: {exc.strerror or exc}") from None
        if baseline_keep < 1:
            raise RunFolderError(f"--baseline-window must be at least 1, got {baseline_keep}")
        return cls(results_dir, host, started, baseline, path_file, baseline_keep)

    @property
    def json_path(self) -> Path | None:
        """This run's benchmarks.json, once the folder exists."""
        return self.run_dir / RESULTS_FILE if self.run_dir is not None else None

    def save(self, document: RunFile) -> Path:
        """Write the document atomically, making the folder (and moving `latest`) the first time."""
        if self.run_dir is None:
            self.run_dir = claim_run_dir(self.results_dir, self.started, self.host)
            write_atomic(self.run_dir / RESULTS_FILE, dumps(document))
            point_latest(self.results_dir, self.run_dir)
            if self.path_file is not None:
                write_atomic(self.path_file, f"{self.run_dir.resolve()}\n")
            return self.run_dir
        write_atomic(self.run_dir / RESULTS_FILE, dumps(document))
        return self.run_dir

    def save_baseline(self) -> Path | None:
        """Add the finished run to the window `results_dir/baselines/<name>/` and prune it to `baseline_keep` runs."""
        if self.baseline is None or self.run_dir is None:
            return None
        window = self.results_dir / "baselines" / self.baseline
        try:
            return add_to_window(window, self.run_dir, self.baseline_keep)
        except OSError as exc:
            raise BaselineSaveError(exc.errno, f"cannot save baseline {window}: {exc.strerror or exc}") from None


def window_runs(window: Path) -> list[Path]:
    """The run folders of a baseline window, oldest first (by name: UTC time, then host)."""
    return run_folders(window)


def _make_window(window: Path) -> None:
    """Create the window folder; a baseline saved before windows existed (one run) becomes its first entry."""
    if (window / RESULTS_FILE).is_file():
        legacy = window.with_name(f".{window.name}.legacy.{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            os.rename(window, legacy)  # another saver may have moved it first
            window.mkdir(exist_ok=True)
            os.rename(legacy, window / "00000000-000000-legacy")
    window.mkdir(parents=True, exist_ok=True)


def add_to_window(window: Path, run_dir: Path, keep: int = BASELINE_WINDOW) -> Path:
    """Copy `run_dir` into `window` atomically (hidden staging copy, then rename) and prune to the newest `keep`."""
    _make_window(window)
    entry = window / run_dir.name
    staging = window / f".{run_dir.name}.{os.getpid()}.tmp"
    try:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(run_dir, staging, ignore=shutil.ignore_patterns(".*"))
        os.rename(staging, entry)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    prune_window(window, keep)
    return entry


def prune_window(window: Path, keep: int) -> None:
    """Remove all but the newest `keep` runs; each is renamed away first, so concurrent pruners never collide."""
    # one listing: another saver may add a run between two, and a slice of one by the length of the other
    # would prune a run that is among the newest `keep`
    runs = window_runs(window)
    for old in runs[: max(0, len(runs) - keep)]:
        trash = window / f".pruned.{old.name}.{os.getpid()}"
        try:
            os.rename(old, trash)
        except FileNotFoundError:
            continue  # pruned by another run saving into this window
        shutil.rmtree(trash, ignore_errors=True)
