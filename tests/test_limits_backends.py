"""The new builders in the real frameworks on this machine's CPU: membw (copy, triad), sustained, transfers."""

from __future__ import annotations

import pytest

from bench.backends import load_backend
from bench.cases import Case
from bench.workloads import WORKLOADS

BACKENDS = ["tensorflow", "torch"]


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request):
    pytest.importorskip(request.param)
    return load_backend(request.param)


def case(backend, workload: str, **params: object) -> Case:
    return Case(WORKLOADS[workload], backend.devices()[0], params)


@pytest.mark.parametrize("kernel", ["copy", "triad"])
def test_membw_kernels_compute_the_right_result_into_a_new_buffer(backend, kernel) -> None:
    prepared = backend.build(case(backend, "membw", kernel=kernel, bytes=2**20, dtype="float32"))
    out = prepared.call()
    backend.sync()
    assert backend.device_name_of(backend.placement(out)) == "CPU:0"
    facts = prepared.facts(1e-3)
    assert facts["verified"] is True and facts["fresh_buffer"] is True, facts
    assert WORKLOADS["membw"].check(facts) is None
    assert facts["kernel"] == kernel and facts["how"]


def test_sustained_rounds_give_the_same_checksum(backend) -> None:
    prepared = backend.build(case(backend, "sustained", n=64, dtype="float32", seconds=1.0))
    assert prepared.check_round is not None
    for index in range(3):
        out = prepared.call()
        backend.sync()
        assert prepared.check_round(out, index, 0.01) is None
    facts = prepared.facts(0.01)["sustained"]
    # uniform [0, 1) inputs: every element of the product is about n/4, so the sum is about n^3/4
    assert facts["checksum"] == pytest.approx(64**3 / 4, rel=0.05)
    assert facts["rounds_checked"] == 3 and facts["max_deviation"] <= facts["rtol"]


def test_torch_copies_on_the_cpu_are_pageable_zero_copy_hand_overs() -> None:
    pytest.importorskip("torch")
    torch_backend = load_backend("torch")
    for direction in ("h2d", "d2h"):
        prepared = torch_backend.build(
            case(torch_backend, "transfer", direction=direction, bytes=2**20, host_memory="pageable")
        )
        prepared.call()
        facts = prepared.facts(1e-3)
        assert (facts["pinned"], facts["zero_copy"]) == (False, True)


def test_tensorflow_cannot_pin_and_says_what_it_does() -> None:
    pytest.importorskip("tensorflow")
    tf_backend = load_backend("tensorflow")
    prepared = tf_backend.build(case(tf_backend, "transfer", direction="h2d", bytes=2**20, host_memory="pageable"))
    prepared.call()
    facts = prepared.facts(1e-3)
    assert facts["pinned"] is False and facts["copy"].startswith("pageable host memory: tf.constant(ndarray)")
    with pytest.raises(ValueError, match="TensorFlow cannot pin host memory: no pinned copies"):
        tf_backend.build(case(tf_backend, "transfer", direction="h2d", bytes=2**20, host_memory="pinned"))
