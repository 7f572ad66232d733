"""The training workloads' cases per profile and device: precisions, batch lists and skips with reasons (pure)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from bench.cases import make_cases
from bench.devices import Device
from bench.profiles import PROFILES, get_profile
from bench.workloads import WORKLOADS, mnist_amp, precision, resnet50_train
from bench.workloads.mnist_amp import MNIST_AMP
from bench.workloads.mnist_batch import MNIST_BATCH
from bench.workloads.precision import precision_skip_reason, precisions_for
from bench.workloads.resnet50_train import RESNET50_TRAIN

CPU = Device("tensorflow", "CPU:0", "cpu", "Some CPU")
H100 = Device("tensorflow", "GPU:0", "gpu", "NVIDIA H100 80GB HBM3", compute_capability="9.0")
V100 = Device("tensorflow", "GPU:1", "gpu", "Tesla V100-SXM2-16GB", compute_capability="7.0")
TORCH_CPU = Device("torch", "CPU:0", "cpu", "Some CPU")
TORCH_GPU = Device("torch", "GPU:0", "gpu", "NVIDIA A100-SXM4-40GB", compute_capability="8.0")
BF16 = frozenset({"avx2", "avx512f", "avx512_bf16"})
AMX = frozenset({"avx2", "amx_bf16", "amx_tile"})
PLAIN = frozenset({"avx2", "fma"})
TRAINING = (MNIST_AMP, RESNET50_TRAIN, MNIST_BATCH)


@pytest.fixture
def cpu_has(monkeypatch):
    """Script the CPU's py-cpuinfo flags the workloads see."""

    def script(flags: frozenset[str]) -> None:
        for module in (mnist_amp, resnet50_train):
            monkeypatch.setattr(module, "cpu_flags", lambda: flags)

    return script


def test_float32_runs_everywhere():
    for device in (CPU, H100, V100):
        assert precision_skip_reason(device, "float32", PLAIN) is None


def test_loss_scaled_float16_is_a_gpu_mode():
    assert precision_skip_reason(H100, "mixed_float16", PLAIN) is None
    assert precision_skip_reason(V100, "mixed_float16", PLAIN) is None
    reason = precision_skip_reason(CPU, "mixed_float16", BF16)
    assert reason == "mixed_float16 (loss-scaled float16) is a GPU mode; CPUs train mixed precision in bfloat16"


@pytest.mark.parametrize(("flags", "runs"), [(BF16, True), (AMX, True), (PLAIN, False), (frozenset(), False)])
def test_bfloat16_on_cpus_needs_avx512_bf16_or_amx(flags, runs):
    reason = precision_skip_reason(CPU, "mixed_bfloat16", flags)
    if runs:
        assert reason is None
    else:
        assert reason == (
            "this CPU has neither AVX-512 BF16 nor AMX (py-cpuinfo flags avx512_bf16/amx_bf16): "
            "bfloat16 would be emulated, not a mixed-precision speed"
        )


def test_bfloat16_on_gpus_needs_ampere():
    assert precision_skip_reason(H100, "mixed_bfloat16", PLAIN) is None
    assert precision_skip_reason(TORCH_GPU, "mixed_bfloat16", PLAIN) is None
    assert precision_skip_reason(V100, "mixed_bfloat16", PLAIN) == (
        "GPU:1 (Tesla V100-SXM2-16GB) has compute capability 7.0: bfloat16 needs 8.0 (Ampere) or newer"
    )
    unknown = dataclasses.replace(H100, compute_capability=None)
    assert precision_skip_reason(unknown, "mixed_bfloat16", PLAIN) is None  # not known to lack it: it runs


def test_unknown_precision_is_an_error():
    with pytest.raises(ValueError, match="unknown precision 'int8'; precisions: float32, mixed_float16"):
        precision_skip_reason(CPU, "int8", PLAIN)


def test_a_profile_can_keep_cpus_at_float32():
    assert dict(precisions_for(CPU, BF16, cpu_mixed=False))["mixed_bfloat16"] == (
        "mixed_bfloat16 on CPUs runs in the standard and full profiles, not in this one"
    )
    assert dict(precisions_for(CPU, BF16, cpu_mixed=True))["mixed_bfloat16"] is None


def test_cpu_flags_come_from_py_cpuinfo():
    flags = precision.cpu_flags()
    assert isinstance(flags, frozenset)
    assert all(isinstance(f, str) for f in flags)


def test_amp_cases_pair_every_mixed_case_with_a_float32_twin(cpu_has):
    cpu_has(PLAIN)
    cases = make_cases(MNIST_AMP, get_profile("smoke"), [CPU, H100])
    runs = {(c.device.name, c.params["mode"], c.params["precision"], c.params["batch_size"]) for c in cases}
    gpu_mixed = [c for c in cases if c.device.kind == "gpu" and c.params["precision"] != "float32"]
    assert len(gpu_mixed) == 2 * 2 and all(c.skip_reason is None for c in gpu_mixed)  # 2 precisions x 2 batches
    for _, mode, _, batch in {r for r in runs if r[2] != "float32"}:
        assert ("GPU:0", mode, "float32", batch) in runs
    cpu = {c.params["precision"]: c.skip_reason for c in cases if c.device.kind == "cpu"}
    assert cpu["float32"] is None
    assert "GPU mode" in cpu["mixed_float16"] and "AVX-512 BF16" in cpu["mixed_bfloat16"]
    assert {c.params["batch_size"] for c in cases if c.device.kind == "cpu"} == {64}
    assert {c.params["mode"] for c in cases} == {"function"}  # smoke: the compiled step only
    standard = make_cases(MNIST_AMP, get_profile("standard"), [H100])
    assert {c.params["mode"] for c in standard} == {"function", "xla", "keras-fit"}


@pytest.mark.parametrize("name", [name for name, p in PROFILES.items() if p.runs("mnist_amp")])
def test_profiles_pick_known_modes(name):
    knobs = mnist_amp.MNIST_AMP.sizes_for(get_profile(name))
    assert set(knobs.modes_tf) <= set(mnist_amp.TF_MODES)
    assert set(knobs.modes_torch) <= set(mnist_amp.TORCH_MODES)


def test_amp_runs_bfloat16_on_a_cpu_that_has_it_and_torch_has_its_own_modes(cpu_has):
    cpu_has(AMX)
    cases = make_cases(MNIST_AMP, get_profile("standard"), [TORCH_CPU])
    running = {(c.params["mode"], c.params["precision"]) for c in cases if c.skip_reason is None}
    assert running == {(m, p) for m in ("eager", "compile") for p in ("float32", "mixed_bfloat16")}
    assert cases[0].id == "torch-CPU:0-eager-float32-b64"


def test_resnet_cases_follow_the_profiles(cpu_has):
    cpu_has(BF16)
    smoke = make_cases(RESNET50_TRAIN, get_profile("smoke"), [CPU, H100])
    cpu_runs = [c for c in smoke if c.device.kind == "cpu" and c.skip_reason is None]
    assert {(c.params["precision"], c.params["image_size"]) for c in cpu_runs} == {("float32", 32)}
    assert all(c.params["image_size"] == 32 for c in smoke)
    full = make_cases(RESNET50_TRAIN, get_profile("full"), [H100])
    fp32 = {c.params["batch_size"] for c in full if c.params["precision"] == "float32"}
    assert {64, 128, 256} <= fp32 and {c.params["image_size"] for c in full} == {224}
    assert {c.params["precision"] for c in full if c.skip_reason is None} == {
        "float32",
        "mixed_float16",
        "mixed_bfloat16",
    }
    standard_cpu = make_cases(RESNET50_TRAIN, get_profile("standard"), [CPU])
    assert {c.params["precision"] for c in standard_cpu if c.skip_reason is None} == {"float32", "mixed_bfloat16"}
    assert smoke[0].id == "tensorflow-CPU:0-float32-32px-b4"


def test_resnet_on_an_old_gpu_skips_bfloat16_with_the_reason(cpu_has):
    cpu_has(PLAIN)
    cases = make_cases(RESNET50_TRAIN, get_profile("full"), [V100])
    bf16 = [c for c in cases if c.params["precision"] == "mixed_bfloat16"]
    assert bf16 and all("compute capability 7.0" in c.skip_reason for c in bf16)


def test_sweep_trains_about_the_same_samples_per_call_whatever_the_batch():
    profile = get_profile("standard")
    cases = make_cases(MNIST_BATCH, profile, [CPU, H100, TORCH_GPU])
    for case in cases:
        samples = case.params["steps_per_call"] * case.params["batch_size"]
        wanted = MNIST_BATCH.sizes_for(profile).samples_per_call
        assert wanted <= samples < wanted + case.params["batch_size"]
    assert [c.params["batch_size"] for c in cases if c.device == CPU] == list(
        MNIST_BATCH.sizes_for(profile).batches_cpu
    )
    assert [c.params["batch_size"] for c in cases if c.device == H100] == list(
        MNIST_BATCH.sizes_for(profile).batches_gpu
    )
    assert {c.params["mode"] for c in cases if c.device == TORCH_GPU} == {"eager"}
    assert {c.params["mode"] for c in cases if c.device == H100} == {"function"}


def test_a_sweep_batch_larger_than_mnist_is_a_skip_with_the_reason():
    base = get_profile("smoke")
    sweep = dataclasses.replace(MNIST_BATCH.sizes_for(base), batches_gpu=(1024, 65536), samples_per_call=100)
    profile = dataclasses.replace(base, sizes={"mnist_batch": sweep})
    cases = make_cases(MNIST_BATCH, profile, [H100])
    assert [(c.params["batch_size"], c.params["steps_per_call"], c.skip_reason) for c in cases] == [
        (1024, 1, None),
        (65536, 1, "batch 65536 is larger than MNIST's 60000 samples"),
    ]


@pytest.mark.parametrize("name", PROFILES)
def test_every_case_carries_exactly_its_specs_params(name, cpu_has):
    cpu_has(BF16)
    for workload in TRAINING:
        assert WORKLOADS[workload.name] is workload
        spec = workload.spec
        for case in make_cases(workload, get_profile(name), [CPU, H100, TORCH_CPU, TORCH_GPU]):
            assert set(case.params) == set(spec.params), case.id
            calls = case.params["calls"]
            assert workload.schedule(get_profile(name), case.params) == (1, calls - 1)
            assert calls - 1 >= 5  # rounds enough for the regression gate


def test_work_per_call_and_throughput():
    params = {"mode": "function", "precision": "float32", "batch_size": 64, "steps_per_call": 10, "calls": 6}
    assert MNIST_AMP.work_per_call(params) == 640
    assert MNIST_AMP.throughput(params, 0.5) == pytest.approx(1280.0)
    resnet = {"precision": "mixed_float16", "image_size": 224, "batch_size": 256, "steps_per_call": 10, "calls": 7}
    assert RESNET50_TRAIN.work_per_call(resnet) == 2560
    assert RESNET50_TRAIN.throughput_unit == "images/s"
    assert RESNET50_TRAIN.label(resnet) == "mixed_float16-224px-b256"


@pytest.mark.parametrize(
    ("facts", "failure"),
    [
        ({"initial_loss": 7.0, "final_loss": 2.0}, None),
        ({"initial_loss": 7.0, "final_loss": math.nan}, "training diverged: the final loss is nan"),
        ({"initial_loss": 7.0, "final_loss": 7.5}, "training did not learn: the loss went from 7 to 7.5"),
    ],
)
def test_a_training_case_that_diverged_or_did_not_learn_fails(facts, failure):
    assert MNIST_AMP.check(facts) == failure
    assert RESNET50_TRAIN.check(facts) == failure


def test_a_sweep_case_fails_only_when_its_loss_diverged():
    assert MNIST_BATCH.check({"initial_loss": 2.5, "final_loss": 4.3}) is None  # large batches may rise first
    diverged = MNIST_BATCH.check({"initial_loss": 2.5, "final_loss": math.inf})
    assert diverged == "training diverged: the final loss is inf"
    assert MNIST_BATCH.check({}) == "training diverged: the final loss is None"
