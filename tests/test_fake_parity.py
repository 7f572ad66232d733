"""The scripted backends record what the real ones record: the same keys in the same order, and the same words.

Each single-device workload the scripted system models is built once by the real TensorFlow or torch backend on
this machine's CPU and once by its scripted twin (tests/fake_backend.py); their facts must agree key for key, and
in every value that describes rather than measures. Where this machine cannot run a case (torch's ResNet-50 needs
torchvision), the twin on a host without torchvision must skip it for the same reason, and its GPU records are held
against the real H200 run's (tests/data/real). The multi-device workloads are compared in
tests/test_multidevice_tf.py and tests/test_multidevice_torch.py, beside the real runs they need.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.backends import load_backend
from bench.cases import Case
from bench.runner import CaseSkipped
from bench.workloads import WORKLOADS, mnist_data
from bench.workloads.checkpoint import CHECKPOINT
from bench.workloads.dispatch import DISPATCH
from bench.workloads.inference import INFERENCE
from bench.workloads.membw import MEMBW
from bench.workloads.mnist_amp import MNIST_AMP
from bench.workloads.mnist_batch import MNIST_BATCH
from bench.workloads.resnet50_train import RESNET50_TRAIN
from bench.workloads.sustained import SUSTAINED
from bench.workloads.transfer import TRANSFER
from results_format import CaseInfo
from tests.fake_backend import FakeTensorFlowBackend, FakeTorchBackend
from tests.fake_hosts import HOSTS

REAL_H200 = Path(__file__).parent / "data" / "real" / "20261126-h200" / "main"
# values that describe how a case ran (not what it measured): the scripted twin must write the same
DESCRIBING = (
    "kernel",
    "how",
    "verified",
    "verify_note",
    "fresh_buffer",
    "pinned",
    "copy",
    "numpy_interop",
    "zero_copy",
    # inference
    "reference",
    "math",
    "tolerance",
    "matches_reference",
    "parameters",
    "input_shape",
    "compiled",
    # checkpoint
    "files",
    "on_results_disk",
    "fsync",
    "page_cache",
    "weight_bytes",
    "weights_equal",
    # dispatch
    "ops_per_step",
    "ops_counted_by",
    "optimizer",
    # training
    "data_source",
    "data_path",
    "samples",
    "input_path",
    "jit_compile",
    "dtype_policy",
    "compute_dtype",
    "variable_dtype",
    "loss_scaling",
    "autocast_dtype",
    "loss_note",
    "data",
    "model",
    "cudnn_benchmark",
)
SMALL_MNIST = {"batch_size": 32, "steps_per_call": 3, "calls": 2}
CASES = [
    (MEMBW, {"kernel": "copy", "bytes": 2**20, "dtype": "float32"}),
    (MEMBW, {"kernel": "triad", "bytes": 2**20, "dtype": "float32"}),
    (TRANSFER, {"direction": "h2d", "bytes": 2**20, "host_memory": "pageable"}),
    (TRANSFER, {"direction": "d2h", "bytes": 2**20, "host_memory": "pageable"}),
    (SUSTAINED, {"n": 64, "dtype": "float32", "seconds": 0.01}),
    (INFERENCE, {"model": "book", "image_size": 28, "mode": "eager", "batch_size": 1}),
    (DISPATCH, {"mode": "eager", "points": 50, "degree": 3, "steps_per_call": 5}),
]
TF_ONLY = [
    (TRANSFER, {"direction": "d2h-view", "bytes": 2**20, "host_memory": "pageable"}),
    (INFERENCE, {"model": "book", "image_size": 28, "mode": "xla", "batch_size": 1}),
    (INFERENCE, {"model": "resnet50", "image_size": 32, "mode": "function", "batch_size": 2}),
    (CHECKPOINT, {"format": "tf-checkpoint", "direction": "save", "model": "book"}),
    (CHECKPOINT, {"format": "keras", "direction": "restore", "model": "book"}),
    (DISPATCH, {"mode": "function-loop", "points": 50, "degree": 3, "steps_per_call": 5}),
    (MNIST_AMP, {"mode": "function", "precision": "float32", **SMALL_MNIST}),
    (MNIST_AMP, {"mode": "xla", "precision": "mixed_float16", **SMALL_MNIST}),
    (MNIST_AMP, {"mode": "keras-fit", "precision": "mixed_bfloat16", **SMALL_MNIST}),
    (MNIST_BATCH, {"mode": "function", "batch_size": 64, "steps_per_call": 2, "calls": 2}),
    # TensorFlow's ResNet-50 training case is compared in tests/test_tf_training.py, beside the real case it trains
]
TORCH_ONLY = [
    (INFERENCE, {"model": "book", "image_size": 28, "mode": "compile", "batch_size": 1}),
    (CHECKPOINT, {"format": "torch-state-dict", "direction": "save", "model": "book"}),
    (CHECKPOINT, {"format": "torch-state-dict", "direction": "restore", "model": "book"}),
    (MNIST_AMP, {"mode": "eager", "precision": "float32", **SMALL_MNIST}),
    (MNIST_AMP, {"mode": "eager", "precision": "mixed_bfloat16", **SMALL_MNIST}),
    (MNIST_BATCH, {"mode": "eager", "batch_size": 64, "steps_per_call": 2, "calls": 2}),
]
TORCH_RESNET = [
    (INFERENCE, {"model": "resnet50", "image_size": 32, "mode": "eager", "batch_size": 1}),
    (CHECKPOINT, {"format": "torch-state-dict", "direction": "save", "model": "resnet50"}),
    (RESNET50_TRAIN, {"precision": "float32", "image_size": 32, "batch_size": 2, "steps_per_call": 1, "calls": 2}),
]


def facts_of(backend: Any, workload: Any, params: dict[str, Any], results_dir: Path) -> dict[str, Any]:
    """A CPU case's facts after two calls (a sustained case checks both rounds first)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    backend.settings = {"mnist": None, "results_dir": str(results_dir)}
    prepared = backend.build(Case(workload, backend.devices()[0], params))
    for index in range(2):
        out = prepared.call()
        if prepared.check_round is not None:
            assert prepared.check_round(out, index, 0.001) is None
    return prepared.facts(0.001)


def assert_same_record(real: dict[str, Any], fake: dict[str, Any]) -> None:
    """The same keys in the same order (as results files list them), the same describing values."""
    assert list(fake) == list(real)
    for key in DESCRIBING:
        if key in real:
            assert fake[key] == real[key], key
    if "file_bytes" in real:  # the weights and the format's own bytes (Keras' layer names vary with the process)
        assert fake["file_bytes"] == pytest.approx(real["file_bytes"], abs=100)
    for model_field in set(real) & set(CaseInfo.model_fields):  # a record of its own (`sustained`): its keys
        assert list(fake[model_field]) == list(real[model_field])


def case_id(value: Any) -> str | None:
    """Test ids: the workload's name, then its parameters."""
    return getattr(value, "name", None) or "-".join(str(v) for v in value.values())


@pytest.fixture(scope="module")
def real_tf():
    """The real TensorFlow backend on this CPU."""
    pytest.importorskip("tensorflow")
    return load_backend("tensorflow")


@pytest.fixture(scope="module")
def real_torch():
    """The real torch backend on this CPU, on one intra-op thread while this module runs (its count comes back after).

    Two busy OpenMP threads on a shared 2-core machine (another test worker on the other core) spin and wait for
    each other: the same steps took several times the CPU. These tests compare records, not speed.
    """
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield load_backend("torch")
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def no_trainer_left_behind():
    """TensorFlow's ResNet-50 builder keeps its last trainer for the next case: other tests start without one."""
    yield
    module = sys.modules.get("bench.backends.tf_resnet_train")
    if module is not None:
        module._TRAINER.clear()


@pytest.fixture
def laptop(monkeypatch):
    """Scripted backends on a CPU-only host; both MNIST builders on synthetic data, as the golden runs."""
    monkeypatch.setenv("DEVICEBENCH_FAKE_HOST", "laptop")
    monkeypatch.setattr(mnist_data, "KERAS_CACHE", Path("/nonexistent/mnist.npz"))
    monkeypatch.delenv(mnist_data.ENV_VAR, raising=False)


@pytest.mark.parametrize(("workload", "params"), CASES + TF_ONLY, ids=case_id)
def test_tensorflow_twin_records_what_tensorflow_records(real_tf, laptop, tmp_path, workload, params):
    real = facts_of(real_tf, workload, params, tmp_path / "real")
    assert_same_record(real, facts_of(FakeTensorFlowBackend(), workload, params, tmp_path / "fake"))


@pytest.mark.parametrize(("workload", "params"), CASES + TORCH_ONLY, ids=case_id)
def test_torch_twin_records_what_torch_records(real_torch, laptop, tmp_path, workload, params):
    real = facts_of(real_torch, workload, params, tmp_path / "real")
    assert_same_record(real, facts_of(FakeTorchBackend(), workload, params, tmp_path / "fake"))


@pytest.mark.parametrize("backend", ["tensorflow", "torch"])
def test_the_scripted_polynomial_fit_is_the_real_one(real_tf, real_torch, laptop, tmp_path, backend):
    params = {"mode": "eager", "points": 50, "degree": 3, "steps_per_call": 5}
    real_backend, twin = (real_tf, FakeTensorFlowBackend) if backend == "tensorflow" else (real_torch, FakeTorchBackend)
    real = facts_of(real_backend, DISPATCH, params, tmp_path)
    fake = facts_of(twin(), DISPATCH, params, tmp_path)
    assert fake["initial_loss"] == pytest.approx(real["initial_loss"], rel=1e-6)
    assert fake["final_loss"] == pytest.approx(real["final_loss"], rel=1e-4)
    assert fake["coefficients"] == pytest.approx(real["coefficients"], rel=1e-4)


def torchvision_works() -> bool:
    """Whether this machine's torch can build torchvision's ResNet-50."""
    try:
        import torchvision.models  # noqa: F401
    except Exception:
        return False
    return True


@pytest.mark.parametrize(("workload", "params"), TORCH_RESNET, ids=case_id)
def test_without_torchvision_the_twin_skips_resnet50_as_torch_does(real_torch, laptop, tmp_path, workload, params):
    if torchvision_works():
        pytest.skip("torchvision works here: torch's ResNet-50 is not skipped")
    with pytest.raises(CaseSkipped) as real:
        facts_of(real_torch, workload, params, tmp_path)
    without = dataclasses.replace(HOSTS["laptop"], not_installed=("torchvision",))
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(HOSTS, "laptop", without)
        with pytest.raises(CaseSkipped) as fake:
            facts_of(FakeTorchBackend(), workload, params, tmp_path)
    assert (fake.value.kind, fake.value.reason) == (real.value.kind, real.value.reason)


def h200_records(workload: str) -> list[dict[str, Any]]:
    """The real H200 run's GPU records of a workload (torch)."""
    data = json.loads((REAL_H200 / "benchmarks.json").read_text())
    return [
        b["extra_info"]
        for b in data["benchmarks"]
        if b["extra_info"]["workload"] == workload and b["extra_info"]["device_kind"] == "gpu"
    ]


def builder_keys(record: dict[str, Any], workload: str) -> list[str]:
    """The keys a builder wrote into a case's record: neither the format's own nor those drawn from the rounds."""
    round_facts = WORKLOADS[workload].round_facts(dict(record["params"]), [0.001, 0.002])
    return [k for k in record if k not in CaseInfo.model_fields and k not in round_facts]


@pytest.mark.parametrize("workload", ["inference", "checkpoint", "dispatch", "mnist_amp", "resnet50_train"])
def test_the_torch_twins_gpu_records_are_the_real_h200s(monkeypatch, tmp_path, workload):
    monkeypatch.setenv("DEVICEBENCH_FAKE_HOST", "mixedbox")
    twin = FakeTorchBackend()
    twin.set_tf32(False)  # the H200 run had TF32 off
    twin.settings = {"mnist": None, "results_dir": str(tmp_path)}
    gpu = twin.devices()[1]
    for real in h200_records(workload):
        prepared = twin.build(Case(WORKLOADS[workload], gpu, dict(real["params"])))
        prepared.call()
        fake = prepared.facts(real["throughput"] and real["work_per_call"] / real["throughput"])
        assert list(fake) == builder_keys(real, workload), real["params"]
        for key in (*DESCRIBING, "file_bytes"):
            if key in fake:
                assert fake[key] == real[key], (key, real["params"])
