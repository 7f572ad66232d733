"""Inference, checkpoints and the polynomial fit on the real torch backend, on this machine's CPU (tiny sizes)."""

import tempfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bench.backends import load_backend  # noqa: E402
from bench.backends.checkpoint_disk import SCRATCH_PREFIX  # noqa: E402
from bench.backends.torch_checkpoint import state_bytes  # noqa: E402
from bench.backends.torch_dispatch import top_level_aten_ops  # noqa: E402
from bench.backends.torch_inference import uses_tf32  # noqa: E402
from bench.backends.torch_models import book_model  # noqa: E402
from bench.cases import Case  # noqa: E402
from bench.runner import CaseSkipped  # noqa: E402
from bench.workloads.checkpoint import CHECKPOINT, WEIGHT_BYTES, checkpoint_check  # noqa: E402
from bench.workloads.dispatch import DISPATCH, TRUE_COEFFICIENTS, dispatch_check  # noqa: E402
from bench.workloads.inference import INFERENCE, inference_check  # noqa: E402


def torchvision_works() -> bool:
    try:
        import torchvision.models  # noqa: F401
    except Exception:
        return False
    return True


@pytest.fixture(scope="module")
def backend():
    """The torch backend, on one intra-op thread while this module runs (torch's own count comes back after)."""
    # Two busy OpenMP threads on a shared 2-core machine (another test worker on the other core) spin and wait for
    # each other: the same steps took several times the CPU. These tests check behaviour, not speed.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield load_backend("torch")
    torch.set_num_threads(threads)


@pytest.fixture
def cpu(backend):
    return backend.devices()[0]


@pytest.mark.parametrize("mode", ["eager", "compile"])
def test_the_book_model_reproduces_the_eager_output_eager_and_compiled(backend, cpu, mode):
    params = {"model": "book", "image_size": 28, "mode": mode, "batch_size": 3}
    prepared = backend.build(Case(INFERENCE, cpu, params))
    out = prepared.call()
    assert backend.check_placement(out, cpu) == "cpu" and out.shape == (3, 10)
    facts = prepared.facts(0.001)
    assert facts["matches_reference"] is True and facts["relative_error"] < 1e-5 and inference_check(facts) is None
    assert facts["math"] == "float32" and facts["parameters"] == 1_863_690
    assert (facts["compiled"] is not None) == (mode == "compile")


@pytest.mark.skipif(torchvision_works(), reason="torchvision is installed here: ResNet-50 is built, not skipped")
def test_resnet50_without_torchvision_is_a_recorded_skip_with_the_reason(backend, cpu):
    params = {"model": "resnet50", "image_size": 32, "mode": "eager", "batch_size": 1}
    with pytest.raises(CaseSkipped) as info:
        backend.build(Case(INFERENCE, cpu, params))
    assert info.value.kind == "unavailable"
    assert info.value.reason.startswith("ResNet-50 on torch: torchvision is not usable here")
    with pytest.raises(CaseSkipped, match="torchvision"):
        backend.build(Case(CHECKPOINT, cpu, {"format": "torch-state-dict", "direction": "save", "model": "resnet50"}))


@pytest.mark.skipif(not torchvision_works(), reason="needs torchvision")
def test_resnet50_state_is_what_the_checkpoint_workload_counts():
    from bench.backends.torch_models import resnet50

    assert state_bytes(resnet50(torch.device("cpu"))) == WEIGHT_BYTES[("torch", "resnet50")]


def test_the_book_models_state_is_what_the_checkpoint_workload_counts():
    assert state_bytes(book_model(torch.device("cpu"))) == WEIGHT_BYTES[("torch", "book")]


def test_tf32_tolerance_applies_where_cuda_math_is_tf32():
    cuda, matmul, cudnn = torch.device("cuda", 0), torch.backends.cuda.matmul, torch.backends.cudnn
    saved = matmul.allow_tf32, cudnn.allow_tf32  # torch's own switches (monkeypatch cannot patch these objects)
    try:
        matmul.allow_tf32, cudnn.allow_tf32 = False, True  # torch's defaults
        assert uses_tf32("resnet50", cuda) is True  # cuDNN convolutions in TF32
        assert uses_tf32("book", cuda) is False  # matmuls stay float32
        matmul.allow_tf32 = True
        assert uses_tf32("book", cuda) is True
        assert uses_tf32("resnet50", torch.device("cpu")) is False
    finally:
        matmul.allow_tf32, cudnn.allow_tf32 = saved


@pytest.mark.parametrize("direction", ["save", "restore"])
def test_a_state_dict_round_trips_in_the_results_folder_and_is_cleaned_up(backend, cpu, tmp_path, direction):
    backend.settings = {"results_dir": str(tmp_path)}
    try:
        params = {"format": "torch-state-dict", "direction": direction, "model": "book"}
        prepared = backend.build(Case(CHECKPOINT, cpu, params))
        (scratch,) = tmp_path.glob(f"{SCRATCH_PREFIX}*")
        for _ in range(2):
            out = prepared.call()
        assert backend.check_placement(out, cpu) == "cpu"
        facts = prepared.facts(0.02)
    finally:
        backend.settings = {}
    assert facts["weights_equal"] is True and checkpoint_check(facts) is None
    assert facts["weight_bytes"] == 7_454_760 and facts["file_bytes"] > 7_454_760 and facts["files"] == 1
    assert facts["directory"] == str(tmp_path) and facts["on_results_disk"] is True
    assert not scratch.exists()


def test_a_restore_that_loads_nothing_is_caught(backend, cpu, monkeypatch):
    prepared = backend.build(
        Case(CHECKPOINT, cpu, {"format": "torch-state-dict", "direction": "restore", "model": "book"})
    )
    monkeypatch.setattr(torch.nn.Module, "load_state_dict", lambda self, state: None)
    prepared.call()
    assert prepared.facts(0.02)["weights_equal"] is False


def test_the_polynomial_fit_learns_and_counts_its_aten_ops(backend, cpu):
    params = {"mode": "eager", "points": 50, "degree": 3, "steps_per_call": 200}
    prepared = backend.build(Case(DISPATCH, cpu, params))
    for _ in range(3):
        loss = prepared.call()
    assert backend.check_placement(loss, cpu) == "cpu"
    facts = prepared.facts(0.2)
    assert dispatch_check(facts) is None and facts["final_loss"] < 0.1 * facts["initial_loss"]
    assert 30 < facts["ops_per_step"] < 200
    assert facts["us_per_step"] == pytest.approx(1000.0)
    distance = np.abs(np.array(facts["coefficients"]) - TRUE_COEFFICIENTS).sum()
    assert distance < 0.5 * np.abs(TRUE_COEFFICIENTS).sum()  # the coefficients start at 0: they moved towards it


def test_only_top_level_aten_calls_are_counted():
    def event(name, parent=None):
        return type("Event", (), {"name": name, "cpu_parent": parent})()

    add = event("aten::add")
    events = [add, event("aten::empty", add), event("Optimizer.step#Adam.step"), event("aten::mul", event("step"))]
    assert top_level_aten_ops(events) == 2


def test_without_a_results_folder_the_state_dict_goes_to_a_temp_dir(backend, cpu, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # this test's own temp dir
    prepared = backend.build(
        Case(CHECKPOINT, cpu, {"format": "torch-state-dict", "direction": "save", "model": "book"})
    )
    assert len(list(tmp_path.glob(f"{SCRATCH_PREFIX}*"))) == 1
    prepared.call()
    facts = prepared.facts(0.02)
    assert facts["on_results_disk"] is False and facts["directory"] == str(tmp_path)
    assert not list(tmp_path.iterdir())
