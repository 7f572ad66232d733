"""One run-discovery function (results_format.run_folders) lists the runs for compare, fleet, the baseline windows
and the power tools: real folders with a benchmarks.json, never `latest` or another link, never a hidden folder."""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.run_folder import window_runs
from reports.fleet_cmd import expand
from reports.window import run_folders as window_folders
from results_format import RESULTS_FILE, run_folders
from tools.power_study import read_recorded

GOLDEN = Path(__file__).parent / "data" / "compare" / "baseline"


def make_results(root: Path) -> Path:
    """results/: two runs, `latest` linking to one, a hidden staging copy, a folder with no file, and a host
    folder and a baselines folder holding runs of their own."""
    results = root / "results"
    for name in ("20261201-000000-a", "20261202-000000-b", ".20261203-000000-c.tmp", "host-x/20261204-000000-x",
                 "baselines/main/20261205-000000-base"):  # fmt: skip
        (results / name).mkdir(parents=True)
        shutil.copy(GOLDEN / RESULTS_FILE, results / name / RESULTS_FILE)
    (results / "notes").mkdir()
    (results / "latest").symlink_to("20261202-000000-b")
    return results


def test_run_folders_lists_real_run_folders_by_name_one_or_two_levels_down(tmp_path: Path):
    results = make_results(tmp_path)
    assert [p.name for p in run_folders(results)] == ["20261201-000000-a", "20261202-000000-b"]
    two = run_folders(results, levels=2, skip=("baselines",))
    assert [p.relative_to(results).as_posix() for p in two] == [
        "20261201-000000-a",
        "20261202-000000-b",
        "host-x/20261204-000000-x",
    ]
    assert run_folders(results / "20261201-000000-a") == []  # a run is not a folder of runs
    assert run_folders(results / "missing") == []
    assert run_folders(results / "latest" / RESULTS_FILE) == []


def test_compare_fleet_the_baseline_window_and_the_power_tools_list_the_same_runs(tmp_path: Path):
    results = make_results(tmp_path)
    direct = run_folders(results)
    assert window_folders(results) == direct  # compare's windows
    assert expand([results]) == run_folders(results, levels=2, skip=("baselines",))  # fleet: no hidden copy
    assert window_runs(results) == direct  # the baseline window bench prunes
    assert len(read_recorded(results)) == len(direct)  # tools/power_study.py and tools/power_across.py
