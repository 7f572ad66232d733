"""The pytest plugin end to end (pytester, in-process) on a scripted fake backend."""

import dataclasses
import json

import pynvml
import pytest

import bench.backends
from bench.nvml import nvml_available
from bench.nvml_fake import FakeGpu, FakeNvml
from bench.workloads import MATMUL, WORKLOADS
from tests import fake_backend

BENCH_FILE = """
import pytest

@pytest.mark.workload("matmul")
def test_matmul(devicebench_run):
    devicebench_run()
"""


@pytest.fixture
def suite(pytester, monkeypatch):
    """A pytester directory with the matmul benchmark file and the fake backend registered."""
    monkeypatch.setitem(bench.backends.BACKEND_MODULES, "fake", ("tests.fake_backend", "FakeBackend", "fake"))
    monkeypatch.setitem(WORKLOADS, "matmul", dataclasses.replace(MATMUL, backends=("fake",)))
    monkeypatch.setattr(fake_backend, "FAULTS", {"misplace_on": None, "oom_from_n": None, "gpus": 2})
    pytester.makepyfile(test_matmul=BENCH_FILE)

    def run(*args):
        result = pytester.runpytest("-p", "bench.plugin", "--backend", "fake", "--results-dir", "results", *args)
        return result

    return run


def load(pytester):
    return json.loads((pytester.path / "results" / "latest" / "benchmarks.json").read_text())


def case_ids(data):
    return sorted(b["params"]["devicebench_case"] for b in data["benchmarks"])


def test_devices_filter_the_cases(suite, pytester):
    result = suite("--profile", "smoke", "--devices", "CPU:0,GPU:1", "-k", "float32")
    result.assert_outcomes(passed=7, skipped=1, deselected=8)
    ids = case_ids(load(pytester))
    assert {i.split("-")[1] for i in ids} == {"CPU:0", "GPU:1"}


def test_unknown_device_is_a_usage_error_naming_the_devices(suite):
    result = suite("--devices", "GPU:5")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--devices: unknown device 'GPU:5'; devices: CPU:0, GPU:0, GPU:1*"])


def test_no_gpu_means_no_gpu_cases_and_the_header_says_why(suite, monkeypatch):
    monkeypatch.setitem(fake_backend.FAULTS, "gpus", 0)
    result = suite("--profile", "smoke")
    result.stdout.fnmatch_lines(["*note: fake: no fake GPU scripted*"])
    result.assert_outcomes(passed=3, skipped=1)


def test_extra_info_and_machine_info_carry_the_contract(suite, pytester):
    suite("--profile", "smoke", "--devices", "GPU:0", "-k", "n128-float32").assert_outcomes(passed=1)
    data = load(pytester)
    (b,) = data["benchmarks"]
    extra = b["extra_info"]
    assert {k: extra[k] for k in ("workload", "backend", "device", "device_kind", "device_name")} == {
        "workload": "matmul",
        "backend": "fake",
        "device": "GPU:0",
        "device_kind": "gpu",
        "device_name": "Fake GPU 0",
    }
    assert extra["params"] == {"n": 128, "dtype": "float32"}
    assert extra["throughput_unit"] == "GFLOP/s"
    assert extra["throughput"] == pytest.approx(2 * 128**3 / b["stats"]["median"] / 1e9)
    assert extra["sync"] == "fake.sync"
    assert extra["placement"] == "GPU:0"
    assert extra["precision"] == {"dtype": "float32", "tf32": False}
    suite("--profile", "smoke", "--devices", "GPU:0", "-k", "n128-float32", "--tf32", "on")
    assert load(pytester)["benchmarks"][0]["extra_info"]["precision"]["tf32"] is True
    assert extra["profile"] == "smoke"
    assert extra["fake_fact"] == 42
    assert extra["warmup"]["calls"] == 2
    assert len(b["stats"]["data"]) == b["stats"]["rounds"] >= 5
    assert b["group"] == "matmul n128-float32 fake"
    info = data["machine_info"]["devicebench"]
    assert info["backends"]["fake"]["version"] == "0.0-fake"
    assert [d["name"] for d in info["devices"]] == ["GPU:0"]
    assert info["devices"][0]["memory_bytes"] == 2**30
    assert {"cpu_model", "cpu_cores", "container_image"} <= info.keys()
    assert data["devicebench"]["profile"] == "smoke"


def test_a_silent_fallback_to_the_cpu_is_an_error_not_a_number(suite, pytester, monkeypatch):
    monkeypatch.setitem(fake_backend.FAULTS, "misplace_on", "GPU:1")
    result = suite("--profile", "smoke", "--devices", "GPU:1", "-k", "n128-float32")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*PlacementError: asked for GPU:1 but the output is on CPU:0*"])
    data = load(pytester)
    assert data["benchmarks"] == []
    (skip,) = data["devicebench"]["skipped"]
    assert skip["kind"] == "error" and "PlacementError" in skip["reason"]


def test_out_of_memory_is_a_recorded_skip_and_the_run_goes_on(suite, pytester, monkeypatch):
    monkeypatch.setitem(fake_backend.FAULTS, "oom_from_n", 1024)
    result = suite("--profile", "smoke", "--devices", "GPU:0", "-k", "float32")
    result.assert_outcomes(passed=2, skipped=2)
    data = load(pytester)
    assert case_ids(data) == ["fake-GPU:0-n128-float32", "fake-GPU:0-n512-float32"]
    oom = [s for s in data["devicebench"]["skipped"] if s["kind"] == "oom"]
    assert [(s["params"]["n"], s["device"]) for s in oom] == [(1024, "GPU:0"), (2048, "GPU:0")]
    assert oom[0]["reason"] == (
        "out of memory on GPU:0: FakeOutOfMemory: OOM when allocating tensor with shape[1024,1024]"
    )


def test_profile_selection_and_profile_skips_are_recorded(suite, pytester):
    suite("--profile", "standard", "--devices", "cpu").assert_outcomes(passed=6)
    assert {b["extra_info"]["params"]["n"] for b in load(pytester)["benchmarks"]} == {128, 256, 512, 1024, 2048, 4096}
    suite("--profile", "smoke", "--devices", "cpu").assert_outcomes(passed=3, skipped=1)
    (skip,) = load(pytester)["devicebench"]["skipped"]
    assert skip == {
        "name": "test_matmul[fake-CPU:0-n2048-float32]",
        "workload": "matmul",
        "backend": "fake",
        "device": "CPU:0",
        "device_kind": "cpu",
        "params": {"n": 2048, "dtype": "float32"},
        "reason": "profile smoke: n=2048 is above its CPU limit n=1024",
        "kind": "profile",
    }


def test_unknown_profile_and_backend_are_usage_errors(suite):
    result = suite("--profile", "huge")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown profile 'huge'; profiles: smoke, standard, full*"])
    result = suite("--backend", "mxnet")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_run_folder_layout_latest_link_and_baseline(suite, pytester):
    suite("--profile", "smoke", "--devices", "cpu", "-k", "n128", "--save-baseline", "main")
    results = pytester.path / "results"
    latest = results / "latest"
    assert latest.is_symlink()
    name = latest.resolve().name
    assert len(name.split("-")[0]) == 8 and len(name.split("-")[1]) == 6
    assert (results / "baselines" / "main" / "benchmarks.json").exists()


def test_a_corrupt_mnist_file_is_a_usage_error_naming_it(suite, pytester):
    (pytester.path / "bad.npz").write_bytes(b"not a zip")
    result = suite("--mnist", "bad.npz")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--mnist: bad.npz is not a readable Keras mnist.npz*"])


@pytest.fixture
def no_nvml_cache():
    nvml_available.cache_clear()
    yield
    nvml_available.cache_clear()


def test_nvml_samples_every_case_and_maps_gpus_by_bus_id(suite, pytester, monkeypatch, no_nvml_cache):
    # NVML lists the GPUs by bus id; the backend's GPU:0 (bus 3B) is NVML's index 1 here.
    gpus = [
        FakeGpu(name="Fake GPU 1", uuid="GPU-b", pci_bus_id="00000000:3C:00.0", mem_used_mib=100.0),
        FakeGpu(name="Fake GPU 0", uuid="GPU-a", pci_bus_id="00000000:3B:00.0", mem_used_mib=2048.0, util_gpu=90),
    ]
    FakeNvml(gpus).install(monkeypatch.setattr)
    result = suite("--profile", "smoke", "--devices", "CPU:0,GPU:0", "-k", "n128-float32")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*NVML on: 2 GPUs, driver 550.54.15, sampling every 20 ms*"])
    data = load(pytester)
    for b in data["benchmarks"]:  # CPU cases are sampled too: a busy GPU during a CPU case is worth knowing
        summary = b["extra_info"]["nvml"]
        assert set(summary) == {"0", "1"}
        assert summary["1"]["peak_mem_mib"] == pytest.approx(2048.0)
    info = data["machine_info"]["devicebench"]
    assert info["nvidia_driver"] == "550.54.15"
    assert {d["name"]: d["nvml_index"] for d in info["devices"]} == {"CPU:0": None, "GPU:0": 1}
    assert data["devicebench"]["nvml"]["enabled"] is True
    csv = (pytester.path / "results" / "latest" / "nvml.csv").read_text().splitlines()
    assert csv[0].startswith("t_s,case,gpu_index,gpu_uuid,mem_used_mib")
    assert len(csv) > 4


def test_without_nvml_the_run_goes_on_and_says_why(suite, pytester, monkeypatch, no_nvml_cache):
    FakeNvml([], init_error=pynvml.NVMLError_LibraryNotFound()).install(monkeypatch.setattr)
    result = suite("--profile", "smoke", "--devices", "cpu", "-k", "n128")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*NVML off: *"])
    data = load(pytester)
    assert "nvml" not in data["benchmarks"][0]["extra_info"]
    assert data["machine_info"]["devicebench"]["nvml"]["enabled"] is False
    assert not (pytester.path / "results" / "latest" / "nvml.csv").exists()
    suite("--profile", "smoke", "--devices", "cpu", "-k", "n128", "--no-nvml").stdout.fnmatch_lines(
        ["*NVML off: turned off by --no-nvml*"]
    )
