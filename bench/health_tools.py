"""Optional outside health tools, recorded in the run: `dcgmi diag -r 1|2` and nvbandwidth's host-device matrix.

A tool that is not installed is a recorded skip with the reason, never an error; a tool that fails to run is
recorded with its last line. `dcgmi diag -j` prints JSON ("DCGM GPU Diagnostic" or "DCGM Diagnostic" with
`test_categories`, each test with per-GPU `results` and a `status` Pass/Fail/Warn/Skip); nvbandwidth prints a
matrix per test ("memcpy CE CPU(row) -> GPU(column) bandwidth (GB/s)", a header of GPU columns, then rows).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

from results_format import HealthFact, ToolRun

DCGM_TIMEOUT_S = {1: 120.0, 2: 900.0}  # level 1 takes seconds, level 2 about two minutes per GPU
NVBANDWIDTH_TESTS = ("host_to_device_memcpy_ce", "device_to_host_memcpy_ce")
NVBANDWIDTH_TIMEOUT_S = 600.0
_SEVERITY = {"fail": 3, "warn": 2, "pass": 1, "skip": 0}


def _run(command: list[str], timeout: float) -> tuple[int | None, str, str]:
    """(exit code, stdout, stderr) of a command; None and the reason when it could not finish."""
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None, "", f"timed out after {timeout:g} s"
    except OSError as err:
        return None, "", f"could not start: {err.strerror or err}"
    return proc.returncode, proc.stdout, proc.stderr


def _tail(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def dcgm_results(data: Any) -> dict[str, str]:
    """Each dcgmi diag test's worst status over its GPUs ("pass", "fail", "warn", "skip"), from its -j JSON."""
    results: dict[str, str] = {}
    blocks = [v for k, v in data.items() if k.startswith("DCGM")] if isinstance(data, dict) else []
    for block in blocks:
        for category in block.get("test_categories", []) if isinstance(block, dict) else []:
            for test in category.get("tests", []):
                statuses = [str(r.get("status", "")).lower() for r in test.get("results", []) if isinstance(r, dict)]
                statuses = [s for s in statuses if s in _SEVERITY] or ["skip"]
                results[str(test.get("name", "?"))] = max(statuses, key=_SEVERITY.__getitem__)
    return results


def dcgm_diag(level: int) -> tuple[ToolRun, list[HealthFact]]:
    """Run `dcgmi diag -r LEVEL -j` where dcgmi is on PATH; its record, and an unhealthy fact when a test failed."""
    tool = f"dcgmi diag -r {level}"
    if shutil.which("dcgmi") is None:
        return ToolRun(tool=tool, status="skipped", reason="dcgmi is not on PATH (install NVIDIA DCGM)"), []
    code, out, err = _run(["dcgmi", "diag", "-r", str(level), "-j"], DCGM_TIMEOUT_S.get(level, 900.0))
    try:
        results = dcgm_results(json.loads(out))
    except json.JSONDecodeError:
        results = {}
    if not results:
        why = (err.strip() and _tail(err)) or _tail(out)
        return ToolRun(tool=tool, status="error", reason=f"exit {code}: {why}"), []
    failed = sorted(name for name, status in results.items() if status == "fail")
    if failed:
        message = f"{tool} failed: {', '.join(failed)}"
        record = ToolRun(tool=tool, status="fail", reason=message, results=results)  # type: ignore[arg-type]
        return record, [HealthFact(level="unhealthy", check="dcgm_diag", message=message)]
    return ToolRun(tool=tool, status="pass", results=results), []  # type: ignore[arg-type]


_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def nvbandwidth_matrices(text: str) -> dict[str, list[list[float | None]]]:
    """Each test's matrix (rows of GB/s; N/A as None) from nvbandwidth's text output."""
    matrices: dict[str, list[list[float | None]]] = {}
    current: str | None = None
    for line in text.splitlines():
        words = line.split()
        if line.startswith("Running ") and words:
            current = words[1].rstrip(".")
            matrices[current] = []
        elif current and len(words) > 1 and words[0].isdigit() and "bandwidth" not in line:
            values = words[1:]
            if all(_NUMBER.match(v) or v == "N/A" for v in values) and not all(v.isdigit() for v in words):
                matrices[current].append([float(v) if v != "N/A" else None for v in values])
    return {name: rows for name, rows in matrices.items() if rows}


def nvbandwidth() -> ToolRun:
    """Run nvbandwidth's host-to-device and device-to-host copy tests where it is installed; its matrices."""
    tool = "nvbandwidth"
    if shutil.which("nvbandwidth") is None:
        return ToolRun(tool=tool, status="skipped", reason="nvbandwidth is not on PATH (build NVIDIA/nvbandwidth)")
    command = ["nvbandwidth", *[arg for test in NVBANDWIDTH_TESTS for arg in ("-t", test)]]
    code, out, err = _run(command, NVBANDWIDTH_TIMEOUT_S)
    matrices = nvbandwidth_matrices(out)
    if code != 0 or not matrices:
        return ToolRun(tool=tool, status="error", reason=f"exit {code}: {_tail(err) if err.strip() else _tail(out)}")
    return ToolRun(tool=tool, status="pass", results=matrices)  # type: ignore[arg-type]
