"""The GPU side of the training workloads on a small scripted backend of this file's own: the full profile's
ResNet-50 sweep on a pretend H100 runs out of memory from one batch on, the plugin records each such case as an
`oom` skip and goes on, and the report finds the largest batch that fitted and where throughput saturated."""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any

import pytest

import bench.backends
import bench.drift
import bench.session
from bench.backends.base import Backend, Prepared
from bench.cases import Case, Workload
from bench.devices import Device
from bench.workloads import WORKLOADS
from bench.workloads.resnet50_train import RESNET50_TRAIN
from reports import training
from reports.load import read_run, skipped, tidy

OOM_FROM_BATCH = 512
BENCH_FILE = """
import pytest

@pytest.mark.workload("resnet50_train")
def test_resnet50_train(devicebench_run):
    devicebench_run()
"""


class ScriptedOutOfMemory(RuntimeError):
    """Stands in for a framework's out-of-memory error."""


class SweepBackend(Backend):
    """CPU:0 and one pretend H100; ResNet-50 'trains' at a throughput that flattens with the batch."""

    name = "sweepfake"
    sync_method = "none"

    def version(self) -> str:
        """A fixed version."""
        return "0.0-sweep"

    def devices(self) -> list[Device]:
        """A CPU and an H100 (compute capability 9.0: every precision runs)."""
        return [
            Device(self.name, "CPU:0", "cpu", "Pretend CPU"),
            Device(self.name, "GPU:0", "gpu", "NVIDIA H100 80GB HBM3", memory_bytes=2**36, compute_capability="9.0"),
        ]

    def gpu_absence_reason(self) -> str | None:
        """There is a GPU."""
        return None

    def sync(self) -> None:
        """Nothing is asynchronous."""

    def placement(self, value: Any) -> str:
        """The device the output says it is on."""
        return value[1]

    def device_name_of(self, placement: str) -> str:
        """Placements are suite names already."""
        return placement

    def builder_for(self, workload: Workload) -> Any:
        """Only ResNet-50 training."""
        return {"resnet50_train": build}.get(workload.name)

    def is_out_of_memory(self, error: BaseException) -> bool:
        """The scripted error."""
        return isinstance(error, ScriptedOutOfMemory)

    def machine_info(self) -> dict[str, Any]:
        """Fixed facts."""
        return {"version": "0.0-sweep"}

    def case_facts(self, case: Case) -> dict[str, Any]:
        """The case's precision, no threads."""
        return {"precision": {"dtype": case.params["precision"], "tf32": None}, "threads": {}}

    def set_tf32(self, enabled: bool) -> None:
        """No TF32 here."""


def build(case: Case, backend: Backend) -> Prepared:
    """A GPU batch of OOM_FROM_BATCH or more does not fit; otherwise a loss that falls call by call."""
    batch = int(case.params["batch_size"])
    if case.device.kind == "gpu" and batch >= OOM_FROM_BATCH:
        raise ScriptedOutOfMemory(f"CUDA out of memory trying to allocate a batch of {batch}\nsecond line")
    losses = [7.0]

    def call() -> tuple[float, str]:
        losses.append(losses[-1] * 0.9)
        return losses[-1], case.device.name

    return Prepared(call, facts=lambda median: {"initial_loss": losses[1], "final_loss": losses[-1]})


@pytest.fixture
def run(pytester, monkeypatch):
    monkeypatch.setitem(bench.backends.BACKEND_MODULES, "sweepfake", ("tests.test_training_oom", "SweepBackend", "x"))
    monkeypatch.setitem(WORKLOADS, "resnet50_train", dataclasses.replace(RESNET50_TRAIN, backends=("sweepfake",)))
    # the drift reference, real but 3 rounds instead of 50 at each end of a run: no test here judges drift
    monkeypatch.setattr(bench.session, "time_reference", functools.partial(bench.drift.time_reference, rounds=3))
    pytester.makepyfile(test_resnet50_train=BENCH_FILE)
    return lambda *args: pytester.runpytest(
        "-p", "bench.plugin", "--backend", "sweepfake", "--results-dir", "results", "--no-nvml", *args
    )


def test_out_of_memory_batches_are_skips_and_the_sweep_goes_on(run, pytester):
    result = run("--profile", "full", "--devices", "GPU:0")
    gpu_batches = (16, 32, 64, 128, 256, 512, 1024)
    too_big = [b for b in gpu_batches if b >= OOM_FROM_BATCH]
    result.assert_outcomes(passed=3 * (len(gpu_batches) - len(too_big)), skipped=3 * len(too_big))
    data = json.loads((pytester.path / "results" / "latest" / "benchmarks.json").read_text())
    ooms = [s for s in data["devicebench"]["skipped"] if s["kind"] == "oom"]
    assert sorted({s["params"]["batch_size"] for s in ooms}) == too_big
    assert all(s["reason"].startswith("out of memory on GPU:0: ScriptedOutOfMemory: CUDA out of memory") for s in ooms)
    assert {b["extra_info"]["precision"]["dtype"] for b in data["benchmarks"]} == {
        "float32",
        "mixed_float16",
        "mixed_bfloat16",
    }

    run_record = read_run(pytester.path / "results" / "latest")
    summary = training.sweep_summary(tidy([run_record]), skipped([run_record]))
    assert set(summary["series"]) == {"float32 224px", "mixed_float16 224px", "mixed_bfloat16 224px"}
    assert set(summary["largest_batch"]) == {256.0} and set(summary["oom_batch"]) == {512.0}
    lines = training.sweep_lines(tidy([run_record]), skipped([run_record]))
    assert any("the largest batch that fitted is 256 (512 ran out of memory)" in line for line in lines)


def test_the_cpu_side_of_the_sweep_never_runs_out_of_memory_here(run):
    result = run("--profile", "full", "--devices", "CPU:0", "-k", "float32")
    result.assert_outcomes(passed=3)  # full on CPUs: float32 at 224 px, batches 16, 32, 64
