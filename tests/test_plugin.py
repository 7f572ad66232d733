"""The pytest plugin end to end (pytester, in-process) on the scripted `fake` backend (tests/fake_backend.py)."""

import dataclasses
import functools
import json
import os
from datetime import UTC, datetime

import numpy  # imported once here: pytester unloads what a run imports, and numpy cannot load twice
import pynvml
import pytest
import scipy.stats  # noqa: F401 - the same for scipy (the plugin uses it for the median's interval)

import bench.backends
import bench.drift
import bench.run_folder
import bench.session
import results_format
from bench.nvml import nvml_available
from bench.workloads import WORKLOADS
from tests.fake_nvml import FakeGpu, FakeNvml

BENCH_FILES = {
    name: f"""
import pytest

@pytest.mark.workload("{name.removeprefix("test_")}")
def {name}(devicebench_run):
    devicebench_run()
"""
    for name in ("test_matmul", "test_mnist")
}
# Writes what benchmarks.json held before each case started, to show every finished case is on disk at once.
PEEK_CONFTEST = """
import json, pathlib

def pytest_runtest_logstart(nodeid, location):
    latest = pathlib.Path("results/latest/benchmarks.json")
    seen = json.loads(latest.read_text()) if latest.exists() else None
    state = None if seen is None else [seen["devicebench"]["run"]["state"], [b["name"] for b in seen["benchmarks"]]]
    with open("seen.jsonl", "a") as out:
        out.write(json.dumps([nodeid.split("::")[-1], state]) + "\\n")
"""


@pytest.fixture
def suite(pytester, monkeypatch):
    """A pytester folder with the matmul and MNIST benchmark files and the `fake` backend registered."""
    monkeypatch.setitem(bench.backends.BACKEND_MODULES, "fake", ("tests.fake_backend", "ScriptedBackend", "fake"))
    for name in ("matmul", "mnist"):
        monkeypatch.setitem(WORKLOADS, name, dataclasses.replace(WORKLOADS[name], backends=("fake",)))
    for variable in [v for v in os.environ if v.startswith("DEVICEBENCH_")]:
        monkeypatch.delenv(variable)
    monkeypatch.setenv("DEVICEBENCH_HOST", "testbox")
    # The drift reference, real but 3 rounds instead of 50 at each end of a run: no test here judges drift, and
    # 2 x 53 products of 2**20 floats were a second of CPU in every run.
    monkeypatch.setattr(bench.session, "time_reference", functools.partial(bench.drift.time_reference, rounds=3))
    pytester.makepyfile(**BENCH_FILES)

    def run(*args, nvml=False):
        options = ["-p", "bench.plugin", "--backend", "fake", "--benchmark-timer", "tests.fake_backend.now"]
        options += ["--results-dir", "results", *([] if nvml else ["--no-nvml"])]
        # no_reraise_ctrlc: a run stopped by a signal ends as interrupted; it must not stop this test session too
        return pytester.runpytest(*options, *args, no_reraise_ctrlc=True)

    return run


def load(pytester):
    return json.loads((pytester.path / "results" / "latest" / "benchmarks.json").read_text())


def case_ids(data):
    return sorted(b["params"]["devicebench_case"] for b in data["benchmarks"])


def run_folders(pytester):
    results = pytester.path / "results"
    return sorted(p.name for p in results.iterdir() if p.is_dir() and not p.is_symlink()) if results.exists() else []


def test_devices_filter_the_cases(suite, pytester):
    result = suite("--profile", "smoke", "--devices", "CPU:0,GPU:1", "-k", "matmul and float32")
    result.assert_outcomes(passed=7, skipped=1, deselected=22)
    ids = case_ids(load(pytester))
    assert {i.split("-")[1] for i in ids} == {"CPU:0", "GPU:1"}


def test_unknown_device_is_a_usage_error_naming_the_devices(suite):
    result = suite("--devices", "GPU:5")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--devices: unknown device 'GPU:5'; devices: CPU:0, GPU:0, GPU:1*"])


def test_no_gpu_means_no_gpu_cases_and_the_header_says_why(suite, monkeypatch):
    monkeypatch.setenv("DEVICEBENCH_FAKE_GPUS", "0")
    result = suite("--profile", "smoke", "-k", "matmul")
    result.stdout.fnmatch_lines(["*note: fake: no fake GPU scripted*"])
    result.assert_outcomes(passed=3, skipped=2, deselected=4)


def test_extra_info_and_machine_info_carry_the_contract(suite, pytester):
    suite("--profile", "smoke", "--devices", "GPU:0", "-k", "n128-float32").assert_outcomes(passed=1, deselected=20)
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
    assert extra["placement"] == "/job:localhost/replica:0/task:0/device:GPU:0"
    assert extra["precision"] == {"dtype": "float32", "tf32": False}
    assert extra["allocator_memory"] == {"allocator": "fake", "peak_bytes": 3 * 128 * 128 * 4}
    assert extra["profile"] == "smoke"
    assert extra["warmup"]["calls"] == 2
    assert len(b["stats"]["data"]) == b["stats"]["rounds"] == extra["timing"]["rounds"] >= 5
    assert b["group"] == "matmul n128-float32 fake"
    assert b["options"]["timer"] == "now"  # the virtual clock timed the rounds
    info = data["machine_info"]["devicebench"]
    assert info["backends"]["fake"]["version"] == "0.0-fake"
    assert [d["name"] for d in info["devices"]] == ["GPU:0"]
    assert info["devices"][0]["memory_bytes"] == 2**30
    assert {"cpu_model", "cpu_cores", "container_image"} <= info.keys()
    block = data["devicebench"]
    assert (block["schema_version"], block["profile"], list(block["workloads"])) == (3, "smoke", ["matmul"])
    spec = block["workloads"]["matmul"]  # schema 3: the file describes its workloads for the reader
    assert (spec["version"], spec["params"], spec["throughput_unit"]) == (1, ["n", "dtype"], "GFLOP/s")
    assert extra["case_label"] == "n=128 float32"
    assert block["run"]["state"] == "complete" and block["run"]["measured"] == 1
    suite("--profile", "smoke", "--devices", "GPU:0", "-k", "n128-float32", "--tf32", "on")
    assert load(pytester)["benchmarks"][0]["extra_info"]["precision"]["tf32"] is True


def test_mnist_cases_record_learning_and_the_books_epoch(suite, pytester):
    suite("--profile", "smoke", "--devices", "cpu", "-k", "mnist and function").assert_outcomes(passed=1)
    (b,) = load(pytester)["benchmarks"]
    extra = b["extra_info"]
    assert extra["params"] == {"mode": "function", "batch_size": 64, "steps_per_call": 30, "calls": 6}
    assert b["stats"]["rounds"] == 5 and extra["warmup"]["calls"] == 1
    assert extra["final_loss"] < extra["initial_loss"] and 0 < extra["final_accuracy"] < 1
    assert extra["data_source"] == "synthetic"
    assert extra["mnist_epoch_s_estimate"] == pytest.approx(b["stats"]["median"] * 938 / 30)
    assert extra["one_time_cost_s"] > 1.0  # the scripted tracing of the first call


def test_a_silent_fallback_to_the_cpu_is_an_error_not_a_number(suite, pytester, monkeypatch):
    monkeypatch.setenv("DEVICEBENCH_FAKE_FAULTS", "misplace_on=GPU:1")
    result = suite("--profile", "smoke", "--devices", "CPU:0,GPU:1", "-k", "n128-float32")
    result.assert_outcomes(passed=1, failed=1, deselected=28)
    result.stdout.fnmatch_lines(["*PlacementError: asked for GPU:1 but the output is on /job:*/device:CPU:0*"])
    data = load(pytester)
    assert case_ids(data) == ["fake-CPU:0-n128-float32"]
    (skip,) = data["devicebench"]["skipped"]
    assert skip["kind"] == "error" and "PlacementError" in skip["reason"]


def test_out_of_memory_is_a_recorded_skip_and_the_run_goes_on(suite, pytester, monkeypatch):
    monkeypatch.setenv("DEVICEBENCH_FAKE_FAULTS", "oom_from_n=1024")
    result = suite("--profile", "smoke", "--devices", "GPU:0", "-k", "matmul and float32")
    result.assert_outcomes(passed=2, skipped=2, deselected=17)
    data = load(pytester)
    assert case_ids(data) == ["fake-GPU:0-n128-float32", "fake-GPU:0-n512-float32"]
    oom = [s for s in data["devicebench"]["skipped"] if s["kind"] == "oom"]
    assert [(s["params"]["n"], s["device"]) for s in oom] == [(1024, "GPU:0"), (2048, "GPU:0")]
    assert oom[0]["reason"] == (
        "out of memory on GPU:0: FakeOutOfMemory: OOM when allocating tensor with shape[1024,1024] and type float "
        "on /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc"
    )


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("nan_loss_on=*function*", "training diverged: the final loss is nan"),
        ("fail_after_timing_on=*function*", "RuntimeError: scripted failure after the timed rounds of"),
    ],
    ids=["nan-loss", "exception-after-timing"],
)
def test_a_case_that_fails_after_timing_is_an_error_not_a_number(suite, pytester, monkeypatch, fault, reason):
    monkeypatch.setenv("DEVICEBENCH_FAKE_FAULTS", fault)
    result = suite("--profile", "smoke", "--devices", "cpu", "-k", "mnist and (function or eager)")
    result.assert_outcomes(passed=1, failed=1, deselected=7)
    data = results_format.read(pytester.path / "results" / "latest")
    assert [b.name for b in data.benchmarks] == ["test_mnist[fake-CPU:0-eager-b64-s30]"]
    (skip,) = data.devicebench.skipped
    assert (skip.name, skip.kind) == ("test_mnist[fake-CPU:0-function-b64-s30]", "error")
    assert reason in skip.reason and "\n" not in skip.reason
    assert data.devicebench.run.state == "complete"


def test_profile_selection_and_profile_skips_are_recorded(suite, pytester):
    suite("--profile", "standard", "--devices", "cpu", "-k", "matmul").assert_outcomes(
        passed=6, skipped=1, deselected=4
    )
    assert {b["extra_info"]["params"]["n"] for b in load(pytester)["benchmarks"]} == {128, 256, 512, 1024, 2048, 4096}
    suite("--profile", "smoke", "--devices", "cpu", "-k", "matmul").assert_outcomes(passed=3, skipped=2, deselected=4)
    skip, fp8 = load(pytester)["devicebench"]["skipped"]
    assert (fp8["params"], fp8["kind"]) == ({"n": 1024, "dtype": "float8_e4m3fn"}, "unsupported")  # no FP8 on CPUs
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
    day, clock, host = latest.resolve().name.split("-")
    assert (len(day), len(clock), host) == (8, 6, "testbox")
    window = results / "baselines" / "main"
    assert [p.name for p in window.iterdir()] == [latest.resolve().name]  # the window's first run
    assert results_format.read(window / latest.resolve().name).complete


def test_save_baseline_keeps_a_window_of_the_last_k_runs(suite, pytester):
    for _ in range(3):
        suite("--profile", "smoke", "--devices", "cpu", "-k", "n128", "--save-baseline", "main", "--baseline-window=2")
    window = pytester.path / "results" / "baselines" / "main"
    runs = sorted(p.name for p in (pytester.path / "results").iterdir() if p.name not in ("baselines", "latest"))
    assert sorted(p.name for p in window.iterdir()) == runs[-2:]  # the two newest; nothing hidden left behind


def test_a_failed_baseline_save_is_one_line_and_a_non_zero_exit(suite, pytester):
    (pytester.path / "results").mkdir()
    (pytester.path / "results" / "baselines").write_text("not a folder")
    result = suite("--profile", "smoke", "--devices", "cpu", "-k", "n128", "--save-baseline", "main")
    assert result.ret != 0
    lines = [line for line in result.stderr.lines if "devicebench: error" in line]
    assert len(lines) == 1 and "cannot save baseline" in lines[0], result.stderr.str()
    latest = pytester.path / "results" / "latest"
    assert results_format.read(latest).complete  # the run itself is kept


def test_every_finished_case_is_on_disk_before_the_next_starts(suite, pytester):
    pytester.makeconftest(PEEK_CONFTEST)
    suite("--profile", "smoke", "--devices", "cpu", "-k", "matmul").assert_outcomes(passed=3, skipped=2, deselected=4)
    seen = [json.loads(line) for line in (pytester.path / "seen.jsonl").read_text().splitlines()]
    names = [f"test_matmul[fake-CPU:0-n{n}-float32]" for n in (128, 512, 1024, 2048)]
    assert (
        seen
        == [
            [names[0], None],  # no folder before the first case has finished
            [names[1], ["running", names[:1]]],
            [names[2], ["running", names[:2]]],
            [names[3], ["running", names[:3]]],
            ["test_matmul[fake-CPU:0-n1024-float8_e4m3fn]", ["running", names[:3]]],  # after a skip: still three
        ]
    )
    assert load(pytester)["devicebench"]["run"]["state"] == "complete"


def test_sigterm_mid_run_keeps_the_finished_cases_and_says_interrupted(suite, pytester, monkeypatch):
    monkeypatch.setenv("DEVICEBENCH_FAKE_FAULTS", "signal=SIGTERM@3")  # during the third case built
    result = suite("--profile", "smoke", "--devices", "cpu", "-k", "matmul")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*devicebench results: *(INCOMPLETE: stopped by SIGTERM*; 2 finished cases kept)*"])
    data = results_format.read(pytester.path / "results" / "latest")
    assert (data.devicebench.run.state, data.complete, data.devicebench.run.measured) == ("interrupted", False, 2)
    assert data.devicebench.run.reason == "stopped by SIGTERM (timeout, docker stop or a cancelled CI job)"
    assert [b.name for b in data.benchmarks] == [
        "test_matmul[fake-CPU:0-n128-float32]",
        "test_matmul[fake-CPU:0-n512-float32]",
    ]
    assert data.devicebench.run.ended is not None


def test_sigterm_before_the_first_case_finishes_writes_no_folder_and_says_why(suite, pytester, monkeypatch):
    monkeypatch.setenv("DEVICEBENCH_FAKE_FAULTS", "signal=SIGTERM@1")  # during the first case built
    result = suite("--profile", "smoke", "--devices", "cpu", "-k", "matmul")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "devicebench: no case was measured (the run was stopped by SIGTERM (timeout, docker stop or a "
            "cancelled CI job) before its first case finished); no run folder was written"
        ]
    )
    assert not (pytester.path / "results" / "latest").exists()


def test_a_run_that_measures_nothing_writes_no_folder_and_fails(suite, pytester, monkeypatch):
    suite("--profile", "smoke", "--devices", "cpu", "-k", "n128-float32").assert_outcomes(passed=1, deselected=8)
    first = (pytester.path / "results" / "latest").resolve()
    cases = [
        (["-k", "nomatch"], "no case was measured (no case was selected (-k/-m deselected all 9))"),
        (["-k", "n2048"], "no case was measured (every case that ran was skipped or failed (1 profile; see above))"),
    ]
    for args, line in cases:
        result = suite("--profile", "smoke", "--devices", "cpu", *args)
        assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
        result.stdout.fnmatch_lines([f"devicebench: {line}; no run folder was written"])
        assert run_folders(pytester) == [first.name]
        assert (pytester.path / "results" / "latest").resolve() == first
    monkeypatch.setitem(bench.backends.BACKEND_MODULES, "fake", ("fake_framework", "Backend", "fake_framework"))
    result = suite("--profile", "smoke")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.stdout.fnmatch_lines(["devicebench: no case was measured (no requested backend is available: *"])
    assert run_folders(pytester) == [first.name]


def test_collect_only_writes_no_folder(suite, pytester):
    result = suite("--profile", "smoke", "--collect-only")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*test_matmul*fake-CPU:0-n128-float32*"])
    assert run_folders(pytester) == []
    assert not (pytester.path / "results" / "latest").exists()


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        (lambda p: (p / "afile").write_text("x"), ["--results-dir", "afile/results"], "*cannot create it*"),
        (lambda p: (p / "results" / "latest").mkdir(parents=True), [], "*latest is a real folder, not the link*"),
        (lambda p: None, ["--save-baseline", "../x"], "*--save-baseline: '../x' is not a usable baseline name*"),
        (lambda p: (p / "dir").mkdir(), ["--run-path-file", "dir"], "*--run-path-file dir: is a folder*"),
    ],
    ids=["results-dir-under-a-file", "latest-is-a-folder", "baseline-outside", "path-file-is-a-folder"],
)
def test_unusable_results_options_are_usage_errors_before_anything_runs(suite, pytester, make, args, message):
    make(pytester.path)
    pytester.makeconftest(PEEK_CONFTEST)
    result = suite("--profile", "smoke", "--devices", "cpu", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert not (pytester.path / "seen.jsonl").exists()  # no case started
    assert run_folders(pytester) == ([] if "latest" not in message else ["latest"])


def test_two_runs_in_the_same_second_get_two_folders(suite, pytester, monkeypatch):
    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2026, 11, 25, 21, 46, 25, tzinfo=UTC)

    monkeypatch.setattr(bench.session, "datetime", Frozen)  # the run starts (and is named) when the session is made
    for _ in range(2):
        suite("--profile", "smoke", "--devices", "cpu", "-k", "n128-float32").assert_outcomes(passed=1, deselected=8)
    assert run_folders(pytester) == ["20261125-214625-testbox", "20261125-214625-testbox-2"]
    assert (pytester.path / "results" / "latest").resolve().name == "20261125-214625-testbox-2"


def test_run_path_file_names_the_run_folder(suite, pytester):
    suite("--profile", "smoke", "--devices", "cpu", "-k", "n128-float32", "--run-path-file", "out/run-path")
    written = (pytester.path / "out" / "run-path").read_text()
    assert written == f"{(pytester.path / 'results' / 'latest').resolve()}\n"


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
    result = suite("--profile", "smoke", "--devices", "CPU:0,GPU:0", "-k", "n128-float32", nvml=True)
    result.assert_outcomes(passed=2, deselected=28)
    result.stdout.fnmatch_lines(["*NVML on: 2 GPUs, driver 550.54.15, sampling every 20 ms*"])
    data = load(pytester)
    for b in data["benchmarks"]:  # CPU cases are sampled too: a busy GPU during a CPU case is worth knowing
        summary = b["extra_info"]["nvml"]
        assert set(summary) == {"0", "1"}
        assert summary["1"]["peak_mem_mib"] == pytest.approx(2048.0)
    info = data["machine_info"]["devicebench"]
    assert info["nvidia_driver"] == "550.54.15"
    assert {d["name"]: d["nvml_index"] for d in info["devices"]} == {"CPU:0": None, "GPU:0": 1}
    assert data["devicebench"]["nvml"] == {"enabled": True, "reason": "", "error": None, "csv": "nvml.csv"}
    csv = (pytester.path / "results" / "latest" / "nvml.csv").read_text().splitlines()
    assert csv[0].startswith("t_s,case,gpu_index,gpu_uuid,mem_used_mib")
    assert len(csv) > 4


def test_without_nvml_the_run_goes_on_and_says_why(suite, pytester, monkeypatch, no_nvml_cache):
    FakeNvml([], init_error=pynvml.NVMLError_LibraryNotFound()).install(monkeypatch.setattr)
    result = suite("--profile", "smoke", "--devices", "cpu", "-k", "n128", nvml=True)
    result.assert_outcomes(passed=1, deselected=8)
    result.stdout.fnmatch_lines(["*NVML off: *"])
    data = load(pytester)
    assert data["benchmarks"][0]["extra_info"]["nvml"] is None
    assert data["machine_info"]["devicebench"]["nvml"]["enabled"] is False
    assert not (pytester.path / "results" / "latest" / "nvml.csv").exists()
    suite("--profile", "smoke", "--devices", "cpu", "-k", "n128").stdout.fnmatch_lines(
        ["*NVML off: turned off by --no-nvml*"]
    )


def test_live_lines_line_up_across_workloads(suite, monkeypatch):
    # a case named longer than the default column (as checkpoint's are): the columns after it still line up
    matmul = WORKLOADS["matmul"]
    monkeypatch.setitem(
        WORKLOADS, "matmul", dataclasses.replace(matmul, label=lambda p: f"{matmul.label(p)}-with-a-long-name")
    )
    result = suite("--profile", "smoke", "--devices", "cpu")
    lines = [line for line in result.outlines if " rounds  [" in line]
    assert {line.split()[0] for line in lines} == {"matmul", "mnist"}
    assert len({line.index("fake CPU:0") for line in lines}) == 1
    assert len({line.index(" rounds  [") for line in lines}) == 1


def test_a_npy_mnist_file_is_a_usage_error_not_an_internal_error(suite, pytester):
    numpy.save(pytester.path / "mnist.npy", numpy.zeros((3, 28, 28), numpy.uint8))
    result = suite("--mnist", "mnist.npy")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--mnist: mnist.npy is a single .npy array, not a Keras mnist.npz*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


MARKUP = "[/job:worker] [bold]x[/bold] [link=file:///etc]"
SKIPPING_FILE = f"""
import pytest

@pytest.mark.workload("matmul")
def test_matmul(request, devicebench_run):
    if "n128-float32" not in request.node.name:
        pytest.skip({MARKUP!r})
    devicebench_run()
"""


def test_summary_prints_host_names_and_skip_reasons_from_the_file_as_plain_text(suite, pytester, monkeypatch, capsys):
    from reports import cli

    (pytester.path / "test_matmul.py").write_text(SKIPPING_FILE)
    suite("--profile", "smoke", "--devices", "cpu", "-k", "matmul")
    path = pytester.path / "results" / "latest" / "benchmarks.json"
    data = json.loads(path.read_text())
    assert MARKUP in {s["reason"] for s in data["devicebench"]["skipped"]}
    # the writer makes its own host name folder-safe; a fleet's file may carry any name (a renamed host, by hand)
    data["machine_info"]["devicebench"]["host"] = data["machine_info"]["node"] = f"node{MARKUP}"
    path.write_text(json.dumps(data))
    capsys.readouterr()
    assert cli.main(["summary", str(path)]) == 0
    captured = capsys.readouterr()
    out = " ".join(captured.out.split())
    # the skip reason and the host, as written (rich wraps them in their columns: the words, not the layout)
    assert "│ [/job:worker] [bold]x[/bold]" in out and "[link=file:///etc]" in out
    assert "│ node[/job:worker] [bold]x[/bold]" in out
    assert captured.err == ""


@pytest.mark.parametrize("listing", [["--list"], ["--collect-only", "-q"]], ids=["list", "collect-only"])
def test_listing_only_discovers_devices_it_starts_no_nvml_and_times_no_drift_reference(
    suite, pytester, monkeypatch, no_nvml_cache, listing
):
    fake = FakeNvml([FakeGpu(pci_bus_id="00000000:3B:00.0")])
    fake.install(monkeypatch.setattr)
    timed = []
    monkeypatch.setattr(bench.session, "time_reference", lambda: timed.append("reference") or [1e-3] * 3)
    result = suite("--profile", "smoke", "--devices", "CPU:0,GPU:0", *listing, nvml=True)
    assert result.ret == pytest.ExitCode.OK
    if listing == ["--list"]:
        result.stdout.fnmatch_lines(["*NVML off: not started (--list and --collect-only measure nothing)*"])
        result.stdout.fnmatch_lines(["matmul*fake*GPU:0*n128-float32*runs", "*case(s) would run*"])
    else:
        result.stdout.fnmatch_lines(["*test_matmul*fake-GPU:0-n128-float32*"])
    assert sum(fake.calls.values()) == 0 and timed == []  # no NVML call at all: no sampler, no idle power
    assert run_folders(pytester) == []
    # the control: a run that measures starts NVML, reads the GPU's idle power and times the reference twice
    result = suite("--profile", "smoke", "--devices", "GPU:0", "-k", "n128-float32", nvml=True)
    result.assert_outcomes(passed=1)
    assert fake.calls["nvmlInit"] > 0 and timed == ["reference", "reference"]  # the start and end of the run
    data = load(pytester)
    assert set(data["machine_info"]["devicebench"]["gpu_idle"]) == {"0"}
    assert data["devicebench"]["drift"]["start_s"] == [1e-3] * 3
