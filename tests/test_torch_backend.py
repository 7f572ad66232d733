"""The real torch backend on this machine's CPU, and the torch smoke profile end to end."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bench.backends import load_backend  # noqa: E402
from bench.backends.base import PlacementError  # noqa: E402
from bench.backends.torch_backend import suite_device_name  # noqa: E402
from bench.backends.torch_mnist import batch_order  # noqa: E402
from bench.cases import make_cases  # noqa: E402
from bench.devices import Device  # noqa: E402
from bench.profiles import get_profile  # noqa: E402
from bench.workloads import WORKLOADS  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def backend():
    """The torch backend, on one intra-op thread while this module runs (torch's own count comes back after)."""
    # Two busy OpenMP threads on a shared 2-core machine (another test worker on the other core) spin and wait for
    # each other: the same steps took several times the CPU. These tests check behaviour, not speed.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield load_backend("torch")
    torch.set_num_threads(threads)


def smoke_case(backend, workload, label):
    cpu = backend.devices()[0]
    (case,) = [c for c in make_cases(WORKLOADS[workload], get_profile("smoke"), [cpu]) if c.id.endswith(label)]
    return case


@pytest.mark.parametrize("kernel", ["copy", "triad"])
def test_membw_writes_into_its_preallocated_output(backend, kernel):
    from bench.cases import Case
    from bench.workloads.membw import membw_check

    case = Case(WORKLOADS["membw"], backend.devices()[0], {"kernel": kernel, "bytes": 2**20, "dtype": "float32"})
    prepared = backend.build(case)
    prepared.call()
    facts = prepared.facts(1e-3)
    assert facts["verified"] and facts["buffers"] == "preallocated"
    assert facts["fresh_buffer"] is True and facts["in_place"] is True and membw_check(facts) is None


def test_devices_and_gpu_absence_reason(backend):
    devices = backend.devices()
    assert (devices[0].backend, devices[0].name, devices[0].kind) == ("torch", "CPU:0", "cpu")
    assert [d.name for d in devices[1:]] == [f"GPU:{i}" for i in range(torch.cuda.device_count())]
    if not torch.cuda.is_available():
        assert "CPU-only build" in backend.gpu_absence_reason() or "no GPU visible" in backend.gpu_absence_reason()
        assert backend.sync_method == "none (CPU ops are synchronous)"
    else:
        assert backend.sync_method == "torch.cuda.synchronize"


@pytest.mark.parametrize(
    ("placement", "name"), [("cpu", "CPU:0"), ("cuda:0", "GPU:0"), ("cuda:3", "GPU:3"), ("cuda", "GPU:2")]
)
def test_torch_devices_map_to_suite_names(placement, name):
    assert suite_device_name(placement, lambda: 2) == name


def test_matmul_is_made_and_checked_on_the_cpu(backend):
    case = smoke_case(backend, "matmul", "n128-float32")
    out = backend.build(case).call()
    backend.sync()
    assert backend.check_placement(out, case.device) == "cpu"
    assert out.shape == (128, 128) and out.dtype == torch.float32
    pretend_gpu = Device("torch", "GPU:0", "gpu", "pretend")
    with pytest.raises(PlacementError, match=r"asked for GPU:0 but the output is on cpu"):
        backend.check_placement(out, pretend_gpu)


def test_transfer_on_the_cpu_shares_memory_with_numpy(backend):
    prepared = backend.build(smoke_case(backend, "transfer", "d2h-pageable-1MiB"))
    tensor, array = prepared.call()
    assert backend.placement((tensor, array)) == "cpu" and np.shares_memory(tensor.numpy(), array)
    assert prepared.facts(1.0)["pinned"] is False
    assert prepared.facts(1.0)["zero_copy"] is True
    assert backend.build(smoke_case(backend, "transfer", "h2d-pageable-1MiB")).facts(1.0)["zero_copy"] is True


def test_out_of_memory_is_recognised(backend):
    assert backend.is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert backend.is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert not backend.is_out_of_memory(RuntimeError("shape mismatch"))
    assert not backend.is_out_of_memory(ValueError("x"))


def test_batch_order_shuffles_each_epoch_and_drops_the_remainder():
    order = batch_order(n=10, batches=7, batch_size=3)
    assert order.shape == (7, 3)
    epochs = [order[0:3].ravel(), order[3:6].ravel()]  # 10 // 3 = 3 full batches per epoch
    assert all(len(set(e)) == 9 and set(e) <= set(range(10)) for e in epochs)
    assert not np.array_equal(epochs[0], epochs[1])
    assert np.array_equal(order, batch_order(n=10, batches=7, batch_size=3))


# The smoke profile at tiny sizes and few rounds, loaded as the run's conftest: the test proves that every
# workload runs end to end on torch and that the file is right, not what the smoke profile's own sizes cost
# (bench/profiles.py: a Profile's `sizes` replaces a workload's own).
TINY_SMOKE = """
from dataclasses import replace

from bench.profiles import PROFILES
from bench.workloads import WORKLOADS

smoke = PROFILES["smoke"]


def tiny(name, **fields):
    return replace(WORKLOADS[name].sizes_for(smoke), **fields)


attention = WORKLOADS["attention"].sizes_for(smoke)
PROFILES["smoke"] = replace(
    smoke,
    warmup_calls=1,
    min_rounds=2,
    max_rounds=3,
    target_seconds=0.01,
    sizes={
        "matmul": tiny("matmul", sizes=(64, 128, 256), cpu_max=128),
        # mnist, mnist_amp and scaling keep their steps: they check that the loss falls (fewer steps can raise it)
        "mnist_batch": tiny("mnist_batch", batches_cpu=(64, 256), samples_per_call=256, calls=3),  # finite loss only
        "allreduce": tiny("allreduce", sizes=(8, 512), calls=(1, 2)),
        "attention": {**attention, "cpu": replace(attention["cpu"], seq_lens=(16, 32))},
        "membw": (1, 2),
        "transfer": (1, 2),
        "inference": tiny("inference", requests=5, batch=8),
        "dispatch": 4,
    },
)
"""


@pytest.mark.heavy
def test_torch_smoke_profile_end_to_end_on_the_cpu(pytester, monkeypatch):
    """Every torch smoke case on the CPU, at tiny sizes: the real benchmark files, the plugin, results right."""
    monkeypatch.delenv("DEVICEBENCH_MNIST", raising=False)
    monkeypatch.setenv("HOME", str(pytester.path))  # no ~/.keras MNIST: the synthetic data, always
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    # One intra-op thread: on a shared 2-core runner torch's OpenMP pool can be 100x slower when the other core
    # is busy. This test checks behaviour, not speed.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    for path in sorted((REPO / "bench" / "benchmarks").glob("test_*.py")):
        pytester.makepyfile(**{path.stem: path.read_text()})
    pytester.makeconftest(TINY_SMOKE)
    result = pytester.runpytest_subprocess(
        "-p", "bench.plugin", "--backend", "torch", "--profile", "smoke", "--results-dir", "results", timeout=900
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("errors", 0) == 0, result.stdout.str()[-3000:]
    data = json.loads((pytester.path / "results" / "latest" / "benchmarks.json").read_text())
    assert len(data["benchmarks"]) == outcomes["passed"]
    extras = [b["extra_info"] for b in data["benchmarks"]]
    assert {e["backend"] for e in extras} == {"torch"}
    assert {e["placement"] for e in extras} == {"cpu"}
    assert {e["sync"] for e in extras} == {"none (CPU ops are synchronous)"}
    assert {e["workload"] for e in extras} >= {
        "matmul",
        "mnist",
        "transfer",
        "membw",
        "inference",
        "checkpoint",
        "dispatch",
    }
    mnist = {e["params"]["mode"]: e for e in extras if e["workload"] == "mnist"}
    assert set(mnist) == {"eager", "compile"}
    for e in mnist.values():
        assert e["data_source"] == "synthetic"
        assert e["final_loss"] < e["initial_loss"]
    info = data["machine_info"]["devicebench"]["backends"]["torch"]
    assert info["version"] == torch.__version__ and "cudnn_version" in info
    kinds = {(s["workload"], s["kind"]) for s in data["devicebench"]["skipped"]}
    # inference: smoke leaves torch.compile of ResNet-50 out; without torchvision ResNet-50 is "unavailable"
    training = {("mnist_amp", "profile"), ("resnet50_train", "profile"), ("resnet50_train", "unavailable")}
    assert kinds <= {
        ("matmul", "profile"),
        ("matmul", "unsupported"),  # FP8 needs a GPU with FP8 tensor cores
        ("tfdata", "profile"),
        ("inference", "profile"),
        ("inference", "unavailable"),
        ("transfer", "profile"),
        *training,
    }


def test_the_cold_cache_flush_writes_a_buffer_at_least_twice_the_cache(backend):
    from bench.backends.base import MIN_FLUSH_BYTES, cpu_cache_bytes

    cpu = backend.devices()[0]
    flush = backend.cache_flush(cpu)
    assert flush.bytes >= max(MIN_FLUSH_BYTES, 2 * (cpu_cache_bytes() or 0))
    flush.write()
    assert backend.device_timer(cpu) is None  # CUDA events only on GPUs
