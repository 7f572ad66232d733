"""The environment facts of one run that may explain a slow host: the one place the fleet report reads raw JSON.

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

__all__ = ["host_facts"]


def _mapping(value: Any) -> Mapping[str, Any]:
    """`value` when it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def _joined(values: Iterable[Any]) -> str | None:
    """Distinct non-empty values, sorted and joined by ', '; None when there are none."""
    seen = sorted({str(v) for v in values if v not in (None, "")})
    return ", ".join(seen) or None


def _backend_facts(backends: Mapping[str, Any]) -> dict[str, str | None]:
    """Framework versions and the CUDA/cuDNN each was built with, as 'tensorflow 2.21.0, torch 2.13.0'."""
    versions, cuda, cudnn = [], [], []
    for name in sorted(backends):
        backend = _mapping(backends[name])
        if backend.get("available") is False:
            continue
        if backend.get("version"):
            versions.append(f"{name} {backend['version']}")
        built_cuda = backend.get("cuda_version", backend.get("cuda"))
        built_cudnn = backend.get("cudnn_version", backend.get("cudnn"))
        if built_cuda:
            cuda.append(f"{name} {built_cuda}")
        if built_cudnn:
            cudnn.append(f"{name} {built_cudnn}")
    return {"frameworks": _joined(versions), "cuda": _joined(cuda), "cudnn": _joined(cudnn)}


#: clock-event reasons that every healthy GPU shows under full load: the power limit is compared instead.
EXPECTED_UNDER_LOAD = frozenset({"sw_power_cap"})


def _gpu_load_facts(run: Run, nvml_index: Mapping[str, Any]) -> dict[str, Any]:
    """During GPU cases, on the case's own GPU: median peak SM clock, throttle reasons, PCIe link."""
    clocks: list[float] = []
    reasons: set[str] = set()
    links: Counter[str] = Counter()
    sampled = False
    for bench in run.data.get("benchmarks") or []:
        extra = _mapping(_mapping(bench).get("extra_info"))
        if extra.get("device_kind") != "gpu":
            continue
        per_gpu = _mapping(extra.get("nvml"))
        index = nvml_index.get(f"{extra.get('backend')} {extra.get('device')}")
        summaries = (
            [_mapping(per_gpu.get(str(index)))] if index is not None else [_mapping(s) for s in per_gpu.values()]
        )
        summaries = [s for s in summaries if s]
        if not summaries:
            continue
        sampled = True
        peaks = [s["max_sm_clock_mhz"] for s in summaries if isinstance(s.get("max_sm_clock_mhz"), int | float)]
        if peaks:
            clocks.append(float(max(peaks)))
        for summary in summaries:
            reasons.update(str(r) for r in summary.get("throttle_reasons") or [] if r not in EXPECTED_UNDER_LOAD)
            if summary.get("pcie_link_gen") and summary.get("pcie_link_width"):
                links[f"gen{summary['pcie_link_gen']} x{summary['pcie_link_width']}"] += 1
    return {
        "sm_clock_mhz": statistics.median(clocks) if clocks else None,
        "throttled": (", ".join(sorted(reasons)) or "none") if sampled else None,
        "pcie_link": links.most_common(1)[0][0] if links else None,
    }


def host_facts(run: Run) -> dict[str, Any]:
    """The environment of one run as the columns of reports.fleet.FACTS (None where unknown)."""
    info = _mapping(run.data.get("machine_info"))
    block = _mapping(info.get("devicebench"))
    nvml = _mapping(block.get("nvml"))
    cpu = _mapping(info.get("cpu"))
    gpus = [_mapping(g) for g in nvml.get("gpus") or []]
    nvml_index = {
        f"{device.get('backend')} {device.get('name')}": device.get("nvml_index")
        for device in (_mapping(d) for d in block.get("devices") or [])
        if device.get("nvml_index") is not None
    }
    return {
        **_gpu_load_facts(run, nvml_index),
        "gpu_max_sm_clock_mhz": _joined(g.get("max_sm_clock_mhz") for g in gpus),
        "gpu_power_limit_w": _joined(g.get("power_limit_w") for g in gpus),
        "nvidia_driver": block.get("nvidia_driver") or nvml.get("driver_version"),
        "cuda_driver": nvml.get("cuda_driver_version"),
        **_backend_facts(_mapping(block.get("backends"))),
        "cpu_model": block.get("cpu_model") or cpu.get("brand_raw"),
        "cpu_cores": block.get("cpu_cores") or cpu.get("count"),
        "container_image": block.get("container_image"),
        "python": info.get("python_version"),
    }
