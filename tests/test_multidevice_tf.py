"""TensorFlow's multi-device workloads for real on this CPU's two logical devices (in fresh processes).

The CPU can only be split before TensorFlow initialises its devices, which other tests in this process may
already have done, so these run the suite (or a script) in a subprocess of their own.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")
pytestmark = pytest.mark.heavy  # a split-CPU TensorFlow run in a child process

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """One smoke run of the multi-device cases (and matmul n=128, which must not notice the split CPU)."""
    where = tmp_path_factory.mktemp("tf-multi")
    for name in ("test_allreduce.py", "test_scaling.py", "test_matmul.py"):
        (where / name).write_text((REPO / "bench" / "benchmarks" / name).read_text())
    env = {**os.environ, "PYTHONPATH": str(REPO), "HOME": str(where)}  # HOME: synthetic MNIST, always
    env.pop("DEVICEBENCH_MNIST", None)
    command = [sys.executable, "-m", "pytest", "-p", "bench.plugin", "--profile", "smoke", "--results-dir", "results",
               "-k", "allreduce or scaling or n128", "-p", "no:cacheprovider", "."]  # fmt: skip
    proc = subprocess.run(command, cwd=where, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((where / "results" / "latest" / "benchmarks.json").read_text())


def cases(run, workload):
    return {b["extra_info"]["params"].get("bytes") or b["param"]: b["extra_info"] for b in run["benchmarks"]
            if b["extra_info"]["workload"] == workload}  # fmt: skip


def test_the_cpu_is_split_into_two_logical_devices_and_the_run_says_so(smoke_run):
    backend = smoke_run["machine_info"]["devicebench"]["backends"]["tensorflow"]
    assert backend["cpu_logical_devices"] == 2
    (matmul,) = cases(smoke_run, "matmul").values()
    assert matmul["placement"].endswith("device:CPU:0")  # the other workloads still run on CPU:0 alone
    assert [d["name"] for d in smoke_run["devicebench"]["devices"]] == ["CPU:0"]  # CPU:1 is no suite device


def test_every_all_reduce_ran_on_both_logical_devices_and_summed_right(smoke_run):
    allreduce = cases(smoke_run, "allreduce")
    assert sorted(allreduce) == [8, 512, 32 * 2**10, 2**20]
    for extra in allreduce.values():
        assert extra["correct"] is True and extra["mismatched_elements"] == 0
        assert extra["collective_op_devices"] == "CPU:0,CPU:1"
        assert extra["cross_device_ops"] == "CollectiveAllReduce (RING)"
        assert extra["device_set_kind"] == "cpu-logical-devices" and extra["cpu_logical_devices"] is True
        assert extra["device_set"].startswith("CPU:0,CPU:1: TensorFlow logical devices of one CPU")
        assert extra["throughput"] == pytest.approx(extra["algbw_gbps"]) and extra["busbw_factor"] == 1.0
        assert extra["time_per_allreduce_s"] > 0


def test_data_parallel_training_learns_on_one_and_two_logical_devices(smoke_run):
    scaling = {e["params"]["replicas"]: e for e in cases(smoke_run, "scaling").values()}
    assert sorted(scaling) == [1, 2]
    for replicas, extra in scaling.items():
        assert extra["params"]["global_batch"] == 128 and extra["params"]["per_replica_batch"] == 128 // replicas
        assert extra["final_loss"] < 0.9 * extra["initial_loss"]
        assert extra["replicas_in_sync"] is True and extra["strategy"] == "tf.distribute.MirroredStrategy"
        assert extra["compute_op_devices"] == ",".join(f"CPU:{i}" for i in range(replicas))
    assert scaling[2]["collective_op_devices"] == "CPU:0,CPU:1"  # the gradients' all-reduce
    assert scaling[2]["final_loss"] == pytest.approx(scaling[1]["final_loss"], rel=1e-3)  # the same training


SPLIT_TOO_LATE = """
import tensorflow as tf
tf.constant(1.0)  # TensorFlow initialises its devices here, before any backend exists
from bench.backends import load_backend
from bench.cases import make_cases
from bench.profiles import get_profile
from bench.runner import CaseSkipped
from bench.workloads import WORKLOADS
backend = load_backend("tensorflow")
print(backend.cpu_logical_devices, backend.cpu_split_problem)
for case in make_cases(WORKLOADS["allreduce"], get_profile("smoke"), backend.devices())[:1]:
    try:
        backend.build(case)
    except CaseSkipped as skip:
        print(skip.kind, skip.reason)
"""


def test_a_cpu_that_could_not_be_split_is_a_recorded_skip_with_the_reason():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", SPLIT_TOO_LATE], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    split, skip = proc.stdout.strip().splitlines()[-2:]
    assert split.startswith("1 TensorFlow's devices were initialised before the CPU could be split")
    assert skip.startswith("unsupported 2 replicas need 2 logical CPU devices, TensorFlow has 1: TensorFlow's devices")


def test_the_scripted_twin_records_what_tensorflow_records(smoke_run, monkeypatch):
    """tests/fake_multi.py against this real run: the same keys in the same order, the same device-set words."""
    from bench.cases import make_cases
    from bench.profiles import get_profile
    from bench.workloads import WORKLOADS
    from results_format import CaseInfo
    from tests.fake_backend import FakeTensorFlowBackend

    monkeypatch.setenv("DEVICEBENCH_FAKE_HOST", "laptop")
    fake = FakeTensorFlowBackend()
    describing = ("replica_devices", "device_set", "device_set_kind", "cpu_logical_devices", "cross_device_ops",
                  "collective_op_devices", "compute_op_devices", "strategy", "check", "in_place", "correct",
                  "data_source", "data_path", "samples", "gradient_bytes", "busbw_factor", "elements")  # fmt: skip
    compared = 0
    for bench in smoke_run["benchmarks"]:
        real = bench["extra_info"]
        if real["workload"] not in ("scaling", "allreduce"):
            continue
        cases = make_cases(WORKLOADS[real["workload"]], get_profile("smoke"), fake.devices())
        (case,) = [c for c in cases if dict(c.params) == real["params"]]
        prepared = fake.build(case)
        for _ in range(case.params["calls"]):
            prepared.call()
        facts = prepared.facts(0.01)
        assert list(facts) == [k for k in real if k not in CaseInfo.model_fields]
        assert {k: facts[k] for k in describing if k in real} == {k: real[k] for k in describing if k in real}
        compared += 1
    assert compared == 6  # four all-reduce sizes, MNIST on one and two replicas
