"""The real TensorFlow backend on this machine's CPU (kept few: importing TF takes seconds)."""

import json
from pathlib import Path

import pytest

tf = pytest.importorskip("tensorflow")

from bench.backends import load_backend  # noqa: E402
from bench.backends.base import PlacementError  # noqa: E402
from bench.cases import Case, make_cases  # noqa: E402
from bench.profiles import get_profile  # noqa: E402
from bench.workloads.matmul import MATMUL  # noqa: E402
from bench.workloads.membw import MEMBW, membw_check  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def backend():
    return load_backend("tensorflow")


def test_devices_and_gpu_absence_reason(backend):
    devices = backend.devices()
    assert devices[0].name == "CPU:0" and devices[0].kind == "cpu"
    if not any(d.kind == "gpu" for d in devices):
        assert "CPU-only build" in backend.gpu_absence_reason() or "no GPU visible" in backend.gpu_absence_reason()


@pytest.mark.parametrize("kernel", ["copy", "triad"])
def test_membw_writes_into_its_preallocated_variable_without_aliasing_the_input(backend, kernel):
    # an eager dst.assign(a) would make the variable share a's buffer (no copy at all): the facts must catch that
    cpu = backend.devices()[0]
    case = Case(MEMBW, cpu, {"kernel": kernel, "bytes": 2**20, "dtype": "float32"})
    prepared = backend.build(case)
    prepared.call()
    backend.sync()
    facts = prepared.facts(1e-3)
    assert facts["verified"] and facts["buffers"] == "preallocated"
    assert facts["fresh_buffer"] is True and facts["in_place"] is True
    assert membw_check(facts) is None
    assert "new buffer" in membw_check({**facts, "in_place": False})


def test_matmul_is_made_and_checked_on_the_cpu(backend):
    cpu = backend.devices()[0]
    (case,) = [c for c in make_cases(MATMUL, get_profile("smoke"), [cpu]) if c.params["n"] == 128]
    out = backend.build(case).call()
    backend.sync()
    assert backend.check_placement(out, cpu) == "/job:localhost/replica:0/task:0/device:CPU:0"
    assert out.shape == (128, 128) and out.dtype == tf.float32
    gpu_like = cpu.__class__("tensorflow", "GPU:0", "gpu", "pretend")
    with pytest.raises(PlacementError, match=r"asked for GPU:0 but the output is on .*CPU:0"):
        backend.check_placement(out, gpu_like)


def test_mnist_training_learns_on_synthetic_data(backend, monkeypatch, tmp_path):
    from bench.workloads import mnist_data
    from bench.workloads.mnist import MNIST

    monkeypatch.setattr(mnist_data, "KERAS_CACHE", tmp_path / "absent.npz")
    monkeypatch.delenv(mnist_data.ENV_VAR, raising=False)
    cpu = backend.devices()[0]
    params = {"mode": "function", "batch_size": 64, "steps_per_call": 40, "calls": 4}
    case = make_cases(MNIST, get_profile("smoke"), [cpu])[0].__class__(MNIST, cpu, params)
    prepared = backend.build(case)
    for _ in range(params["calls"]):
        loss = prepared.call()
    assert backend.check_placement(loss, cpu).endswith("CPU:0")
    facts = prepared.facts(1.0)
    assert facts["data_source"] == "synthetic"
    assert facts["final_loss"] < 0.8 * facts["initial_loss"]
    assert facts["final_accuracy"] > 0.3  # chance is 0.1


def test_out_of_memory_is_recognised(backend):
    assert backend.is_out_of_memory(tf.errors.ResourceExhaustedError(None, None, "OOM"))
    assert not backend.is_out_of_memory(ValueError("x"))


def test_suite_end_to_end_on_the_cpu(pytester, backend):
    # In this process (TensorFlow is imported once, above): a subprocess would pay its import again.
    pytester.makepyfile(test_matmul=(REPO / "bench" / "benchmarks" / "test_matmul.py").read_text())
    result = pytester.runpytest("-p", "bench.plugin", "--profile", "smoke", "--results-dir", "results", "-k", "n128")
    result.assert_outcomes(passed=1)
    data = json.loads((pytester.path / "results" / "latest" / "benchmarks.json").read_text())
    extra = data["benchmarks"][0]["extra_info"]
    assert extra["sync"] == "tf.test.experimental.sync_devices"
    assert extra["placement"].endswith("device:CPU:0")
    assert extra["backend_version"] == tf.__version__
    assert extra["threads"]["cpu_count"] >= 1
    info = data["machine_info"]["devicebench"]["backends"]["tensorflow"]
    assert info["version"] == tf.__version__ and "built_with_cuda" in info


def test_the_cold_cache_flush_writes_a_buffer_at_least_twice_the_cache(backend):
    from bench.backends.base import MIN_FLUSH_BYTES, cpu_cache_bytes

    flush = backend.cache_flush(backend.devices()[0])
    assert flush.bytes >= max(MIN_FLUSH_BYTES, 2 * (cpu_cache_bytes() or 0))
    flush.write()
    flush.write()
    backend.sync()
