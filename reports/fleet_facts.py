"""The environment facts of one run that may explain a slow host, from its typed record.

:func:`host_facts` returns the columns of :data:`reports.fleet.FACTS` for one run, from its
``machine_info`` (driver, CUDA/cuDNN builds, framework versions, configured GPU clocks and power
limits, CPU, image) and from the NVML summaries of its GPU cases (the SM clock reached under
load, the clock-event reasons that held the clocks down, except the power cap every GPU hits at
full load, and the PCIe link the GPU trained to under load, where the run recorded it).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from reports.load import Run
from results_format import BackendStatus

__all__ = ["host_facts"]


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


def host_facts(run: Run) -> dict[str, Any]:
    """The environment of one run as the columns of reports.fleet.FACTS (None where unknown)."""
    info = run.record.machine_info
    facts = info.devicebench
    gpus = facts.nvml.gpus
    nvml_index = {f"{d.backend} {d.name}": d.nvml_index for d in facts.devices if d.nvml_index is not None}
    return {
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
