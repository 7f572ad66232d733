"""The environment facts of one run that may explain a slow host, and the frame of each host's newest run with them.

:func:`host_facts` returns the columns of :data:`reports.fleet.FACTS` for one run, from its
``machine_info`` (driver, CUDA/cuDNN builds, framework versions, configured GPU clocks and power
limits, CPU, image) and from the NVML summaries of its GPU cases (the SM clock reached under
load, the clock-event reasons that held the clocks down, except the power cap every GPU hits at
full load, and the PCIe link the GPU trained to under load, where the run recorded it).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from reports.load import Run, tidy
from results_format import BackendStatus

__all__ = ["fleet_frame", "host_facts", "newest_runs"]


def _joined(values: Iterable[Any]) -> str | None:
    """Distinct non-empty values, sorted and joined by ', '; None when there are none."""
    seen = sorted({str(v) for v in values if v not in (None, "")})
    return ", ".join(seen) or None


def _backend_facts(backends: Mapping[str, BackendStatus]) -> dict[str, str | None]:
    """Framework versions and the CUDA/cuDNN each was built with, as 'tensorflow 2.21.0, torch 2.13.0'."""
    versions, cuda, cudnn = [], [], []
    for name in sorted(backends):
        backend = backends[name]
        if not backend.available:
            continue
        extra = backend.model_extra or {}
        if backend.version:
            versions.append(f"{name} {backend.version}")
        if extra.get("cuda_version"):
            cuda.append(f"{name} {extra['cuda_version']}")
        if extra.get("cudnn_version"):
            cudnn.append(f"{name} {extra['cudnn_version']}")
    return {"frameworks": _joined(versions), "cuda": _joined(cuda), "cudnn": _joined(cudnn)}


#: clock-event reasons that every healthy GPU shows under full load: the power limit is compared instead.
EXPECTED_UNDER_LOAD = frozenset({"sw_power_cap"})


def _gpu_load_facts(run: Run, nvml_index: Mapping[str, int]) -> dict[str, Any]:
    """During GPU cases, on the case's own GPU: median peak SM clock, throttle reasons, PCIe link."""
    clocks: list[float] = []
    reasons: set[str] = set()
    links: Counter[str] = Counter()
    sampled = False
    for bench in run.record.benchmarks:
        info = bench.extra_info
        if info.device_kind != "gpu" or not info.nvml:
            continue
        index = nvml_index.get(f"{info.backend} {info.device}")
        summaries = [info.nvml[str(index)]] if str(index) in info.nvml else list(info.nvml.values())
        sampled = True
        peaks = [s.max_sm_clock_mhz for s in summaries if s.max_sm_clock_mhz is not None]
        if peaks:
            clocks.append(float(max(peaks)))
        for summary in summaries:
            reasons.update(r for r in summary.throttle_reasons if r not in EXPECTED_UNDER_LOAD)
            if summary.pcie_link_gen and summary.pcie_link_width:
                links[f"gen{summary.pcie_link_gen} x{summary.pcie_link_width}"] += 1
    return {
        "sm_clock_mhz": statistics.median(clocks) if clocks else None,
        "throttled": (", ".join(sorted(reasons)) or "none") if sampled else None,
        "pcie_link": links.most_common(1)[0][0] if links else None,
    }


def health_notes(run: Run) -> dict[str, Any]:
    """The run's health reason and its --concurrent stragglers, for the fleet to flag the host on its own."""
    health = run.record.devicebench.health
    if health is None:
        return {"health_reason": None, "stragglers": None}
    stragglers = [
        f"{gpu.device} in {check.workload} at {gpu.figure:.4g} vs {check.median:.4g} {check.unit}: {gpu.reason}"
        for check in health.concurrent or []
        for gpu in check.gpus
        if gpu.straggler
    ]
    return {"health_reason": health.reason, "stragglers": "; ".join(stragglers) or None}


def _health_verdict(run: Run) -> str | None:
    """The run's health verdict (compared with the peers' as a likely cause); None where not checked."""
    health = run.record.devicebench.health
    return None if health is None or health.verdict == "unchecked" else health.verdict


def host_facts(run: Run) -> dict[str, Any]:
    """The environment of one run as the columns of reports.fleet.FACTS (None where unknown)."""
    info = run.record.machine_info
    facts = info.devicebench
    gpus = facts.nvml.gpus
    nvml_index = {f"{d.backend} {d.name}": d.nvml_index for d in facts.devices if d.nvml_index is not None}
    return {
        "health": _health_verdict(run),
        **_gpu_load_facts(run, nvml_index),
        "gpu_max_sm_clock_mhz": _joined(f"{g.max_sm_clock_mhz:g}" for g in gpus if g.max_sm_clock_mhz is not None),
        "gpu_power_limit_w": _joined(f"{g.power_limit_w:g}" for g in gpus if g.power_limit_w is not None),
        "nvidia_driver": facts.nvidia_driver or facts.nvml.driver_version,
        "cuda_driver": facts.nvml.cuda_driver_version,
        **_backend_facts(facts.backends),
        "cpu_model": facts.cpu_model,
        "cpu_cores": facts.cpu_cores,
        "container_image": facts.container_image,
        "python": (info.model_extra or {}).get("python_version"),
    }


def newest_runs(frame: pd.DataFrame, complete: Collection[tuple[str, str]] = ()) -> pd.DataFrame:
    """The (host, run) pairs of each host's newest complete run (its newest run when none is complete), from a tidy
    frame's datetime column (then run name); `complete` holds the (host, run) pairs of the complete runs."""
    finished = set(complete)
    stamps = frame[["host", "run", "datetime"]].drop_duplicates(["host", "run"])
    stamps = stamps.assign(
        when=pd.to_datetime(stamps["datetime"], utc=True, errors="coerce", format="ISO8601"),
        complete=[(host, run) in finished for host, run in zip(stamps["host"], stamps["run"], strict=True)],
    )
    order = ["host", "complete", "when", "run"]
    newest = stamps.sort_values(order, na_position="first").groupby("host").tail(1)
    return newest[["host", "run"]].reset_index(drop=True)


def fleet_frame(runs: Sequence[Run]) -> tuple[pd.DataFrame, list[Run]]:
    """The tidy rows of each host's newest run, its environment facts as columns; and the runs left out."""
    everything = tidy(runs)
    if everything.empty:
        return everything, []
    newest = newest_runs(everything, complete={(run.host, run.name) for run in runs if run.complete})
    keys = set(zip(newest["host"], newest["run"], strict=True))
    kept: dict[tuple[str, str], Run] = {}
    for run in runs:
        if (run.host, run.name) in keys:
            kept.setdefault((run.host, run.name), run)
    kept_ids = {id(run) for run in kept.values()}
    older = [run for run in runs if id(run) not in kept_ids]
    frame = everything.merge(newest, on=["host", "run"]).drop_duplicates(["host", "device", "name"])
    facts = pd.DataFrame(
        [
            {"host": run.host, **host_facts(run), **health_notes(run), "run_state": run.state_text}
            for run in kept.values()
        ]
    )
    # A host's facts replace the per-case columns of the same name (the tidy frame's own `throttled` is each
    # case's record): merged side by side they would both be renamed, and the fleet would lose its causes.
    frame = frame.drop(columns=[c for c in facts.columns if c != "host" and c in frame.columns])
    return frame.merge(facts, on="host", how="left").reset_index(drop=True), older
