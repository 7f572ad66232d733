"""torch's multi-device workloads for real on this CPU: two processes over gloo, and their helpers' lifecycle.

Run with OMP_NUM_THREADS=1 (see test_torch_backend); each test also pins torch to one thread per process.
"""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from bench.backends import load_backend, torch_multi  # noqa: E402
from bench.backends.torch_multi import HelperError, pool_for, shutdown  # noqa: E402
from bench.cases import Case, make_cases  # noqa: E402
from bench.profiles import get_profile  # noqa: E402
from bench.workloads import WORKLOADS, mnist_data  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SMOKE = get_profile("smoke")
linux_only = pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="finds helper processes in /proc")


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    """The torch backend on one thread, synthetic MNIST for rank 0 and its helpers; the pool ends with the module."""
    home = tmp_path_factory.mktemp("home")
    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))  # helpers inherit it: no ~/.keras MNIST, synthetic data everywhere
        patch.delenv(mnist_data.ENV_VAR, raising=False)
        patch.setattr(mnist_data, "KERAS_CACHE", home / "absent.npz")
        mnist_data.load_mnist.cache_clear()
        torch.set_num_threads(1)
        loaded = load_backend("torch")
        loaded.settings = {"mnist": None}
        yield loaded
        shutdown()
        torch.set_num_threads(threads)


def smoke_case(backend, workload, label) -> Case:
    cpu = backend.devices()[0]
    (case,) = [c for c in make_cases(WORKLOADS[workload], SMOKE, [cpu]) if c.id.endswith(label)]
    return case


def run(backend, case, calls=None):
    """What the runner does with a case's calls: all of them, then the facts (median 1 s)."""
    prepared = backend.build(case)
    out = None
    for _ in range(case.params["calls"] if calls is None else calls):
        out = prepared.call()
    return out, prepared


def helpers_of(parent: int) -> list[int]:
    """Running helper processes whose rank 0 is `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"bench.backends.torch_multi_helper" in args and args[args.index(b"--parent") + 1] == str(parent).encode():
            found.append(int(entry.name))
    return found


def gone(pids, within=10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{pid}/cmdline").exists() and Path(f"/proc/{pid}/cmdline").read_bytes() for pid in pids):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("label", ["r2-8B", "r2-1MiB"])
def test_allreduce_over_two_gloo_processes_is_right_in_place(backend, label):
    case = smoke_case(backend, "allreduce", label)
    out, prepared = run(backend, case)
    assert backend.check_placement(out, case.device) == "cpu"
    facts = prepared.facts(0.01)
    assert facts["correct"] is True and facts["mismatched_elements"] == 0 and facts["in_place"] is True
    assert (facts["process_group"], facts["processes"], facts["replica_devices"]) == ("gloo", 2, "CPU:0,CPU:0")
    assert facts["device_set_kind"] == "cpu-processes" and facts["cpu_logical_devices"] is False
    assert facts["busbw_factor"] == 1.0 and facts["elements"] == case.params["bytes"] // 4
    assert WORKLOADS["allreduce"].check(facts) is None


def test_a_wrong_sum_on_any_rank_fails_the_case(backend, monkeypatch):
    case = smoke_case(backend, "allreduce", "r2-512B")
    real = torch_multi.expected_sum
    monkeypatch.setattr(torch_multi, "expected_sum", lambda count, replicas: real(count, replicas) + 1)  # rank 0 only
    _, prepared = run(backend, case)
    facts = prepared.facts(0.01)
    assert facts["correct"] is False and facts["mismatched_elements"] == 2 * 128  # two checks of 128 elements
    assert WORKLOADS["allreduce"].check(facts).startswith("the all-reduce result is wrong: 256 element(s)")


def test_data_parallel_training_learns_on_one_and_two_processes_with_the_same_result(backend):
    finals = {}
    for label in ("mnist-r1-b128", "mnist-r2-b128"):
        smoke = smoke_case(backend, "scaling", label)
        params = {**smoke.params, "steps_per_call": 10, "calls": 4}  # 40 steps: enough to learn, quick to run
        case = dataclasses.replace(smoke, params=params)
        out, prepared = run(backend, case)
        assert backend.check_placement(out, case.device) == "cpu"
        facts = prepared.facts(1.0)
        assert WORKLOADS["scaling"].check(facts) is None
        assert facts["final_loss"] < 0.9 * facts["initial_loss"] and facts["data_source"] == "synthetic"
        assert facts["replicas_in_sync"] is True and facts["replica_weight_spread"] == 0.0
        assert facts["strategy"] == "torch.nn.parallel.DistributedDataParallel"
        per = case.params["per_replica_batch"]
        assert per * case.params["replicas"] == case.params["global_batch"] == 128
        assert facts["samples_per_s_per_replica"] == pytest.approx(case.params["steps_per_call"] * per)
        finals[case.params["replicas"]] = facts["final_loss"]
    # The same global batches, split in two, train the same model: DDP averages the two halves' gradients.
    assert finals[2] == pytest.approx(finals[1], rel=1e-3)


@linux_only
def test_helpers_leave_when_the_pool_closes_and_a_broken_pool_is_replaced(backend):
    case = smoke_case(backend, "allreduce", "r2-8B")
    run(backend, case, calls=1)  # a case that stopped half way: the helpers wait in a collective
    first = helpers_of(os.getpid())
    assert len(first) == 1
    pool = pool_for("gloo", ("cpu", "cpu"))  # the next case: the broken pool is killed, a new one started
    assert gone(first) and helpers_of(os.getpid()) == pool.alive()
    _, prepared = run(backend, case)
    assert prepared.facts(0.01)["correct"] is True
    second = helpers_of(os.getpid())
    shutdown()
    assert gone(second)


@linux_only
def test_any_other_case_ends_the_idle_helpers_first(backend):
    _, prepared = run(backend, smoke_case(backend, "allreduce", "r2-8B"))
    prepared.facts(0.01)
    helpers = helpers_of(os.getpid())
    assert len(helpers) == 1
    backend.build(smoke_case(backend, "allreduce", "r2-512B"))  # the next multi-device case reuses them
    assert helpers_of(os.getpid()) == helpers
    backend.build(smoke_case(backend, "matmul", "n128-float32"))  # no case runs beside idle helpers
    assert gone(helpers)


@linux_only
def test_a_helper_that_dies_is_named_in_rank_0s_error(backend):
    case = smoke_case(backend, "allreduce", "r2-32KiB")
    prepared = backend.build(case)
    prepared.call()
    (helper,) = helpers_of(os.getpid())
    os.kill(helper, signal.SIGKILL)
    with pytest.raises(HelperError, match=r"helper rank 1 exited with -9"):
        for _ in range(5):
            prepared.call()


SCRIPT = """
import sys, time
import torch
from bench.backends.torch_multi import pool_for
torch.set_num_threads(1)
pool = pool_for("gloo", ("cpu", "cpu"))
print("ready", flush=True)
time.sleep(120)
"""


@linux_only
def test_helpers_die_with_a_killed_benchmark_process(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, env=env, cwd=tmp_path)
    try:
        assert proc.stdout.readline().strip() == b"ready"
        helpers = helpers_of(proc.pid)
        assert len(helpers) == 1
        proc.kill()  # SIGKILL: no atexit, no signal handler; the helper's watchdog must notice
        proc.wait()
        assert gone(helpers, within=5.0)
    finally:
        proc.kill()


HOLD_AT_SECOND_CASE = """
import pathlib, time
started = []


def pytest_runtest_setup(item):
    started.append(item.nodeid)
    if len(started) == 2:
        pathlib.Path("holding").write_text(item.nodeid)
        time.sleep(90)  # the test's signal ends this sleep
"""


def ctrl_c_as_at_a_terminal() -> None:
    """In the run's process before it starts: SIGINT handled by default, as a terminal's foreground job has it.

    A script's background job (`pytest ... &` without job control) inherits SIGINT ignored, and Python then keeps
    ignoring it: the ctrl-c case hung for 60 s whenever the suite itself was started that way.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@linux_only
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "ctrl-c"])
def test_helpers_never_outlive_a_run_that_is_stopped(tmp_path, stop):
    """A real run of the torch all-reduce cases, stopped while they run: no helper is left behind."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "HOME": str(tmp_path)}
    env["PYTHONFAULTHANDLER"] = "1"  # a run that hangs shows where: SIGABRT dumps every thread's stack
    for path in (REPO / "bench" / "benchmarks").glob("test_*.py"):
        (tmp_path / path.name).write_text(path.read_text())
    # The run holds at its second case until the signal comes, so the signal always lands mid-run, however fast
    # or slow this machine is (a fixed sleep let a quick run finish first, and the run was then complete).
    (tmp_path / "conftest.py").write_text(HOLD_AT_SECOND_CASE)
    command = [sys.executable, "-m", "pytest", "-p", "bench.plugin", "--backend", "torch", "--profile", "smoke",
               "--results-dir", "results", "-k", "allreduce or scaling", "-p", "no:cacheprovider", "."]  # fmt: skip
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=ctrl_c_as_at_a_terminal)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (helpers := helpers_of(proc.pid)) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert helpers, "the run never started its helper"
        while not (tmp_path / "holding").exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert (tmp_path / "holding").exists(), "the run never reached its second case"
        proc.send_signal(stop)
        try:
            output = proc.communicate(timeout=60)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            stuck = proc.communicate(timeout=30)[0].decode(errors="replace")
            pytest.fail(f"the run did not end within 60 s of {stop.name}; its threads:\n{stuck[-8000:]}")
        assert gone(helpers, within=5.0), output[-2000:]
        assert helpers_of(proc.pid) == []
        state = json.loads((tmp_path / "results" / "latest" / "benchmarks.json").read_text())["devicebench"]["run"]
        assert state["complete"] is False  # one case finished, the second was stopped
    finally:
        proc.kill()


class SlowToShowExit:
    """A helper process killed a moment ago: poll() sees its exit only on the third look."""

    def __init__(self) -> None:
        self.looks = 0
        self.returncode = None

    def poll(self):
        """None until the third look, then the SIGKILL exit status."""
        self.looks += 1
        if self.looks >= 3:
            self.returncode = -9
        return self.returncode


def test_a_helper_whose_exit_shows_after_the_broken_collective_is_still_named(tmp_path):
    pool = torch_multi.HelperPool.__new__(torch_multi.HelperPool)  # no processes: only what explain() reads
    pool.world, pool.in_flight, pool.procs = 2, None, [SlowToShowExit()]
    pool.logs = [tmp_path / "rank1.log"]
    pool.logs[0].write_text("killed\n")
    error = pool.explain(RuntimeError("Connection reset by peer"))
    assert isinstance(error, HelperError) and str(error) == "helper rank 1 exited with -9: killed"
    pool.procs = [type("Alive", (), {"poll": lambda self: None, "returncode": None})()]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch_multi, "EXIT_SEEN_S", 0.05)
        assert pool.explain(RuntimeError("a failure of rank 0's own")) is None  # no helper to blame


@linux_only
@pytest.mark.parametrize(("workload", "label"), [("allreduce", "r2-32KiB"), ("scaling", "mnist-r2-b128")])
def test_the_scripted_twin_records_what_torch_records(backend, monkeypatch, workload, label):
    """tests/fake_multi.py against a real gloo case: the same keys in the same order, the same device-set words."""
    from results_format import CaseInfo
    from tests.fake_backend import FakeTorchBackend

    def small(case: Case) -> Case:
        """The case at 2 steps for 2 calls (the smoke profile's MNIST steps take seconds): the same for both."""
        return (
            dataclasses.replace(case, params={**case.params, "steps_per_call": 2, "calls": 2})
            if workload == "scaling"
            else case
        )

    _, prepared = run(backend, small(smoke_case(backend, workload, label)))
    real = prepared.facts(0.01)
    monkeypatch.setenv("DEVICEBENCH_FAKE_HOST", "laptop")
    fake = FakeTorchBackend()
    _, scripted = run(fake, small(smoke_case(fake, workload, label)))
    facts = scripted.facts(0.01)
    assert list(facts) == [k for k in real if k not in CaseInfo.model_fields]
    describing = ("replica_devices", "device_set", "device_set_kind", "cpu_logical_devices", "process_group",
                  "processes", "strategy", "check", "in_place", "correct", "data_source", "data_path", "samples",
                  "gradient_bytes", "busbw_factor", "elements", "replicas_in_sync")  # fmt: skip
    assert {k: facts[k] for k in describing if k in real} == {k: real[k] for k in describing if k in real}
