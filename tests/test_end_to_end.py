"""End to end: the real plugin on a scripted host -> benchmarks.json -> `python -m reports` -> report.html."""

import os
import subprocess
import sys
from pathlib import Path

import results_format

REPO = Path(__file__).resolve().parents[1]
# two cases of each book workload (the serving and training ones have their function modes too: left out)
SELECT = "n128 or n512 or (function and not (dispatch or inference or amp or batch)) or fed-step or h2d-pageable-1MiB"


def test_plugin_to_results_file_to_report(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVICEBENCH_")}
    env.update(PYTHONPATH=str(REPO), DEVICEBENCH_FAKE_HOST="gpubox", DEVICEBENCH_HOST="e2e")
    plugins = ["-p", "tests.golden_plugin", "-p", "no:cacheprovider"]
    options = ["--profile", "smoke", "--results-dir", str(tmp_path / "results"), "-k", SELECT]
    bench = subprocess.run(
        [sys.executable, "-m", "pytest", str(REPO / "bench"), *plugins, *options],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bench.returncode == 0, bench.stdout[-3000:] + bench.stderr[-3000:]
    run = results_format.read(tmp_path / "results" / "latest")
    names = [b.name for b in run.benchmarks]
    assert run.complete and len(names) == 14  # matmul 2 + 2 x 3 dtypes, 2 of each other workload
    assert {b.extra_info.workload for b in run.benchmarks} == {"matmul", "mnist", "tfdata", "transfer"}
    folder = (tmp_path / "results" / "latest").resolve()
    assert folder.name == "20261120-090000-e2e" and (folder / "nvml.csv").is_file()

    report = subprocess.run(
        [sys.executable, "-m", "reports", str(tmp_path / "results" / "latest")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.returncode == 0, report.stdout[-3000:] + report.stderr[-3000:]
    html = (folder / "report.html").read_text()
    assert all(name in html for name in names), [name for name in names if name not in html]
    assert "NVIDIA H100 80GB HBM3" in html
