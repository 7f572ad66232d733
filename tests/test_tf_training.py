"""The TensorFlow training builders for real on this machine's CPU: float32 MNIST learns, mixed precision is wired
(policy, loss scaling, float32 loss), ResNet-50 trains with one graph, placement holds, the results format takes the
records and the report shows them."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
from pathlib import Path

import pytest

tf = pytest.importorskip("tensorflow")

import keras  # noqa: E402

from bench.backends import load_backend  # noqa: E402
from bench.backends import tf_amp as amp_module  # noqa: E402
from bench.backends import tf_resnet_train as resnet_module  # noqa: E402
from bench.backends.base import PlacementError  # noqa: E402
from bench.backends.tf_precision import dtype_policy  # noqa: E402
from bench.cases import Case  # noqa: E402
from bench.profiles import PROFILES, get_profile  # noqa: E402
from bench.workloads import mnist_data, precision  # noqa: E402
from bench.workloads.mnist_amp import MNIST_AMP  # noqa: E402
from bench.workloads.mnist_batch import MNIST_BATCH  # noqa: E402
from bench.workloads.resnet50_train import RESNET50_TRAIN  # noqa: E402
from tests.fake_backend import FakeTensorFlowBackend  # noqa: E402
from tests.test_fake_parity import assert_same_record, facts_of  # noqa: E402

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


@pytest.fixture
def small_eval(monkeypatch):
    """The learning check's loss on 512 samples instead of 4096: emulated float16 takes a minute for 4096 on a CPU."""
    monkeypatch.setattr(amp_module, "EVAL_SAMPLES", 512)


# Only float32 must learn here. Mixed float16 is a GPU mode that CPUs emulate (about 0.1 GFLOP/s: 60 steps took
# minutes), and so is bfloat16 on CPUs without AVX-512 BF16 or AMX; a few such steps of the book model (no
# activations, Adam) raise its loss before it falls. Their learning is the GPU run's check (amp_check); here they
# take a few small steps and show the wiring: the policy, the loss scaling, a float32 loss, finite moving losses.
POLICY_STEPS = {
    "float32": {"batch_size": 64, "steps_per_call": 15, "calls": 4},
    "mixed_float16": {"batch_size": 16, "steps_per_call": 2, "calls": 2},
    "mixed_bfloat16": {"batch_size": 16, "steps_per_call": 2, "calls": 2},
}


@pytest.mark.parametrize("policy", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_mnist_trains_in_each_precision_and_stays_on_the_device(backend, small_eval, policy):
    params = {"mode": "function", "precision": policy, **POLICY_STEPS[policy]}
    loss, facts, cpu = train(backend, MNIST_AMP, params)
    assert backend.check_placement(loss, cpu).endswith("device:CPU:0")
    assert loss.dtype == tf.float32  # the loss is computed in float32 whatever the policy
    assert finite_and_moved(facts), facts
    if policy == "float32":
        assert facts["final_loss"] < 0.9 * facts["initial_loss"], facts  # 20 seeds: see tests/seed_sweep.py
    assert facts["dtype_policy"] == policy
    assert facts["compute_dtype"] == {"float32": "float32", "mixed_float16": "float16"}.get(policy, "bfloat16")
    if policy == "mixed_float16":
        assert facts["loss_scaling"].startswith("keras.optimizers.LossScaleOptimizer")
        assert facts["loss_scale"] is not None and 1.0 <= facts["loss_scale"] <= 2.0**15
    else:
        assert facts["loss_scaling"] is None and facts["loss_scale"] is None
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored after the build


def test_keras_fit_scales_the_loss_for_float16(backend, small_eval):
    params = {"mode": "keras-fit", "precision": "mixed_float16", **POLICY_STEPS["mixed_float16"]}
    weights, facts, cpu = train(backend, MNIST_AMP, params)
    assert backend.check_placement(weights, cpu).endswith("device:CPU:0")
    assert finite_and_moved(facts), facts
    assert facts["loss_scaling"].startswith("keras.optimizers.LossScaleOptimizer") and facts["loss_scale"] is not None


def test_xla_mode_compiles_the_step(backend, small_eval):
    params = {"mode": "xla", "precision": "mixed_bfloat16", **POLICY_STEPS["mixed_bfloat16"]}
    _, facts, _ = train(backend, MNIST_AMP, params)
    assert facts["jit_compile"] is True and finite_and_moved(facts), facts


def test_sweep_case_at_a_large_batch(backend):
    params = {"mode": "function", "batch_size": 2048, "steps_per_call": 1, "calls": 2}
    loss, facts, cpu = train(backend, MNIST_BATCH, params)
    assert backend.check_placement(loss, cpu).endswith("CPU:0")
    assert MNIST_BATCH.check(facts) is None and facts["samples"] == 2048 * 1 * 2
    assert facts["compute_dtype"] == "float32"


def test_dtype_policy_is_restored_even_when_building_fails():
    with pytest.raises(RuntimeError), dtype_policy("mixed_float16"):
        assert keras.config.dtype_policy().name == "mixed_float16"
        raise RuntimeError("boom")
    assert keras.config.dtype_policy().name == "float32"
    with pytest.raises(ValueError, match="unknown precision 'float8'"), dtype_policy("float8"):
        pass


@pytest.mark.heavy
def test_resnet50_trains_on_a_tiny_batch_and_shares_its_graph_across_batch_sizes(backend, monkeypatch, tmp_path):
    # Two 32 px images through SGD(0.01, momentum 0.9) and batch norm: whether the loss falls over a few steps
    # depends on the CPU's rounding (it rose 706 -> 1133 on an AVX2-only CPU), so only what the builder
    # guarantees is asserted here: the steps ran and changed the weights, the losses are finite, one graph.
    params = {"precision": "float32", "image_size": 32, "batch_size": 2, "steps_per_call": 1, "calls": 2}
    loss, facts, cpu = train(backend, RESNET50_TRAIN, params)
    assert backend.check_placement(loss, cpu).endswith("device:CPU:0") and loss.shape == ()
    assert finite_and_moved(facts), facts  # one SGD step between the first and the last loss
    assert facts["graph_reused"] is False and facts["model"].startswith("keras.applications.ResNet50")
    assert facts["optimizer"] == "SGD(learning_rate=0.01, momentum=0.9)" and facts["ms_per_step"] == 1000.0
    trainer = resnet_module._TRAINER["current"]
    assert trainer.model.count_params() > 25_000_000  # ResNet-50 with its 1000-class head
    assert int(trainer.optimizer.iterations) == 2
    # The scripted twin records what this real case recorded (tests/test_fake_parity.py's check, made here so that
    # ResNet-50 is built and traced once for both).
    monkeypatch.setenv("DEVICEBENCH_FAKE_HOST", "laptop")
    assert_same_record(facts, facts_of(FakeTensorFlowBackend(), RESNET50_TRAIN, params, tmp_path / "fake"))
    _, again, _ = train(backend, RESNET50_TRAIN, {**params, "batch_size": 3})
    assert again["graph_reused"] is True and finite_and_moved(again), again
    assert int(trainer.optimizer.iterations) == 4 and resnet_module._TRAINER["current"] is trainer
    assert trainer.step.experimental_get_tracing_count() == 1  # one trace for both batch sizes


def finite_and_moved(facts) -> bool:
    """Whether a case's first and last losses are finite and differ (its steps updated the weights)."""
    first, last = facts["initial_loss"], facts["final_loss"]
    return math.isfinite(first) and math.isfinite(last) and first != last


def test_placement_is_checked_against_the_asked_device(backend):
    params = {"mode": "function", "precision": "float32", "batch_size": 32, "steps_per_call": 1, "calls": 1}
    loss, _, cpu = train(backend, MNIST_AMP, params)
    with pytest.raises(PlacementError, match="asked for GPU:0"):
        backend.check_placement(loss, cpu.__class__("tensorflow", "GPU:0", "gpu", "pretend"))


def test_the_suite_records_and_reports_mixed_precision_and_the_sweep(pytester, monkeypatch, small_eval, backend):
    """The plugin runs the new workloads (smoke, CPU), the results format takes them and the report shows them."""
    # In this process (TensorFlow is imported once): the sweep case trains one batch per call for 3 calls (its own
    # sizes: 2048 samples, 6 calls), the learning check evaluates 512 samples (`small_eval`); mnist_amp keeps its
    # steps (its loss must fall). monkeypatch puts the smoke profile back for the tests after this one.
    for name in ("test_mnist_amp", "test_mnist_batch"):
        pytester.makepyfile(**{name: (REPO / "bench" / "benchmarks" / f"{name}.py").read_text()})
    smoke = get_profile("smoke")
    sweep = MNIST_BATCH.sizes_for(smoke)
    one_step = dataclasses.replace(sweep, samples_per_call=sweep.batches_cpu[1], calls=3)
    monkeypatch.setitem(PROFILES, "smoke", dataclasses.replace(smoke, sizes={"mnist_batch": one_step}))
    batch = sweep.batches_cpu[1]  # one sweep case
    result = pytester.runpytest(
        "-p", "bench.plugin", "--profile", "smoke", "--devices", "cpu", "--results-dir", "results",
        "-k", f"mnist_amp or mnist_batch and b{batch}-",
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
