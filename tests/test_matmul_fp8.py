"""FP8 matmul: where it runs (SM 8.9 and newer, torch), the recorded skip elsewhere, and the call itself."""

from __future__ import annotations

import pytest
import torch

from bench.backends.torch_matmul import build_matmul, fp8_matmul
from bench.cases import Case, make_cases
from bench.devices import Device
from bench.profiles import get_profile
from bench.runner import CaseSkipped
from bench.workloads.matmul import FP8, MATMUL, TF_NO_FP8, fp8_unsupported
from results_format import peak_key

H100 = Device("torch", "GPU:0", "gpu", "NVIDIA H100 80GB HBM3", compute_capability="9.0")
L4 = Device("torch", "GPU:0", "gpu", "NVIDIA L4", compute_capability="8.9")
A100 = Device("torch", "GPU:0", "gpu", "NVIDIA A100-SXM4-80GB", compute_capability="8.0")
CPU = Device("torch", "CPU:0", "cpu", "cpu")
TF_H100 = Device("tensorflow", "GPU:0", "gpu", "NVIDIA H100 80GB HBM3", compute_capability="9.0")


def fp8_sizes(device: Device, profile: str = "full") -> list[int]:
    return [c.params["n"] for c in make_cases(MATMUL, get_profile(profile), [device]) if c.params["dtype"] == FP8]


def test_fp8_runs_at_every_size_divisible_by_16_on_sm89_and_newer() -> None:
    assert fp8_unsupported(H100) is None and fp8_unsupported(L4) is None
    assert fp8_sizes(H100) == [128, 256, 512, 1024, 2048, 4096, 8192, 10000, 16384]  # not n=100: 100 % 16 != 0
    assert fp8_sizes(L4, "standard") == [128, 256, 512, 1024, 2048, 4096]


@pytest.mark.parametrize(
    ("device", "reason"),
    [
        (A100, "FP8 matmul needs compute capability 8.9 or newer (Ada, Hopper and later); GPU:0 "
               "(NVIDIA A100-SXM4-80GB) is 8.0"),
        (CPU, "FP8 matmul needs a GPU with FP8 tensor cores (compute capability 8.9 or newer); CPU:0 is a CPU"),
        (TF_H100, TF_NO_FP8),
        (Device("torch", "GPU:0", "gpu", "x"), "FP8 matmul needs compute capability 8.9 or newer; GPU:0 did not "
                                               "report its capability"),
    ],
)  # fmt: skip
def test_elsewhere_one_fp8_case_is_a_recorded_unsupported_skip(device: Device, reason: str) -> None:
    assert fp8_unsupported(device) == reason
    cases = [c for c in make_cases(MATMUL, get_profile("standard"), [device]) if c.params["dtype"] == FP8]
    assert [c.params["n"] for c in cases] == [4096]  # one case stands for all sizes
    if device.backend == "torch":
        with pytest.raises(CaseSkipped) as info:
            build_matmul(cases[0], None)  # type: ignore[arg-type]
        assert (info.value.kind, info.value.reason) == ("unsupported", reason)


def test_tensorflow_records_why_it_has_no_fp8_matmul() -> None:
    pytest.importorskip("tensorflow")
    from bench.backends.tf_matmul import build_matmul as tf_build

    case = Case(MATMUL, TF_H100, {"n": 4096, "dtype": FP8})
    with pytest.raises(CaseSkipped) as info:
        tf_build(case, None)  # type: ignore[arg-type]
    assert info.value.kind == "unsupported" and info.value.reason.startswith("TensorFlow has no public FP8 matmul")


def test_the_fp8_call_is_scaled_mm_in_e4m3_with_a_column_major_second_operand() -> None:
    """On the CPU (torch runs _scaled_mm there too): the product matches float32's of the same e4m3 inputs."""
    call = fp8_matmul(32, torch.device("cpu"), m=48, k=64)
    out = call()
    assert out.shape == (48, 32) and out.dtype == torch.bfloat16
    a = torch.randn(48, 64, generator=torch.Generator().manual_seed(1)).to(torch.float8_e4m3fn).float()
    b = torch.randn(32, 64, generator=torch.Generator().manual_seed(2)).to(torch.float8_e4m3fn).float().t()
    torch.testing.assert_close(out.float(), a @ b, rtol=2e-2, atol=0.25)


def test_fp8_cases_are_judged_against_the_fp8_peak() -> None:
    assert peak_key(FP8) == "fp8"
