"""The golden runs under tests/data by name, and variants of them made through the results format.

A test that needs a run the golden set lacks (a host name with markup, a newer run of one host) derives it
from a golden file: it changes fields of the parsed JSON, and `derive` validates the result with
results_format and writes it with results_format's writer, so no results file in the tests is hand-written.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import results_format

DATA = Path(__file__).parent / "data"
BAD = DATA / "bad"
LAPTOP = DATA / "runs" / "20261120-090000-laptop"  # CPU-only, smoke
GPUBOX = DATA / "runs" / "20261121-120000-gpubox"  # one H100, full profile, torch not installed
WORKSTATION = DATA / "runs" / "20261122-080000-workstation"  # RTX 4090 + RTX A4000, OOM skips on the A4000
MIXED = DATA / "backends" / "20261123-100000-mixedbox"  # tensorflow and torch on one H100
COMPARE = DATA / "compare"
FLEET = DATA / "fleet"  # four A100 hosts: node-c 20 % slow (throttled), node-d on another driver
FLEET_RUNS = tuple(sorted(p for p in FLEET.iterdir() if p.is_dir()))
STOPBOX = DATA / "incomplete" / "20261124-100000-stopbox"  # SIGTERM during its sixth case
KILLBOX = DATA / "incomplete" / "20261124-110000-killbox"  # SIGKILL during its sixth case
PEAKS = DATA / "peaks" / "20261126-120000-mixedbox"  # --profile peaks, torch, on one H100, 5 s per GPU dtype


def fleet_run(host: str) -> Path:
    """The golden fleet run of `host` (node-a .. node-d)."""
    (folder,) = (p for p in FLEET_RUNS if p.name.endswith(f"-{host}"))
    return folder


def derive(source: Path, target: Path, change: Callable[[dict[str, Any]], object]) -> Path:
    """Run folder `target`: the run of `source` with `change` applied to its parsed JSON, validated and written
    by results_format (its nvml.csv comes along). Returns `target`."""
    data = json.loads((source / results_format.RESULTS_FILE).read_text(encoding="utf-8"))
    change(data)
    run = results_format.parse(json.dumps(data), target / results_format.RESULTS_FILE)
    target.mkdir(parents=True, exist_ok=True)
    results_format.write(target / results_format.RESULTS_FILE, run)
    if (source / results_format.NVML_FILE).is_file():
        shutil.copy(source / results_format.NVML_FILE, target / results_format.NVML_FILE)
    return target


def rename_host(data: dict[str, Any], host: str) -> None:
    """Make a parsed run another host's: devicebench's host name and pytest-benchmark's node."""
    data["machine_info"]["devicebench"]["host"] = host
    data["machine_info"]["node"] = host


def host_of(folder: Path) -> str:
    """The host a golden run folder was measured on."""
    return results_format.read(folder).machine_info.devicebench.host


def fleet_folder(root: Path, runs: Iterable[Path] = FLEET_RUNS) -> Path:
    """`root` laid out as the Slurm and Kubernetes jobs write it: <root>/<host>/<run>/ and <root>/<host>/latest."""
    for run in runs:
        host = root / host_of(run)
        shutil.copytree(run, host / run.name)
        latest = host / results_format.LATEST
        latest.unlink(missing_ok=True)
        latest.symlink_to(run.name)
    return root
