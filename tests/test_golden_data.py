"""The golden runs under tests/data are what make_golden.py makes, readable by the results format; bad/ is refused."""

import importlib.util
import sys
from pathlib import Path

import pytest

import results_format
from bench.workloads.matmul import FP8, TF_NO_FP8

DATA = Path(__file__).parent / "data"
GROUPS = ("runs", "backends", "history", "compare", "fleet", "incomplete", "sustained", "peaks", "health")


def make_golden():
    """tests/data/make_golden.py as a module (tests/data is not a package)."""
    spec = importlib.util.spec_from_file_location("make_golden", DATA / "make_golden.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


GOLDEN = make_golden()


def test_the_golden_folders_are_exactly_the_runs_the_script_makes():
    on_disk = sorted(str(p.relative_to(DATA)) for group in GROUPS for p in (DATA / group).iterdir() if p.is_dir())
    assert on_disk == sorted(run.target for run in GOLDEN.RUNS)
    assert f"It makes {len(GOLDEN.RUNS)} runs" in GOLDEN.__doc__


@pytest.mark.parametrize("run", GOLDEN.RUNS, ids=lambda run: run.target)
def test_every_golden_run_reads_and_ended_as_scripted(run):
    folder = DATA / run.target
    data = results_format.read(folder)
    assert data.devicebench.run.state == run.state
    assert data.machine_info.devicebench.host == (run.name or run.host)
    assert data.benchmarks and all(b.stats.rounds >= 5 for b in data.benchmarks)
    gpus = [d for d in data.devicebench.devices if d.kind == "gpu"]
    assert (folder / "nvml.csv").is_file() == bool(gpus) == data.devicebench.nvml.enabled
    assert all(d.nvml_index is not None for d in gpus)  # matched by PCI bus id
    assert (folder / "benchmarks.json").stat().st_size < 1_100_000  # schema 3 specs, case labels, health


def test_the_scripted_hosts_show_what_the_reports_explain():
    gpubox = results_format.read(DATA / "runs" / "20261121-120000-gpubox")
    median = {b.name: b.stats.median for b in gpubox.benchmarks}

    def speedup(n):
        gpu = median[f"test_matmul[tensorflow-GPU:0-n{n}-float32]"]
        return median[f"test_matmul[tensorflow-CPU:0-n{n}-float32]"] / gpu

    assert 0.7 < speedup(100) < 1.3 and speedup(10000) > 25  # the book: no difference at 100, ~32x at 10000
    fed = {b.extra_info.device: b.extra_info.extras["input_bound"] for b in gpubox.benchmarks if "fed-step" in b.name}
    assert fed == {"CPU:0": False, "GPU:0": True}
    workstation = results_format.read(DATA / "runs" / "20261122-080000-workstation")
    skipped = workstation.devicebench.skipped
    assert {(s.device, s.kind) for s in skipped if s.params["dtype"] != FP8} == {("GPU:1", "oom")}
    # TensorFlow has no FP8 matmul: one recorded skip per device says so
    fp8 = [(s.device, s.kind, s.reason) for s in skipped if s.params["dtype"] == FP8]
    assert fp8 == [(d, "unsupported", TF_NO_FP8) for d in ("CPU:0", "GPU:0", "GPU:1")]
    stopped = results_format.read(DATA / "incomplete" / "20261124-100000-stopbox")
    assert stopped.devicebench.run.reason.startswith("stopped by SIGTERM") and len(stopped.benchmarks) == 5


@pytest.mark.parametrize("bad", sorted((DATA / "bad").iterdir()), ids=lambda p: p.name)
def test_every_bad_file_is_refused_with_one_line_naming_it(bad):
    with pytest.raises(results_format.ResultsFileError) as info:
        results_format.read(bad)
    message = str(info.value)
    assert message.startswith(str(bad)) and "\n" not in message
