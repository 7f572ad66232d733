"""The TensorFlow training builders for real on this machine's CPU: mixed precision learns, ResNet-50 trains,
placement holds, the results format takes the records and the report shows them."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

tf = pytest.importorskip("tensorflow")

import keras  # noqa: E402

from bench.backends import load_backend  # noqa: E402
from bench.backends import tf_resnet_train as resnet_module  # noqa: E402
from bench.backends.base import PlacementError  # noqa: E402
from bench.backends.tf_precision import dtype_policy  # noqa: E402
from bench.cases import Case  # noqa: E402
from bench.profiles import get_profile  # noqa: E402
from bench.workloads import mnist_data, precision  # noqa: E402
from bench.workloads.mnist_amp import MNIST_AMP  # noqa: E402
from bench.workloads.mnist_batch import MNIST_BATCH  # noqa: E402
from bench.workloads.resnet50_train import RESNET50_TRAIN  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def backend():
    return load_backend("tensorflow")


@pytest.fixture(autouse=True)
def synthetic_mnist(monkeypatch, tmp_path):
    monkeypatch.setattr(mnist_data, "KERAS_CACHE", tmp_path / "absent.npz")
    monkeypatch.delenv(mnist_data.ENV_VAR, raising=False)


def train(backend, workload, params, calls=None):
    """Build a case on CPU:0 and run its calls; (output of the last call, facts, device)."""
    cpu = backend.devices()[0]
    prepared = backend.build(Case(workload, cpu, params))
    for _ in range(calls or params["calls"]):
        out = prepared.call()
    backend.sync()
    return out, prepared.facts(1.0), cpu


@pytest.mark.parametrize("policy", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_mnist_learns_in_each_precision_and_stays_on_the_device(backend, policy):
    params = {"mode": "function", "precision": policy, "batch_size": 64, "steps_per_call": 15, "calls": 4}
    loss, facts, cpu = train(backend, MNIST_AMP, params)
    assert backend.check_placement(loss, cpu).endswith("device:CPU:0")
    assert loss.dtype == tf.float32  # the loss is computed in float32 whatever the policy
    assert facts["final_loss"] < 0.9 * facts["initial_loss"], facts
    assert facts["dtype_policy"] == policy
    assert facts["compute_dtype"] == {"float32": "float32", "mixed_float16": "float16"}.get(policy, "bfloat16")
    if policy == "mixed_float16":
        assert facts["loss_scaling"].startswith("keras.optimizers.LossScaleOptimizer")
        assert facts["loss_scale"] is not None and 1.0 <= facts["loss_scale"] <= 2.0**15
    else:
        assert facts["loss_scaling"] is None and facts["loss_scale"] is None
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored after the build


def test_keras_fit_scales_the_loss_for_float16_and_learns(backend):
    params = {"mode": "keras-fit", "precision": "mixed_float16", "batch_size": 64, "steps_per_call": 15, "calls": 4}
    weights, facts, cpu = train(backend, MNIST_AMP, params)
    assert backend.check_placement(weights, cpu).endswith("device:CPU:0")
    assert facts["final_loss"] < 0.9 * facts["initial_loss"]
    assert facts["loss_scale"] is not None


def test_xla_mode_compiles_the_step(backend):
    params = {"mode": "xla", "precision": "mixed_bfloat16", "batch_size": 32, "steps_per_call": 10, "calls": 4}
    _, facts, _ = train(backend, MNIST_AMP, params)
    assert facts["jit_compile"] is True and facts["final_loss"] < facts["initial_loss"]


def test_sweep_case_at_a_large_batch(backend):
    params = {"mode": "function", "batch_size": 2048, "steps_per_call": 2, "calls": 3}
    loss, facts, cpu = train(backend, MNIST_BATCH, params)
    assert backend.check_placement(loss, cpu).endswith("CPU:0")
    assert MNIST_BATCH.check(facts) is None and facts["samples"] == 2048 * 2 * 3
    assert facts["compute_dtype"] == "float32"


def test_dtype_policy_is_restored_even_when_building_fails():
    with pytest.raises(RuntimeError), dtype_policy("mixed_float16"):
        assert keras.config.dtype_policy().name == "mixed_float16"
        raise RuntimeError("boom")
    assert keras.config.dtype_policy().name == "float32"
    with pytest.raises(ValueError, match="unknown precision 'float8'"), dtype_policy("float8"):
        pass


def test_resnet50_trains_on_a_tiny_batch_and_shares_its_graph_across_batch_sizes(backend):
    params = {"precision": "float32", "image_size": 32, "batch_size": 2, "steps_per_call": 2, "calls": 3}
    loss, facts, cpu = train(backend, RESNET50_TRAIN, params)
    assert backend.check_placement(loss, cpu).endswith("device:CPU:0")
    assert RESNET50_TRAIN.check(facts) is None
    assert facts["final_loss"] < facts["initial_loss"], facts  # forward + backward + SGD on one fixed batch
    assert facts["graph_reused"] is False and facts["model"].startswith("keras.applications.ResNet50")
    trainer = resnet_module._TRAINER["current"]
    assert trainer.model.count_params() > 25_000_000  # ResNet-50 with its 1000-class head
    _, again, _ = train(backend, RESNET50_TRAIN, {**params, "batch_size": 3}, calls=2)
    assert again["graph_reused"] is True and again["final_loss"] < again["initial_loss"]
    assert trainer.step.experimental_get_tracing_count() == 1  # one trace for both batch sizes


def test_placement_is_checked_against_the_asked_device(backend):
    params = {"mode": "function", "precision": "float32", "batch_size": 32, "steps_per_call": 1, "calls": 1}
    loss, _, cpu = train(backend, MNIST_AMP, params)
    with pytest.raises(PlacementError, match="asked for GPU:0"):
        backend.check_placement(loss, cpu.__class__("tensorflow", "GPU:0", "gpu", "pretend"))


def test_the_suite_records_and_reports_mixed_precision_and_the_sweep(pytester, monkeypatch):
    """The plugin runs the new workloads (smoke, CPU), the results format takes them and the report shows them."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    for name in ("test_mnist_amp", "test_mnist_batch"):
        pytester.makepyfile(**{name: (REPO / "bench" / "benchmarks" / f"{name}.py").read_text()})
    batch = get_profile("smoke").training.sweep_batches_cpu[1]  # one sweep case
    result = pytester.runpytest_subprocess(
        "-p", "bench.plugin", "--profile", "smoke", "--devices", "cpu", "--results-dir", "results",
        "-k", f"mnist_amp or mnist_batch and b{batch}-", timeout=600,
    )  # fmt: skip
    has_bf16 = precision.precision_skip_reason(backend_cpu(), "mixed_bfloat16", precision.cpu_flags()) is None
    result.assert_outcomes(passed=3 if has_bf16 else 2, skipped=1 if has_bf16 else 2)
    data = json.loads((pytester.path / "results" / "latest" / "benchmarks.json").read_text())
    extras = {b["extra_info"]["params"].get("precision", "sweep"): b["extra_info"] for b in data["benchmarks"]}
    assert extras["float32"]["workload"] == "mnist_amp" and extras["float32"]["precision"]["dtype"] == "float32"
    assert extras["sweep"]["workload"] == "mnist_batch" and extras["sweep"]["params"]["batch_size"] == batch
    skipped = {s["params"].get("precision"): s["reason"] for s in data["devicebench"]["skipped"]}
    assert "GPU mode" in skipped["mixed_float16"]

    from reports import cli

    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["build", str(pytester.path / "results" / "latest")]) == 0
    html = (pytester.path / "results" / "latest" / "report.html").read_text()
    assert "Throughput vs batch size" in html
    if has_bf16:
        assert extras["mixed_bfloat16"]["precision"]["dtype"] == "mixed_bfloat16"
        assert "Mixed precision: speedup over float32" in html
        assert "Mixed precision, MNIST mixed-precision training on CPU:0: mixed_bfloat16 runs at" in html
    else:
        assert "neither AVX-512 BF16 nor AMX" in html


def backend_cpu():
    """The suite's CPU device of the TensorFlow backend."""
    return load_backend("tensorflow").devices()[0]
