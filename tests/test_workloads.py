"""Workload arithmetic and data selection (pure; no framework)."""

import numpy as np
import pytest

from bench.devices import Device
from bench.profiles import get_profile
from bench.workloads import mnist_data
from bench.workloads.mnist import MNIST, STEPS_PER_EPOCH, mnist_params, mnist_schedule
from bench.workloads.mnist_data import MnistDataError, find_mnist, load_mnist, read_mnist, synthetic_mnist
from bench.workloads.tfdata import input_bound, tfdata_params
from bench.workloads.transfer import TRANSFER, transfer_params

CPU = Device("tensorflow", "CPU:0", "cpu", "cpu")
GPU = Device("tensorflow", "GPU:0", "gpu", "gpu")


@pytest.fixture(autouse=True)
def no_real_mnist(monkeypatch, tmp_path):
    """Tests never see the developer's own Keras cache or environment."""
    monkeypatch.setattr(mnist_data, "KERAS_CACHE", tmp_path / "absent" / "mnist.npz")
    monkeypatch.delenv(mnist_data.ENV_VAR, raising=False)
    load_mnist.cache_clear()


def write_mnist(path, n=12):
    rng = np.random.default_rng(1)
    np.savez(path, x_train=rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), y_train=np.arange(n) % 10)
    return path


@pytest.mark.parametrize(
    ("pipeline", "premade", "bound"),
    [(0.0110, 0.0100, False), (0.0111, 0.0100, True), (0.020, 0.010, True), (0.009, 0.010, False)],
)
def test_input_bound_when_the_pipeline_adds_more_than_ten_percent(pipeline, premade, bound):
    assert input_bound(pipeline, premade) is bound


def test_gigabytes_per_second():
    assert TRANSFER.throughput({"direction": "h2d", "bytes": 16 * 2**20}, 0.004) == pytest.approx(4.194304)


def test_transfer_cases_cover_both_directions_and_tf_memoryview():
    params = [p for p, _ in transfer_params(get_profile("smoke"), CPU)]
    assert [(p["direction"], p["bytes"]) for p in params][:2] == [("h2d", 2**20), ("h2d", 16 * 2**20)]
    assert {p["direction"] for p in params} == {"h2d", "d2h", "d2h-view"}
    torch_cpu = Device("torch", "CPU:0", "cpu", "cpu")
    torch_params = transfer_params(get_profile("smoke"), torch_cpu)
    assert {p["direction"] for p, why in torch_params if why is None} == {"h2d", "d2h"}


def test_mnist_schedules_follow_the_profiles():
    assert mnist_schedule(get_profile("smoke")) == (30, 6)
    assert mnist_schedule(get_profile("standard")) == (94, 10)  # one epoch in ten calls
    assert mnist_schedule(get_profile("full")) == (STEPS_PER_EPOCH, 10)  # the book's ten epochs
    params = dict(mnist_params(get_profile("smoke"), CPU)[0][0])
    assert MNIST.throughput(params, 2.0) == pytest.approx(30 * 64 / 2.0)


def test_split_mode_only_on_gpus_and_tfdata_host_variants_only_on_the_cpu():
    smoke = get_profile("smoke")
    assert [p["mode"] for p, _ in mnist_params(smoke, CPU)] == ["eager", "function", "xla", "keras-fit"]
    assert "split" in [p["mode"] for p, _ in mnist_params(smoke, GPU)]
    assert [p["variant"] for p, _ in tfdata_params(smoke, GPU)] == ["to-device", "fed-step"]
    assert len(tfdata_params(smoke, CPU)) == 6


def test_synthetic_data_when_no_file_is_found():
    data = load_mnist(None, 100)
    assert data.source == "synthetic" and data.path is None
    assert data.x.shape == (100, 784) and data.x.dtype == np.float32 and 0 <= data.x.min() <= data.x.max() < 1
    assert set(np.unique(data.y)) <= set(range(10)) and len(np.unique(data.y)) > 1
    again = synthetic_mnist(100)
    np.testing.assert_array_equal(data.y, again.y)  # a fixed seed


def test_real_file_from_the_option_env_or_keras_cache(tmp_path, monkeypatch):
    path = write_mnist(tmp_path / "mnist.npz")
    data = load_mnist(str(path), 5)
    assert data.source == "mnist" and data.path == str(path)
    assert data.x.shape == (5, 784) and data.x.max() <= 1.0
    np.testing.assert_array_equal(data.y, [0, 1, 2, 3, 4])
    monkeypatch.setenv(mnist_data.ENV_VAR, str(path))
    assert find_mnist(None) == path
    monkeypatch.delenv(mnist_data.ENV_VAR)
    monkeypatch.setattr(mnist_data, "KERAS_CACHE", path)
    assert find_mnist(None) == path


def test_a_named_file_that_does_not_exist_is_an_error(tmp_path):
    with pytest.raises(MnistDataError, match=r"MNIST file .*nope.npz does not exist"):
        find_mnist(str(tmp_path / "nope.npz"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is not a zip", r"is not a readable Keras mnist.npz"),
        (b"PK\x03\x04truncated", r"is not a readable Keras mnist.npz"),
    ],
)
def test_a_corrupt_file_is_a_one_line_error_naming_it(tmp_path, content, message):
    path = tmp_path / "mnist.npz"
    path.write_bytes(content)
    with pytest.raises(MnistDataError, match=message) as info:
        read_mnist(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_a_foreign_npz_is_rejected(tmp_path):
    np.savez(tmp_path / "other.npz", x_train=np.zeros((3, 10)), y_train=np.zeros(3))
    with pytest.raises(MnistDataError, match=r"expected x_train \(n, 28, 28\)"):
        read_mnist(tmp_path / "other.npz")
    np.savez(tmp_path / "nolabels.npz", images=np.zeros((3, 28, 28)))
    with pytest.raises(MnistDataError, match="not a readable"):
        read_mnist(tmp_path / "nolabels.npz")


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (None, r"is a single \.npy array, not a Keras mnist\.npz"),
        ({"x_train": np.zeros((3, 28, 28), np.uint8), "y_train": np.array(["a", "b", "c"])}, "got uint8 and <U1"),
        ({"x_train": np.full((3, 28, 28), "z"), "y_train": np.arange(3)}, "expected numeric x_train"),
        ({"x_train": np.zeros((3, 28, 28), np.uint8), "y_train": np.full(3, 0.5)}, "labels outside 0..9"),
    ],
    ids=["npy", "string-labels", "string-images", "fractional-labels"],
)
def test_a_npy_file_or_non_numeric_arrays_are_one_line_errors(tmp_path, arrays, message):
    if arrays is None:
        path = tmp_path / "mnist.npy"
        np.save(path, np.zeros((3, 28, 28), np.uint8))
    else:
        path = tmp_path / "mnist.npz"
        np.savez(path, **arrays)
    with pytest.raises(MnistDataError, match=message) as info:
        read_mnist(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
