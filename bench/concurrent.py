"""Every GPU at once (`--concurrent`): matmul bf16 and membw triad on all GPUs together, one process per GPU.

One weak GPU among eight is invisible when GPUs run one after another and no other host shows it. Here every
GPU runs the same work at the same time (bench.concurrent_worker, a process per GPU, so no framework's
scheduling couples them) and each GPU's figure is set against the host's median: a robust z-score
(figure - median) / (1.4826 MAD, at least 1 % of the median) and its share below the median name the stragglers
(more than 3 MADs or more than 5 % below). Pure statistics here; the processes are started by run_concurrent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence

import numpy as np

from results_format import ConcurrentCheck, GpuStanding

MAX_MADS = 3.0
MAX_BELOW = 0.05
MAD_FLOOR = 0.01  # of the median: eight near-identical GPUs must not make a 0.5 % difference "3 MADs"
#: what each GPU runs: the workload, its figure's unit
WORKLOADS = {"matmul": "TFLOP/s", "membw": "GB/s"}
SECONDS = 5.0  # timed seconds per workload and GPU
START_MARGIN_S = 30.0  # every worker warms up, then starts timing at the same moment, this long after launch
TIMEOUT_S = 300.0


class ConcurrentError(RuntimeError):
    """The check cannot run here (e.g. no GPU); the message says why in one line."""


def standings(
    workload: str, unit: str, figures: Mapping[str, float | None], errors: Mapping[str, str] = {}
) -> ConcurrentCheck:
    """Each GPU's figure against the median of all of them: robust z-score, share below, straggler or not."""
    from scipy.stats import median_abs_deviation  # on first use: only --concurrent runs need scipy here

    known = {d: f for d, f in figures.items() if f is not None}
    values = np.array(list(known.values()), dtype=float)
    median = float(np.median(values)) if values.size else None
    mad = float(median_abs_deviation(values, scale="normal")) if values.size else None
    gpus, stragglers = [], []
    for device in sorted(figures, key=_device_order):
        figure = figures[device]
        if figure is None or not median:
            gpus.append(GpuStanding(device=device, figure=figure, reason=errors.get(device, "no figure")))
            continue
        below = figure / median - 1.0
        spread = max(mad or 0.0, MAD_FLOOR * median)
        z = (figure - median) / spread
        far, low = z is not None and z < -MAX_MADS, below < -MAX_BELOW
        reasons = [f"{-below:.1%} below the median"] if far or low else []
        if far:
            reasons.append(f"{-z:.1f} MADs")  # type: ignore[operator]
        if reasons:
            stragglers.append(device)
        gpus.append(
            GpuStanding(
                device=device,
                figure=round(figure, 3),
                vs_median=round(below, 4),
                robust_z=round(z, 2),
                straggler=bool(reasons),
                reason=f"{reasons[0]} ({reasons[1]})" if len(reasons) == 2 else "".join(reasons),
            )
        )
    return ConcurrentCheck(
        workload=workload,
        unit=unit,
        median=round(median, 3) if median is not None else None,
        mad=round(mad, 3) if mad is not None else None,
        gpus=gpus,
        stragglers=stragglers,
    )


def straggler_lines(checks: Sequence[ConcurrentCheck]) -> list[str]:
    """One line per straggler: "GPU:5 is a straggler in matmul at 585 vs 665 TFLOP/s (all GPUs at once): ..."."""
    lines = []
    for check in checks:
        for gpu in check.gpus:
            if gpu.straggler:
                lines.append(
                    f"{gpu.device} is a straggler in {check.workload} at {gpu.figure:.4g} vs {check.median:.4g} "
                    f"{check.unit} (all GPUs at once): {gpu.reason}"
                )
    return lines


def _device_order(device: str) -> tuple[str, int]:
    kind, _, index = device.partition(":")
    return kind, int(index) if index.isdigit() else 0


def worker_command(backend: str, workload: str, index: int, seconds: float, start_at: float) -> list[str]:
    """The command line of one GPU's worker process (bench.concurrent_worker)."""
    return [
        sys.executable,
        "-m",
        "bench.concurrent_worker",
        "--backend",
        backend,
        "--workload",
        workload,
        "--gpu",
        str(index),
        "--seconds",
        f"{seconds:g}",
        "--start-at",
        f"{start_at:.3f}",
    ]


def worker_env(backend: str, index: int) -> dict[str, str]:
    """A worker's environment: TensorFlow sees only its GPU (as GPU:0); torch picks cuda:index itself."""
    env = dict(os.environ)
    if backend == "tensorflow":
        env["CUDA_VISIBLE_DEVICES"] = str(index)
        env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
    return env


def run_concurrent(
    backend: str, devices: Sequence[str], seconds: float = SECONDS, margin_s: float | None = None
) -> list[ConcurrentCheck]:
    """Run each workload on every GPU at once (a process per GPU); each GPU's standing per workload."""
    margin_s = START_MARGIN_S if margin_s is None else margin_s
    if not devices:
        raise ConcurrentError("--concurrent needs GPUs: none was found on this host")
    checks = []
    for workload, unit in WORKLOADS.items():
        start_at = time.time() + margin_s
        procs = {}
        for device in devices:
            index = int(device.partition(":")[2])
            command = worker_command(backend, workload, index, seconds, start_at)
            procs[device] = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=worker_env(backend, index)
            )
        figures: dict[str, float | None] = {}
        errors: dict[str, str] = {}
        for device, proc in procs.items():
            try:
                out, err = proc.communicate(timeout=TIMEOUT_S + margin_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
                errors[device] = f"timed out after {TIMEOUT_S + margin_s:g} s"
            figures[device], why = _figure(out, err, proc.returncode)
            if why and device not in errors:
                errors[device] = why
        checks.append(standings(workload, unit, figures, errors))
    return checks


def _figure(out: str, err: str, code: int | None) -> tuple[float | None, str]:
    """A worker's figure from its last stdout line (JSON), or None and why."""
    lines = [line for line in out.splitlines() if line.strip()]
    try:
        data = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        data = {}
    if isinstance(data, dict) and isinstance(data.get("figure"), int | float):
        return float(data["figure"]), ""
    if isinstance(data, dict) and data.get("error"):
        return None, str(data["error"])
    tail = (err.strip().splitlines() or ["no output"])[-1]
    return None, f"the worker exited {code}: {tail}"
