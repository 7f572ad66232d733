"""The inference workload through the real plugin and runner, on pretend GPUs (a small numpy backend of its own)."""

import dataclasses
import functools
import json
from typing import Any

import numpy as np
import pytest

import bench.backends
import bench.drift
import bench.plugin  # imported before the in-process runs, which must not load numpy extensions twice
import bench.session
from bench.backends.base import Backend, Builder, Prepared
from bench.cases import Case, Workload
from bench.devices import Device
from bench.workloads import WORKLOADS, inference
from bench.workloads.inference import INFERENCE, reference_facts

# Set by the tests (the in-process pytester shares this module): on which device a compiled mode goes wrong.
FAULTS: dict[str, Any] = {"wrong_on": None}

BENCH_FILE = """
import pytest

@pytest.mark.workload("inference")
def test_inference(devicebench_run):
    devicebench_run()
"""


def build_inference(case: Case, backend: Backend) -> Prepared:
    """A linear 'model' in numpy; a compiled mode on the FAULTS device returns twice the eager output."""
    batch = int(case.params["batch_size"])
    rng = np.random.default_rng(0)
    weights = rng.random((16, 4))
    x = rng.random((batch, 16))
    reference = x @ weights
    scale = 2.0 if case.device.name == FAULTS["wrong_on"] and case.params["mode"] != "eager" else 1.0

    def call() -> Any:
        return (x @ weights) * scale, case.device.name

    return Prepared(call, lambda median_s: reference_facts(call()[0], reference, "float32"))


class ServeFakeBackend(Backend):
    """CPU:0 and two pretend GPUs that run numpy."""

    name = "servefake"
    sync_method = "servefake.sync"

    def version(self) -> str:
        """A fixed version."""
        return "0.0"

    def devices(self) -> list[Device]:
        """CPU:0, GPU:0 and GPU:1."""
        return [Device(self.name, "CPU:0", "cpu", "Fake CPU")] + [
            Device(self.name, f"GPU:{i}", "gpu", "Fake GPU", memory_bytes=2**30) for i in range(2)
        ]

    def gpu_absence_reason(self) -> str | None:
        """There are GPUs."""
        return None

    def sync(self) -> None:
        """Nothing is asynchronous."""

    def placement(self, value: Any) -> str:
        """The device the output names."""
        return value[1]

    def device_name_of(self, placement: str) -> str:
        """Placements are suite names already."""
        return placement

    def builder_for(self, workload: Workload) -> Builder | None:
        """Only inference."""
        return {"inference": build_inference}.get(workload.name)

    def is_out_of_memory(self, error: BaseException) -> bool:
        """Never."""
        return False

    def machine_info(self) -> dict[str, Any]:
        """Fixed facts."""
        return {"version": "0.0"}

    def case_facts(self, case: Case) -> dict[str, Any]:
        """float32, no threads."""
        return {"precision": {"dtype": "float32"}, "threads": {}}

    def set_tf32(self, enabled: bool) -> None:
        """Nothing to set."""


@pytest.fixture
def suite(pytester, monkeypatch):
    monkeypatch.setitem(
        bench.backends.BACKEND_MODULES, "servefake", ("tests.test_serve_plugin", "ServeFakeBackend", "servefake")
    )
    monkeypatch.setitem(WORKLOADS, "inference", dataclasses.replace(INFERENCE, backends=("servefake",)))
    monkeypatch.setitem(FAULTS, "wrong_on", None)
    # the drift reference, real but 3 rounds instead of 50 at each end of a run: no test here judges drift
    monkeypatch.setattr(bench.session, "time_reference", functools.partial(bench.drift.time_reference, rounds=3))
    pytester.makepyfile(test_inference=BENCH_FILE)

    def run(*args):
        return pytester.runpytest(
            "-p", "bench.plugin", "--backend", "servefake", "--results-dir", "results", "--no-nvml", *args
        )

    return run


def load(pytester):
    data = json.loads((pytester.path / "results" / "latest" / "benchmarks.json").read_text())
    return {b["params"]["devicebench_case"]: b for b in data["benchmarks"]}, data["devicebench"]["skipped"]


def test_batch_one_times_the_profiles_requests_and_records_percentiles_on_each_device(suite, pytester):
    result = suite("--profile", "smoke", "-k", "book")
    result.assert_outcomes(passed=18)  # 3 devices x 3 modes x 2 batch sizes
    cases, _ = load(pytester)
    single = cases["servefake-GPU:1-book-xla-b1"]
    extra = single["extra_info"]
    assert single["stats"]["rounds"] == 100 and extra["requests"] == 100
    assert extra["timing"]["stopped_by"] == "rounds" and extra["warmup"]["calls"] == 3
    assert extra["latency_p50_s"] <= extra["latency_p90_s"] <= extra["latency_p99_s"] <= extra["latency_max_s"]
    assert extra["latency_p50_s"] == pytest.approx(single["stats"]["median"])
    assert extra["matches_reference"] is True and extra["throughput_unit"] == "samples/s"
    batched = cases["servefake-GPU:0-book-function-b256"]
    assert 5 <= batched["stats"]["rounds"] <= 30  # the smoke profile's time budget, not a request count
    assert batched["extra_info"]["requests"] == batched["stats"]["rounds"]


def test_a_precision_target_leaves_the_request_count_alone(suite, pytester):
    suite("--profile", "smoke", "--precision", "0.5", "-k", "CPU and book-eager").assert_outcomes(passed=2)
    cases, _ = load(pytester)
    assert cases["servefake-CPU:0-book-eager-b1"]["stats"]["rounds"] == 100
    assert cases["servefake-CPU:0-book-eager-b256"]["extra_info"]["timing"]["precision_target"] == 0.5


def test_an_output_that_is_not_the_eager_output_is_an_error_not_a_number(suite, pytester):
    FAULTS["wrong_on"] = "GPU:0"
    result = suite("--profile", "smoke", "-k", "book and b1")
    result.assert_outcomes(passed=7, failed=2)
    cases, skipped = load(pytester)
    assert "servefake-GPU:0-book-xla-b1" not in cases and "servefake-GPU:0-book-eager-b1" in cases
    errors = {s["name"]: s["reason"] for s in skipped if s["kind"] == "error"}
    assert errors["test_inference[servefake-GPU:0-book-function-b1]"] == (
        "the output differs from the eager reference: relative error 1 above the float32 tolerance 0.001"
    )


def test_smoke_skips_resnets_slow_modes_on_gpus_with_the_reason(suite, pytester, monkeypatch):
    monkeypatch.setitem(inference.SLOW_RESNET_MODES, "servefake", inference.SLOW_RESNET_MODES["tensorflow"])
    result = suite("--profile", "smoke", "--devices", "GPU:0", "-k", "resnet50")
    result.assert_outcomes(passed=2, skipped=4)
    cases, skipped = load(pytester)
    assert sorted(cases) == ["servefake-GPU:0-resnet50-32px-function-b1", "servefake-GPU:0-resnet50-32px-function-b8"]
    reasons = {s["params"]["mode"]: s["reason"] for s in skipped}
    assert reasons["eager"].startswith("profile smoke: eager Keras runs ResNet-50")
    assert reasons["xla"].startswith("profile smoke: XLA compiles ResNet-50")
    assert {s["kind"] for s in skipped} == {"profile"}
