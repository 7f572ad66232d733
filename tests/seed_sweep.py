"""The fast suite's learning assertions over 20 seeds: run by hand, never collected by `nox -s tests`.

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python -m pytest tests/seed_sweep.py -q -p no:cacheprovider

The suite's training tests assert that a model learned only where the workload's own check demands it (MNIST and
the polynomial fit: the loss must fall or the case is an error). They run with seed 0; this file reruns the same
test bodies with the model's initial weights, the synthetic data and the batch order drawn from seeds 0..19, to
show the assertions hold for the training, not for one lucky draw of it. (The name does not match `test_*.py`,
so pytest collects it only when it is named on the command line.)
"""

from __future__ import annotations

import functools

import pytest

from bench.workloads import dispatch, mnist_data

SEEDS = range(20)


@pytest.fixture(params=SEEDS, ids=lambda s: f"seed{s}")
def seeded(request, monkeypatch, tmp_path):
    """Synthetic MNIST and every seed the training builders use, moved to this test's seed."""
    seed = request.param
    monkeypatch.setattr(mnist_data, "KERAS_CACHE", tmp_path / "absent.npz")
    monkeypatch.delenv(mnist_data.ENV_VAR, raising=False)
    monkeypatch.setattr(mnist_data, "synthetic_mnist", functools.partial(mnist_data.synthetic_mnist, seed=seed))
    real_order = mnist_data.batch_order
    order = functools.partial(real_order, seed=seed)
    for module in ("bench.backends.torch_mnist", "bench.backends.torch_amp"):
        monkeypatch.setattr(f"{module}.batch_order", order, raising=False)
    noisy = functools.partial(dispatch.polynomial_data, seed=seed)
    for module in ("bench.backends.tf_dispatch", "bench.backends.torch_dispatch"):
        monkeypatch.setattr(f"{module}.polynomial_data", noisy, raising=False)
    try:
        import keras

        real_keras_seed = keras.utils.set_random_seed
        monkeypatch.setattr(keras.utils, "set_random_seed", lambda s: real_keras_seed(s + seed))
    except ImportError:
        pass
    try:
        from bench.backends import torch_models

        monkeypatch.setattr(torch_models, "SEED", seed)
    except ImportError:
        pass
    return seed


@pytest.fixture(scope="module")
def tf_backend():
    pytest.importorskip("tensorflow")
    from bench.backends import load_backend

    return load_backend("tensorflow")


@pytest.fixture(scope="module")
def torch_backend():
    pytest.importorskip("torch")
    from bench.backends import load_backend

    return load_backend("torch")


def test_tf_mnist_amp_float32(seeded, tf_backend, monkeypatch):
    from bench.backends import tf_amp
    from tests import test_tf_training

    monkeypatch.setattr(tf_amp, "EVAL_SAMPLES", 512)  # as the suite's small_eval fixture
    test_tf_training.test_mnist_trains_in_each_precision_and_stays_on_the_device(tf_backend, None, "float32")


def test_tf_mnist(seeded, tf_backend, monkeypatch, tmp_path):
    from tests import test_tensorflow_backend

    test_tensorflow_backend.test_mnist_training_learns_on_synthetic_data(tf_backend, monkeypatch, tmp_path)


@pytest.mark.parametrize("mode", ["eager", "function", "function-loop"])
def test_tf_polynomial_fit(seeded, tf_backend, mode):
    from tests import test_serve_tensorflow

    test_serve_tensorflow.test_the_polynomial_fit_learns_and_counts_its_ops_in_every_mode(
        tf_backend, tf_backend.devices()[0], mode
    )


@pytest.mark.parametrize(("policy", "batch"), [("float32", 32), ("mixed_float16", 16), ("mixed_bfloat16", 32)])
def test_torch_mnist_amp(seeded, torch_backend, policy, batch):
    from tests import test_torch_training

    test_torch_training.test_mnist_learns_under_each_autocast_mode(torch_backend, policy, batch)


def test_torch_polynomial_fit(seeded, torch_backend):
    from tests import test_serve_torch

    test_serve_torch.test_the_polynomial_fit_learns_and_counts_its_aten_ops(torch_backend, torch_backend.devices()[0])
