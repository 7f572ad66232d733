"""The torch training builders for real on this machine's CPU: autocast modes learn, the GradScaler scales, the
ResNet-50 loop trains (torchvision's model where it is usable, a small stand-in otherwise) or skips with its reason.

Run with OMP_NUM_THREADS=1 on a shared machine.
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from bench.backends import load_backend  # noqa: E402
from bench.backends import torch_resnet_train as resnet_module  # noqa: E402
from bench.backends.torch_amp import autocast  # noqa: E402
from bench.backends.torch_models import ModelUnavailable, resnet50  # noqa: E402
from bench.cases import Case  # noqa: E402
from bench.runner import CaseSkipped  # noqa: E402
from bench.workloads import mnist_data  # noqa: E402
from bench.workloads.mnist_amp import MNIST_AMP  # noqa: E402
from bench.workloads.mnist_batch import MNIST_BATCH  # noqa: E402
from bench.workloads.resnet50_train import CLASSES, RESNET50_TRAIN  # noqa: E402


@pytest.fixture(scope="module")
def backend():
    """The torch backend, on one intra-op thread while this module runs (torch's own count comes back after)."""
    # Two busy OpenMP threads on a shared 2-core machine (another test worker on the other core) spin and wait for
    # each other: the same steps took several times the CPU. These tests check behaviour, not speed.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield load_backend("torch")
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def synthetic_mnist(monkeypatch, tmp_path):
    monkeypatch.setattr(mnist_data, "KERAS_CACHE", tmp_path / "absent.npz")
    monkeypatch.delenv(mnist_data.ENV_VAR, raising=False)


def train(backend, workload, params):
    """Build a case on CPU:0 and run all its calls; (output of the last call, facts, device)."""
    cpu = backend.devices()[0]
    prepared = backend.build(Case(workload, cpu, params))
    for _ in range(params["calls"]):
        out = prepared.call()
    return out, prepared.facts(1.0), cpu


@pytest.mark.parametrize(("policy", "batch"), [("float32", 32), ("mixed_float16", 16), ("mixed_bfloat16", 32)])
def test_mnist_learns_under_each_autocast_mode(backend, policy, batch):
    # float16 matmuls are emulated on CPUs (slow): a smaller batch, the GPU path's logic all the same
    params = {"mode": "eager", "precision": policy, "batch_size": batch, "steps_per_call": 15, "calls": 3}
    loss, facts, cpu = train(backend, MNIST_AMP, params)
    assert backend.check_placement(loss, cpu) == "cpu"
    assert loss.dtype == torch.float32
    assert facts["final_loss"] < 0.95 * facts["initial_loss"], facts
    assert facts["autocast_dtype"] == {"float32": None, "mixed_float16": "float16"}.get(policy, "bfloat16")
    if policy == "mixed_float16":
        assert facts["loss_scaling"] == "torch.amp.GradScaler (dynamic)" and facts["loss_scale"] > 1
    else:
        assert facts["loss_scale"] is None


def test_autocast_computes_in_the_low_precision_dtype():
    layer = nn.Linear(4, 4)
    x = torch.ones(2, 4)
    with autocast(torch.device("cpu"), "mixed_bfloat16"):
        assert layer(x).dtype == torch.bfloat16
    with autocast(torch.device("cpu"), "float32"):
        assert layer(x).dtype == torch.float32
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        autocast(torch.device("cpu"), "fp8")


def test_compiled_bfloat16_step_trains(backend):
    # compiling costs the time here, not the steps; a few bfloat16 steps of the book model may raise its loss first
    params = {"mode": "compile", "precision": "mixed_bfloat16", "batch_size": 32, "steps_per_call": 2, "calls": 2}
    _, facts, _ = train(backend, MNIST_AMP, params)
    assert facts["compiled"].startswith("torch.compile") and finite_and_moved(facts), facts


def test_sweep_case(backend):
    params = {"mode": "eager", "batch_size": 512, "steps_per_call": 2, "calls": 3}
    loss, facts, cpu = train(backend, MNIST_BATCH, params)
    assert backend.check_placement(loss, cpu) == "cpu" and MNIST_BATCH.check(facts) is None


class TinyResNet(nn.Module):
    """A stand-in for torchvision's resnet50 where torchvision is not usable: conv, batch norm, pool, 1000 classes."""

    def __init__(self, classes: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.body(x), 1))


RESNET_PARAMS = {"precision": "float32", "image_size": 32, "batch_size": 4, "steps_per_call": 3, "calls": 3}


def test_resnet_loop_trains_channels_last_on_the_device(backend, monkeypatch):
    made = {}

    def tiny(device, classes):
        made["classes"] = classes
        return TinyResNet(classes).to(device)

    monkeypatch.setattr(resnet_module, "resnet50", tiny)
    loss, facts, cpu = train(backend, RESNET50_TRAIN, RESNET_PARAMS)
    assert backend.check_placement(loss, cpu) == "cpu" and made["classes"] == CLASSES
    assert finite_and_moved(facts), facts  # whether a few SGD steps lower the loss depends on the CPU's rounding
    images, labels = resnet_module.synthetic_batch(4, 32, torch.device("cpu"))
    assert images.is_contiguous(memory_format=torch.channels_last) and images.shape == (4, 3, 32, 32)
    assert int(labels.max()) < CLASSES and torch.equal(labels, resnet_module.synthetic_batch(4, 32, cpu_dev())[1])
    assert torch.backends.cudnn.benchmark is False  # only switched on inside the calls


def test_resnet_without_torchvision_is_an_unavailable_skip(backend, monkeypatch):
    def missing(device, classes):
        raise ModelUnavailable("torchvision is not usable here (ModuleNotFoundError: No module named 'torchvision')")

    monkeypatch.setattr(resnet_module, "resnet50", missing)
    with pytest.raises(CaseSkipped) as caught:
        backend.build(Case(RESNET50_TRAIN, backend.devices()[0], RESNET_PARAMS))
    assert caught.value.kind == "unavailable"
    assert caught.value.reason.startswith("torchvision is not usable here")


def test_real_resnet50_trains_where_torchvision_works(backend):
    try:
        resnet50(torch.device("cpu"))
    except ModelUnavailable as exc:
        pytest.skip(str(exc))
    params = {**RESNET_PARAMS, "batch_size": 2, "steps_per_call": 2}
    loss, facts, cpu = train(backend, RESNET50_TRAIN, params)
    assert backend.check_placement(loss, cpu) == "cpu" and finite_and_moved(facts), facts


def finite_and_moved(facts) -> bool:
    """Whether a case's first and last losses are finite and differ (its steps updated the weights)."""
    first, last = facts["initial_loss"], facts["final_loss"]
    return math.isfinite(first) and math.isfinite(last) and first != last


def cpu_dev() -> torch.device:
    return torch.device("cpu")
