"""Inference, checkpoints and the polynomial fit on the real TensorFlow backend, on this machine's CPU (tiny sizes)."""

import gc
import json
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from bench.backends import load_backend  # noqa: E402
from bench.backends.checkpoint_disk import SCRATCH_PREFIX  # noqa: E402
from bench.backends.tf_models import resnet50  # noqa: E402
from bench.cases import Case  # noqa: E402
from bench.workloads.checkpoint import CHECKPOINT, WEIGHT_BYTES, checkpoint_check  # noqa: E402
from bench.workloads.dispatch import DISPATCH, TRUE_COEFFICIENTS, dispatch_check  # noqa: E402
from bench.workloads.inference import INFERENCE, inference_check  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def backend():
    return load_backend("tensorflow")


@pytest.fixture
def cpu(backend):
    return backend.devices()[0]


@pytest.mark.parametrize("mode", ["eager", "function", "xla"])
@pytest.mark.parametrize("batch_size", [1, 5])
def test_every_mode_of_the_book_model_reproduces_the_eager_output_on_the_cpu(backend, cpu, mode, batch_size):
    params = {"model": "book", "image_size": 28, "mode": mode, "batch_size": batch_size}
    prepared = backend.build(Case(INFERENCE, cpu, params))
    out = prepared.call()
    assert backend.check_placement(out, cpu).endswith("device:CPU:0")
    assert out.shape == (batch_size, 10)
    facts = prepared.facts(0.001)
    assert facts["matches_reference"] is True and facts["math"] == "float32"
    assert facts["relative_error"] < 1e-5 and inference_check(facts) is None
    assert facts["parameters"] == 1_863_690 and facts["input_shape"] == [batch_size, 784]


def test_resnet50_inference_in_tf_function_reproduces_eager_on_small_images(backend, cpu):
    params = {"model": "resnet50", "image_size": 32, "mode": "function", "batch_size": 2}
    prepared = backend.build(Case(INFERENCE, cpu, params))
    assert prepared.call().shape == (2, 1000)
    facts = prepared.facts(0.01)
    assert facts["matches_reference"] is True and facts["input_shape"] == [2, 32, 32, 3]
    assert facts["parameters"] * 4 == WEIGHT_BYTES[("tensorflow", "resnet50")]  # what the checkpoint cases count


def test_resnet50_weights_are_what_the_checkpoint_workload_counts():
    weights = resnet50().weights
    assert sum(int(np.prod(w.shape)) * 4 for w in weights) == WEIGHT_BYTES[("tensorflow", "resnet50")]


def scratch_left(folder: Path) -> list[Path]:
    return list(folder.glob(f"{SCRATCH_PREFIX}*"))


@pytest.mark.parametrize("fmt", ["tf-checkpoint", "keras"])
@pytest.mark.parametrize("direction", ["save", "restore"])
def test_checkpoints_round_trip_in_the_results_folder_and_are_cleaned_up(backend, cpu, tmp_path, fmt, direction):
    backend.settings = {"results_dir": str(tmp_path)}
    try:
        prepared = backend.build(Case(CHECKPOINT, cpu, {"format": fmt, "direction": direction, "model": "book"}))
        (scratch,) = scratch_left(tmp_path)  # the files go to the results folder's disk
        for _ in range(2):
            out = prepared.call()
        assert backend.check_placement(out, cpu).endswith("device:CPU:0")
        facts = prepared.facts(0.05)
    finally:
        backend.settings = {}
    assert facts["weights_equal"] is True and checkpoint_check(facts) is None
    assert facts["weight_bytes"] == 7_454_760 and facts["file_bytes"] > facts["weight_bytes"]
    assert facts["directory"] == str(tmp_path) and facts["on_results_disk"] is True and facts["fsync"] is True
    assert facts["file_mb_per_s"] == pytest.approx(facts["file_bytes"] / 0.05 / 1e6)
    assert not scratch.exists() and scratch_left(tmp_path) == []


def test_a_restore_that_reads_nothing_is_caught_the_target_starts_with_other_weights(backend, cpu, monkeypatch):
    params = {"format": "tf-checkpoint", "direction": "restore", "model": "book"}
    prepared = backend.build(Case(CHECKPOINT, cpu, params))
    monkeypatch.setattr(tf.train.Checkpoint, "read", lambda self, path: SimpleNamespace(assert_consumed=lambda: None))
    prepared.call()
    facts = prepared.facts(0.01)
    assert facts["weights_equal"] is False
    assert checkpoint_check(facts) == "the restored weights differ from the saved ones"


def test_a_checkpoint_build_that_fails_half_way_leaves_no_scratch_folder(backend, cpu, tmp_path, monkeypatch):
    def disk_full(self, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tf.train.Checkpoint, "write", disk_full)
    backend.settings = {"results_dir": str(tmp_path)}
    try:
        with pytest.raises(OSError, match="No space left"):
            backend.build(Case(CHECKPOINT, cpu, {"format": "tf-checkpoint", "direction": "save", "model": "book"}))
    finally:
        backend.settings = {}
    gc.collect()
    assert scratch_left(tmp_path) == []


def test_an_unknown_format_is_refused_before_anything_is_made(backend, cpu):
    with pytest.raises(ValueError, match="unknown TensorFlow checkpoint format 'h5'; formats: tf-checkpoint, keras"):
        backend.build(Case(CHECKPOINT, cpu, {"format": "h5", "direction": "save", "model": "book"}))


def test_without_a_results_folder_checkpoints_go_to_a_temp_dir(backend, cpu, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # this test's own temp dir
    prepared = backend.build(Case(CHECKPOINT, cpu, {"format": "keras", "direction": "save", "model": "book"}))
    assert len(scratch_left(tmp_path)) == 1
    prepared.call()
    facts = prepared.facts(0.05)
    assert facts["on_results_disk"] is False and facts["weights_equal"] is True
    assert facts["directory"] == str(tmp_path) and scratch_left(tmp_path) == []


@pytest.mark.parametrize("mode", ["eager", "function", "function-loop"])
def test_the_polynomial_fit_learns_and_counts_its_ops_in_every_mode(backend, cpu, mode):
    params = {"mode": mode, "points": 50, "degree": 3, "steps_per_call": 30}
    prepared = backend.build(Case(DISPATCH, cpu, params))
    for _ in range(3):
        loss = prepared.call()
    assert backend.check_placement(loss, cpu).endswith("device:CPU:0")
    facts = prepared.facts(0.03)
    assert dispatch_check(facts) is None and facts["final_loss"] < 0.5 * facts["initial_loss"]
    assert 50 < facts["ops_per_step"] < 400  # a few dozen ops forward, backward and in Adam's update
    assert facts["us_per_step"] == pytest.approx(1000.0)
    assert facts["us_per_op"] == pytest.approx(1000.0 / facts["ops_per_step"])


def test_the_looped_fit_finds_the_polynomial(backend, cpu):
    params = {"mode": "function-loop", "points": 50, "degree": 3, "steps_per_call": 3000}
    prepared = backend.build(Case(DISPATCH, cpu, params))
    prepared.call()
    coefficients = prepared.facts(1.0)["coefficients"]
    np.testing.assert_allclose(coefficients, TRUE_COEFFICIENTS, atol=0.1)


def test_the_three_workloads_end_to_end_leave_no_scratch_files(pytester, backend):
    # In this process (TensorFlow is imported once): a subprocess would pay its import again.
    for name in ("inference", "checkpoint", "dispatch"):
        source = (REPO / "bench" / "benchmarks" / f"test_{name}.py").read_text()
        pytester.makepyfile(**{f"test_{name}": source})
    chosen = "book-xla-b1 or tf-checkpoint-restore or function-loop"
    result = pytester.runpytest("-p", "bench.plugin", "--profile", "smoke", "--results-dir", "results", "-k", chosen)
    result.assert_outcomes(passed=3)
    data = json.loads((pytester.path / "results" / "latest" / "benchmarks.json").read_text())
    extra = {b["extra_info"]["workload"]: b["extra_info"] for b in data["benchmarks"]}
    assert extra["inference"]["requests"] == 100 and extra["inference"]["matches_reference"] is True
    assert extra["checkpoint"]["weights_equal"] is True and extra["checkpoint"]["throughput_unit"] == "MB/s"
    assert extra["dispatch"]["us_per_op"] > 0
    assert {name: spec["version"] for name, spec in data["devicebench"]["workloads"].items()} == {
        "inference": 1,
        "checkpoint": 1,
        "dispatch": 1,
    }
    assert scratch_left(pytester.path / "results") == []
