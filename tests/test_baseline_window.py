"""Baseline windows on disk: runs added atomically, pruned to K, concurrent savers of one name all succeed."""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bench.run_folder import add_to_window, window_runs


def _run(tmp: Path, name: str) -> Path:
    """A fake finished run folder with a results file and a hidden file that must not be copied."""
    folder = tmp / "results" / name
    folder.mkdir(parents=True)
    (folder / "benchmarks.json").write_text(json.dumps({"name": name}))
    (folder / ".tmp-x").write_text("scratch")
    return folder


def _save(args: tuple[str, str, int]) -> str:
    """Child process: add one run to the window."""
    window, run, keep = args
    return add_to_window(Path(window), Path(run), keep).name


def test_a_window_keeps_the_newest_k_runs(tmp_path: Path) -> None:
    window = tmp_path / "results" / "baselines" / "main"
    for i in range(7):
        add_to_window(window, _run(tmp_path, f"20261205-0000{i:02d}-vm"), keep=5)
    assert [p.name for p in window_runs(window)] == [f"20261205-0000{i:02d}-vm" for i in range(2, 7)]
    assert sorted(p.name for p in window.iterdir()) == [p.name for p in window_runs(window)]  # no leftovers
    assert not (window / "20261205-000006-vm" / ".tmp-x").exists()


def test_a_single_run_baseline_from_before_windows_becomes_the_first_entry(tmp_path: Path) -> None:
    window = tmp_path / "results" / "baselines" / "main"
    window.mkdir(parents=True)
    (window / "benchmarks.json").write_text("{}")
    add_to_window(window, _run(tmp_path, "20261205-000000-vm"), keep=5)
    assert [p.name for p in window_runs(window)] == ["00000000-000000-legacy", "20261205-000000-vm"]


def test_concurrent_saves_of_one_name_in_processes_all_succeed(tmp_path: Path) -> None:
    window = tmp_path / "results" / "baselines" / "main"
    runs = [_run(tmp_path, f"20261205-0001{i:02d}-vm") for i in range(24)]
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        saved = pool.map(_save, [(str(window), str(run), 5) for run in runs])
    assert sorted(saved) == sorted(run.name for run in runs)  # every save returned, none raised
    left = window_runs(window)
    assert [p.name for p in left] == [run.name for run in runs[-5:]]  # the newest five by name, whatever the order
    assert all((p / "benchmarks.json").is_file() for p in left)
    assert not [p for p in window.iterdir() if p.name.startswith(".")]


def test_concurrent_saves_in_threads_all_succeed_and_the_window_ends_pruned(tmp_path: Path) -> None:
    window = tmp_path / "results" / "baselines" / "main"
    runs = [_run(tmp_path, f"20261205-0002{i:02d}-vm") for i in range(40)]
    with ThreadPoolExecutor(8) as pool:
        saved = list(pool.map(lambda run: add_to_window(window, run, 3).name, runs))
    assert sorted(saved) == sorted(run.name for run in runs)
    add_to_window(window, _run(tmp_path, "20261205-999999-vm"), 3)  # a last, lone save prunes what races left
    assert [p.name for p in window_runs(window)] == [runs[-2].name, runs[-1].name, "20261205-999999-vm"]


@pytest.mark.parametrize("keep", [1, 2])
def test_keep_bounds_the_window(tmp_path: Path, keep: int) -> None:
    window = tmp_path / "w"
    for i in range(4):
        add_to_window(window, _run(tmp_path, f"20261205-0003{i:02d}-vm"), keep)
    assert len(window_runs(window)) == keep
