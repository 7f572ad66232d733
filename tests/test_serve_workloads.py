"""Inference, checkpoint and dispatch workloads: their cases per profile and device, and their pure arithmetic."""

import math

import numpy as np
import pytest

from bench.cases import make_cases
from bench.devices import Device
from bench.profiles import PROFILES, get_profile
from bench.workloads import WORKLOADS
from bench.workloads.checkpoint import (
    BOOK_PARAMETERS,
    CHECKPOINT,
    WEIGHT_BYTES,
    checkpoint_check,
    checkpoint_schedule,
    weight_bytes,
)
from bench.workloads.dispatch import (
    DISPATCH,
    TRUE_COEFFICIENTS,
    dispatch_check,
    per_op_facts,
    polynomial_data,
)
from bench.workloads.inference import (
    INFERENCE,
    REFERENCE_TOLERANCE,
    inference_check,
    inference_schedule,
    latency_percentiles,
    reference_facts,
    relative_error,
)

TF_CPU = Device("tensorflow", "CPU:0", "cpu", "cpu")
TF_GPU = Device("tensorflow", "GPU:0", "gpu", "gpu")
TORCH_CPU = Device("torch", "CPU:0", "cpu", "cpu")
TORCH_GPU = Device("torch", "GPU:0", "gpu", "gpu")


def runnable(cases):
    return [c for c in cases if c.skip_reason is None]


def keyed(cases):
    return {(c.params["model"], c.params["mode"], c.params["batch_size"]): c for c in cases}


def test_the_new_workloads_are_registered():
    assert {"inference", "checkpoint", "dispatch"} <= set(WORKLOADS)


@pytest.mark.parametrize("device", [TF_CPU, TF_GPU])
def test_smoke_inference_times_every_mode_of_the_book_model_and_resnet_with_tf_function(device):
    cases = keyed(make_cases(INFERENCE, get_profile("smoke"), [device]))
    assert len(cases) == 12  # 2 models x 3 modes x (batch 1, a large batch)
    assert {k for k, c in cases.items() if c.skip_reason is None} == {
        ("book", m, b) for m in ("eager", "function", "xla") for b in (1, 256)
    } | {("resnet50", "function", 1), ("resnet50", "function", 8)}
    eager = cases[("resnet50", "eager", 1)].skip_reason
    assert eager.startswith("profile smoke: eager Keras runs ResNet-50 layer by layer")
    assert cases[("resnet50", "xla", 8)].skip_reason.endswith("; the full profile times it everywhere")
    assert cases[("resnet50", "function", 1)].params["image_size"] == 32
    assert cases[("book", "xla", 1)].params["image_size"] == 28


def test_standard_times_resnets_slow_modes_on_gpus_only_and_full_everywhere_at_224_pixels():
    assert len(runnable(make_cases(INFERENCE, get_profile("standard"), [TF_GPU]))) == 12
    cpu = keyed(make_cases(INFERENCE, get_profile("standard"), [TF_CPU]))
    assert {k for k, c in cpu.items() if c.skip_reason} == {
        ("resnet50", m, b) for m in ("eager", "xla") for b in (1, 16)
    }
    assert cpu[("resnet50", "eager", 16)].skip_reason.startswith("profile standard: eager Keras runs ResNet-50")
    assert cpu[("resnet50", "function", 1)].params["image_size"] == 64
    for device in (TF_CPU, TF_GPU, TORCH_CPU):
        assert all(c.skip_reason is None for c in make_cases(INFERENCE, get_profile("full"), [device]))
    full = keyed(make_cases(INFERENCE, get_profile("full"), [TF_GPU]))
    assert full[("resnet50", "xla", 128)].params["image_size"] == 224 and ("book", "eager", 4096) in full


def test_torch_inference_is_eager_and_compile_and_smoke_leaves_out_compiling_resnet():
    cases = keyed(make_cases(INFERENCE, get_profile("smoke"), [TORCH_GPU]))
    assert {m for _, m, _ in cases} == {"eager", "compile"}
    assert cases[("resnet50", "compile", 1)].skip_reason.startswith("profile smoke: torch.compile of ResNet-50")
    assert cases[("resnet50", "eager", 1)].skip_reason is None
    assert cases[("book", "compile", 256)].skip_reason is None


def test_case_ids_are_unique_and_say_model_size_mode_and_batch():
    cases = make_cases(INFERENCE, get_profile("smoke"), [TF_CPU, TF_GPU])
    ids = [c.id for c in cases]
    assert len(set(ids)) == len(ids)
    assert "tensorflow-CPU:0-book-eager-b1" in ids and "tensorflow-GPU:0-resnet50-32px-function-b8" in ids


@pytest.mark.parametrize("profile", [name for name, p in PROFILES.items() if p.runs("inference")])
def test_batch_one_is_a_fixed_number_of_requests_and_large_batches_follow_the_time_budget(profile):
    p = get_profile(profile)
    requests = INFERENCE.sizes_for(p).requests
    assert inference_schedule(p, {"batch_size": 1}) == (3, requests)
    assert requests >= 100  # a p99 needs about a hundred requests
    assert inference_schedule(p, {"batch_size": 64}) is None


def test_throughput_is_samples_per_second():
    assert INFERENCE.throughput({"batch_size": 256}, 0.5) == 512.0


def test_latency_percentiles_of_the_rounds():
    times = [t / 1000 for t in range(1, 101)]  # 1 ms ... 100 ms
    facts = latency_percentiles({"batch_size": 1}, times)
    assert facts["requests"] == 100
    assert facts["latency_p50_s"] == pytest.approx(0.0505)
    assert facts["latency_p90_s"] == pytest.approx(0.0901)
    assert facts["latency_p99_s"] == pytest.approx(0.09901)
    assert facts["latency_max_s"] == 0.1
    assert set(facts) == {"requests", "latency_p50_s", "latency_p90_s", "latency_p99_s", "latency_max_s"}


def test_relative_error_is_scaled_by_the_reference():
    ref = np.array([[1.0, -4.0], [2.0, 0.0]])
    assert relative_error(ref.copy(), ref) == 0.0
    assert relative_error(ref + np.array([[0.0, 0.0], [0.0, 0.004]]), ref) == pytest.approx(0.001)
    assert relative_error(ref[:1], ref) == math.inf
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.ones(3), np.zeros(3)) == math.inf


def test_rounding_passes_and_a_wrong_output_fails_with_the_reason():
    ref = np.linspace(-3, 3, 1000).astype(np.float32)
    rounded = ref * np.float32(1 + 3e-6)
    ok = reference_facts(rounded, ref, "float32")
    assert ok["matches_reference"] is True and ok["tolerance"] == REFERENCE_TOLERANCE["float32"]
    assert inference_check(ok) is None
    wrong = reference_facts(ref * 0.5, ref, "float32")
    assert wrong["matches_reference"] is False
    assert inference_check(wrong) == (
        "the output differs from the eager reference: relative error 0.5 above the float32 tolerance 0.001"
    )
    shapes = reference_facts(ref[:10], ref, "float32")
    assert shapes["relative_error"] is None
    assert "not comparable (shapes differ)" in inference_check(shapes)
    assert inference_check({}) == "the output was not checked against the eager reference"


def test_tf32_is_allowed_its_coarser_rounding_but_not_a_wrong_result():
    ref = np.linspace(-3, 3, 1000)
    tf32_like = ref * (1 + 4e-3)
    assert reference_facts(tf32_like, ref, "float32")["matches_reference"] is False
    assert reference_facts(tf32_like, ref, "tf32")["matches_reference"] is True
    assert reference_facts(-ref, ref, "tf32")["matches_reference"] is False


def test_checkpoint_cases_per_backend_and_profile():
    smoke = [c.params for c in make_cases(CHECKPOINT, get_profile("smoke"), [TF_CPU, TORCH_GPU])]
    assert [(p["format"], p["direction"]) for p in smoke] == [
        ("tf-checkpoint", "save"),
        ("tf-checkpoint", "restore"),
        ("keras", "save"),
        ("keras", "restore"),
        ("torch-state-dict", "save"),
        ("torch-state-dict", "restore"),
    ]
    assert {p["model"] for p in smoke} == {"book"}
    standard = make_cases(CHECKPOINT, get_profile("standard"), [TF_GPU])
    assert {c.params["model"] for c in standard} == {"book", "resnet50"} and len(standard) == 8


def test_checkpoint_work_is_the_models_weight_bytes():
    assert BOOK_PARAMETERS == 784 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 10 + 10
    assert weight_bytes({"format": "keras", "direction": "save", "model": "book"}) == 7_454_760
    assert (
        weight_bytes({"format": "torch-state-dict", "direction": "restore", "model": "resnet50"})
        == (WEIGHT_BYTES[("torch", "resnet50")])
    )
    assert CHECKPOINT.throughput({"format": "tf-checkpoint", "direction": "save", "model": "book"}, 0.5) == (
        pytest.approx(7_454_760 / 0.5 / 1e6)
    )


def test_resnet_checkpoints_take_one_warm_up_call_and_the_fewest_rounds():
    smoke = get_profile("smoke")
    assert checkpoint_schedule(smoke, {"model": "resnet50"}) == (1, smoke.min_rounds)
    assert checkpoint_schedule(smoke, {"model": "book"}) is None


def test_a_checkpoint_that_does_not_round_trip_measures_nothing():
    assert checkpoint_check({"weights_equal": True}) is None
    assert checkpoint_check({"weights_equal": False}) == "the restored weights differ from the saved ones"
    assert checkpoint_check({}) == "the restored weights differ from the saved ones"


def test_dispatch_modes_per_backend_and_steps_per_profile():
    tf_modes = [c.params["mode"] for c in make_cases(DISPATCH, get_profile("smoke"), [TF_GPU])]
    assert tf_modes == ["eager", "function", "function-loop"]
    (torch_case,) = make_cases(DISPATCH, get_profile("full"), [TORCH_CPU])
    assert torch_case.params == {"mode": "eager", "points": 50, "degree": 3, "steps_per_call": 1000}
    assert DISPATCH.throughput(torch_case.params, 2.0) == 500.0


def test_the_polynomial_data_is_the_books_50_points_from_a_fixed_seed():
    x, y = polynomial_data(50, 3)
    assert x.shape == y.shape == (50,) and x.dtype == y.dtype == np.float32
    assert (x[0], x[-1]) == (-1.0, 1.0)
    np.testing.assert_array_equal(y, polynomial_data(50, 3)[1])
    assert np.abs(y - np.polyval(TRUE_COEFFICIENTS, x)).max() < 0.2  # noise of sd 0.05
    with pytest.raises(ValueError, match="degree 3, not 2"):
        polynomial_data(50, 2)


def test_microseconds_per_step_and_per_op():
    facts = per_op_facts(0.02, steps=100, ops_per_step=50)
    assert facts == {"us_per_step": pytest.approx(200.0), "ops_per_step": 50, "us_per_op": pytest.approx(4.0)}


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        ({"initial_loss": 2.0, "final_loss": 0.1}, None),
        ({"initial_loss": 2.0, "final_loss": float("nan")}, "the fit diverged: the final loss is nan"),
        ({"initial_loss": 2.0, "final_loss": 2.5}, "the fit did not learn: the loss went from 2.0 to 2.5"),
    ],
)
def test_a_fit_that_does_not_learn_measures_nothing(facts, reason):
    assert dispatch_check(facts) == reason
