"""The multi-device workloads' cases, formulas and checks (pure: Device objects, literal values, no framework)."""

import dataclasses

import numpy as np
import pytest

from bench.cases import make_cases
from bench.devices import Device
from bench.profiles import get_profile
from bench.workloads import WORKLOADS
from bench.workloads.allreduce import (
    ALLREDUCE,
    allreduce_check,
    bandwidth_facts,
    bus_factor,
    collectives_per_call,
    compare,
    expected_sum,
    replica_values,
    size_label,
)
from bench.workloads.multidevice import CPU_LOGICAL, CPU_PROCESSES, GPUS, device_set, replica_counts
from bench.workloads.scaling import (
    SCALING,
    global_batch_order,
    replica_slice,
    samples_needed,
    scaling_check,
)

SMOKE, STANDARD, FULL = get_profile("smoke"), get_profile("standard"), get_profile("full")


def cpu(backend="tensorflow"):
    return Device(backend, "CPU:0", "cpu", "a CPU")


def gpus(count, backend="tensorflow"):
    return [Device(backend, f"GPU:{i}", "gpu", "NVIDIA H100 80GB HBM3") for i in range(count)]


def runnable(cases):
    return [(c.device.name, c.id.split("-", 2)[2]) for c in cases if c.skip_reason is None]


COUNTS = [(1, 1, [1]), (2, 1, [1, 2]), (6, 1, [1, 2, 4, 6]), (8, 1, [1, 2, 4, 8]), (2, 2, [2]), (8, 2, [2, 4, 8])]


@pytest.mark.parametrize(("available", "start", "counts"), [*COUNTS, (1, 2, [])])
def test_replica_counts_double_up_to_every_device(available, start, counts):
    assert replica_counts(available, start) == counts


def test_a_cpu_host_scales_over_two_logical_devices_or_processes_and_all_reduces_8_bytes_to_1_mib():
    for backend in ("tensorflow", "torch"):
        scaling = make_cases(SCALING, SMOKE, [cpu(backend)])
        assert runnable(scaling) == [("CPU:0", "mnist-r1-b128"), ("CPU:0", "mnist-r2-b128")]
        assert [dict(c.params)["per_replica_batch"] for c in scaling] == [128, 64]
        allreduce = make_cases(ALLREDUCE, SMOKE, [cpu(backend)])
        assert runnable(allreduce) == [("CPU:0", f"r2-{s}") for s in ("8B", "512B", "32KiB", "1MiB")]
        assert {c.params["bytes"] for c in allreduce} == {8, 512, 32 * 2**10, 2**20}


def test_the_first_selected_gpu_carries_the_cases_of_the_whole_set():
    devices = [cpu(), *gpus(4)]
    cases = [c for c in make_cases(SCALING, SMOKE, devices) if c.device.kind == "gpu"]
    assert {c.device.name for c in cases} == {"GPU:0"}
    assert [c.params["replicas"] for c in cases] == [1, 2, 4]
    assert [d.name for d in cases[0].peers] == ["GPU:0", "GPU:1", "GPU:2", "GPU:3"]
    allreduce = [c for c in make_cases(ALLREDUCE, FULL, devices) if c.device.kind == "gpu"]
    assert sorted({c.params["replicas"] for c in allreduce}) == [2, 4]
    assert max(c.params["bytes"] for c in allreduce) == 2**30 and all(c.skip_reason is None for c in allreduce)


def test_a_selection_of_gpus_keeps_its_order_and_the_case_sits_on_the_first():
    chosen = [gpus(4)[3], gpus(4)[1]]
    cases = make_cases(SCALING, SMOKE, chosen)
    assert {c.device.name for c in cases} == {"GPU:3"}
    two = next(c for c in cases if c.params["replicas"] == 2)
    assert device_set("tensorflow", two.device, two.peers, 2).devices == ("GPU:3", "GPU:1")


def test_one_gpu_is_a_recorded_skip_with_its_reason_never_a_silent_gap():
    for workload in (SCALING, ALLREDUCE):
        cases = [c for c in make_cases(workload, SMOKE, [cpu(), *gpus(1)]) if c.device.kind == "gpu"]
        assert cases and all(c.skip_reason for c in cases)
        assert cases[0].skip_reason == "needs at least 2 GPUs of one backend; only GPU:0 is selected"
        assert {c.params["replicas"] for c in cases} == {2}


def test_a_global_batch_that_does_not_divide_is_rounded_down_and_recorded():
    cases = make_cases(SCALING, FULL, gpus(6))
    six = [dict(c.params) for c in cases if c.params["replicas"] == 6]
    assert [(p["model"], p["global_batch"], p["per_replica_batch"]) for p in six] == [
        ("mnist", 1020, 170),
        ("resnet50", 510, 85),
    ]


def test_resnet50_scales_on_gpus_and_is_a_recorded_skip_on_a_cpu():
    on_cpu = [c for c in make_cases(SCALING, STANDARD, [cpu()]) if c.params["model"] == "resnet50"]
    assert on_cpu and all("ResNet-50 scaling runs on GPUs only" in c.skip_reason for c in on_cpu)
    on_gpus = [c for c in make_cases(SCALING, STANDARD, gpus(2)) if c.params["model"] == "resnet50"]
    assert [(c.id, c.skip_reason) for c in on_gpus] == [
        ("tensorflow-GPU:0-resnet50-64px-r1-b256", None),
        ("tensorflow-GPU:0-resnet50-64px-r2-b256", None),
    ]
    assert all(c.params["model"] == "mnist" for c in make_cases(SCALING, SMOKE, gpus(2)))


def test_messages_above_the_cpu_limit_are_skipped_with_the_reason():
    cases = make_cases(ALLREDUCE, STANDARD, [cpu()])
    skipped = [c for c in cases if c.skip_reason]
    assert [c.params["bytes"] for c in skipped] == [128 * 2**20]
    assert skipped[0].skip_reason == "profile standard: 128MiB is above its CPU limit 16MiB"


def test_the_schedule_is_fixed_and_matches_the_calls_the_helpers_make():
    for workload, profile in ((SCALING, SMOKE), (ALLREDUCE, SMOKE), (ALLREDUCE, FULL)):
        for case in make_cases(workload, profile, [cpu()]):
            warmup, rounds = workload.schedule(profile, dict(case.params))
            assert warmup >= 1 and rounds >= 5 and warmup + rounds == case.params["calls"]


@pytest.mark.parametrize(
    ("size", "kind", "k"), [(8, "gpu", 20), (2**30, "gpu", 20), (8, "cpu", 20), (2**20, "cpu", 2), (2**24, "cpu", 1)]
)
def test_collectives_per_call_follow_nccl_tests_on_gpus_and_shrink_with_the_size_on_cpus(size, kind, k):
    assert collectives_per_call(size, kind) == k


@pytest.mark.parametrize(
    ("size", "text"), [(8, "8B"), (512, "512B"), (32768, "32KiB"), (2**20, "1MiB"), (2**30, "1GiB")]
)
def test_size_labels(size, text):
    assert size_label(size) == text


def test_bus_bandwidth_uses_nccl_tests_all_reduce_factor():
    assert [bus_factor(n) for n in (2, 4, 8)] == [1.0, 1.5, 1.75]
    params = {"bytes": 2**20, "replicas": 8, "collectives_per_call": 20, "calls": 12}
    facts = bandwidth_facts(params, 0.02)  # 20 all-reduces of 1 MiB in 20 ms: 1 ms each
    assert facts["time_per_allreduce_s"] == pytest.approx(0.001)
    assert facts["algbw_gbps"] == pytest.approx(1.048576)
    assert facts["busbw_gbps"] == pytest.approx(1.048576 * 1.75)
    assert ALLREDUCE.throughput(params, 0.02) == pytest.approx(facts["algbw_gbps"])  # throughput is algbw


def test_the_expected_sum_is_exact_and_a_wrong_element_is_found():
    count, replicas = 10, 4
    total = sum(replica_values(count, r) for r in range(replicas))
    np.testing.assert_array_equal(total, expected_sum(count, replicas))
    assert expected_sum(count, replicas)[:8].tolist() == [10, 20, 30, 40, 50, 60, 70, 10]
    wrong = expected_sum(count, replicas).copy()
    wrong[3] += 0.5
    assert compare(wrong, expected_sum(count, replicas)) == (1, 0.5)
    assert compare(expected_sum(count, replicas), expected_sum(count, replicas)) == (0, 0.0)
    assert compare(wrong[:5], expected_sum(count, replicas)) == (10, float("inf"))


def test_a_wrong_all_reduce_or_an_unchecked_one_fails_the_case():
    assert allreduce_check({"correct": True}) is None
    assert allreduce_check({}) == "the all-reduce result was not checked"
    message = allreduce_check({"correct": False, "mismatched_elements": 3, "max_abs_error": 1.0, "check": "x"})
    assert message.startswith("the all-reduce result is wrong: 3 element(s) differ from the expected sum")


def test_scaling_fails_when_replicas_drift_apart_or_the_loss_does_not_fall():
    good = {"initial_loss": 2.3, "final_loss": 1.9, "replicas_in_sync": True}
    assert scaling_check(good) is None
    assert "weights differ" in scaling_check({**good, "replicas_in_sync": False, "replica_weight_spread": 0.1})
    assert "did not learn" in scaling_check({**good, "final_loss": 2.4})


def test_every_replica_trains_on_its_own_share_of_each_global_batch():
    order = global_batch_order(n=100, batches=7, global_batch=24)
    assert order.shape == (7, 24)
    assert all(len(set(row)) == 24 for row in order)  # a global batch never repeats a sample
    shares = [replica_slice(order, r, 8) for r in range(3)]
    np.testing.assert_array_equal(np.concatenate(shares, axis=1), order)
    np.testing.assert_array_equal(order, global_batch_order(n=100, batches=7, global_batch=24))
    with pytest.raises(ValueError, match="one global batch needs 24 samples, got 10"):
        global_batch_order(n=10, batches=1, global_batch=24)
    params = {"steps_per_call": 10, "calls": 6, "global_batch": 128}
    assert samples_needed(params) == 7680 and samples_needed({**params, "calls": 600}) == 60_000


def test_device_sets_say_which_devices_took_part_and_whether_they_are_logical():
    four = device_set("torch", gpus(4)[0], gpus(4), 2)
    assert (four.kind, four.devices, four.text) == (GPUS, ("GPU:0", "GPU:1"), "GPU:0,GPU:1")
    logical = device_set("tensorflow", cpu(), [cpu()], 2)
    assert logical.facts() == {
        "replica_devices": "CPU:0,CPU:1",
        "device_set": "CPU:0,CPU:1: TensorFlow logical devices of one CPU, sharing its cores",
        "device_set_kind": CPU_LOGICAL,
        "cpu_logical_devices": True,
    }
    processes = device_set("torch", cpu("torch"), [cpu("torch")], 2)
    assert (processes.kind, processes.devices) == (CPU_PROCESSES, ("CPU:0", "CPU:0"))
    assert processes.text == "2 processes on CPU:0 (gloo), sharing its cores"
    assert processes.facts()["cpu_logical_devices"] is False
    with pytest.raises(ValueError, match="4 replicas need 4 GPUs; selected: GPU:0, GPU:1"):
        device_set("tensorflow", gpus(2)[0], gpus(2), 4)


def test_single_device_workloads_still_get_no_peers():
    (case, *_) = make_cases(WORKLOADS["matmul"], SMOKE, [cpu(), *gpus(2)])
    assert case.peers == ()
    solo = dataclasses.replace(SCALING, group_params_for=None)
    assert {c.params["replicas"] for c in make_cases(solo, SMOKE, [cpu()])} == {1, 2}  # params_for alone
