"""Runs with literal round times for the gate's tests, cut from a golden run (so made by the real writer).

    run(bench("a", [1.0, 1.01, ...]), bench("b", ...))      # a RunFile whose cases have these rounds
    machine(driver="560.35.03")                              # the golden machine with one fact changed

A case's label goes into its first parameter (matmul's `dtype`, MNIST's `mode`), so cases named "a" and "b"
are different cases, and the test name reads `test_matmul[tensorflow-CPU:0-a]`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from results_format import Benchmark, MachineInfo, RunFile, SkipRecord, Stats, read

GOLDEN = Path(__file__).parent / "data" / "compare" / "baseline"
LABEL_PARAM = {"matmul": "dtype", "mnist": "mode", "transfer": "direction", "tfdata": "variant"}


@functools.cache
def golden() -> RunFile:
    """The golden compare baseline, read once."""
    return read(GOLDEN)


def _template(workload: str) -> Benchmark:
    """A case of `workload` from the golden run."""
    return next(b for b in golden().benchmarks if b.extra_info.workload == workload)


def bench(case: str, rounds: Sequence[float], workload: str = "matmul", device: str = "CPU:0") -> Benchmark:
    """One case called `case` on `device`, with these literal round times (statistics recomputed)."""
    template = _template(workload)
    info = template.extra_info.model_dump()
    info["params"] = {**info["params"], LABEL_PARAM[workload]: case}
    info.update(device=device, device_kind="gpu" if device.startswith("GPU") else "cpu")
    data = template.model_dump()
    data.update(
        name=f"test_{workload}[tensorflow-{device}-{case}]",
        param=f"tensorflow-{device}-{case}",
        extra_info=info,
        stats=Stats.from_rounds(list(rounds)).model_dump(),
    )
    return Benchmark.model_validate(data)


def machine(
    driver: str = "555.42.06", tf: str = "2.21.0", gpu: str = "NVIDIA H100 80GB HBM3", **facts: Any
) -> MachineInfo:
    """The golden machine with its NVIDIA driver, TensorFlow version, GPU model and other facts set."""
    data = golden().machine_info.model_dump()
    block = data["devicebench"]
    block["nvidia_driver"] = driver
    block["backends"]["tensorflow"]["version"] = tf
    for device in block["devices"]:
        if device["kind"] == "gpu":
            device["model"] = gpu
    block.update(facts)
    return MachineInfo.model_validate(data)


def run(
    *benches: Benchmark,
    info: MachineInfo | None = None,
    skipped: Sequence[SkipRecord] = (),
    drift: tuple[Sequence[float], Sequence[float] | None] | None = None,
) -> RunFile:
    """A complete run holding exactly these cases (and skip records, and reference times) on the golden machine."""
    data = golden().model_dump()
    if drift is not None:
        start, end = drift
        data["devicebench"]["drift"] = {"reference": "literal", "start_s": list(start), "end_s": end and list(end)}
    data["machine_info"] = (info or machine()).model_dump()
    data["benchmarks"] = [b.model_dump() for b in benches]
    data["devicebench"]["skipped"] = [s.model_dump() for s in skipped]
    data["devicebench"]["run"]["measured"] = len(benches)
    # schema 3: the file describes each workload it holds, at the version its cases were measured with
    described = data["devicebench"]["workloads"]
    for info in [b.extra_info for b in benches]:
        described[info.workload] = {**described[info.workload], "version": info.workload_version}
    return RunFile.model_validate(data)


def skip(case: Benchmark, kind: str, reason: str) -> SkipRecord:
    """The skip record a run keeps for `case` when it produced no number."""
    info = case.extra_info
    return SkipRecord(
        name=case.name,
        workload=info.workload,
        backend=info.backend,
        device=info.device,
        device_kind=info.device_kind,
        params=info.params,
        kind=kind,
        reason=reason,
    )
