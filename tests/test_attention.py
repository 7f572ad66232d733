"""The attention workload: its FLOP count, cases, labels and skips, the float64 check, the SDPA backend it records,
and the hand-written attention of tools/attention_vs_loop.py (tiny shapes; no timing is asserted)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from bench.devices import Device
from bench.profiles import get_profile
from bench.workloads.attention import (
    GPU_TOKENS,
    TOLERANCE,
    attention_cases,
    attention_check,
    attention_flops,
    attention_label,
    attention_params,
    check_rows,
    dtype_unsupported,
    reference_facts,
    reference_rows,
)

CPU = Device("torch", "CPU:0", "cpu", "cpu")
H100 = Device("torch", "GPU:0", "gpu", "NVIDIA H100 80GB HBM3", compute_capability="9.0")
T4 = Device("torch", "GPU:0", "gpu", "Tesla T4", compute_capability="7.5")


def params(pass_="forward", b=1, h=12, s=128, d=64, dtype="float32"):
    return {"pass": pass_, "batch": b, "heads": h, "seq_len": s, "head_dim": d, "dtype": dtype}


def test_the_flop_count_is_flashattentions_causal_half_with_backward_two_and_a_half_times_forward():
    # 4 b h s^2 d halved for causal: b=2, h=12, s=1024, d=64 -> 2 * 12 * 1024^2 * 64 * 2 = 3.22 GFLOP
    forward = attention_flops(params(b=2, s=1024))
    assert forward == 2 * 12 * 1024**2 * 64 * 2
    assert attention_flops(params("forward+backward", b=2, s=1024)) == 3.5 * forward


def test_gpu_cases_keep_16k_tokens_a_call_and_cpu_cases_stay_small():
    gpu = [p for p, reason in attention_params(get_profile("standard"), H100) if reason is None]
    assert {p["seq_len"] * p["batch"] for p in gpu} == {GPU_TOKENS}
    assert {(p["heads"], p["head_dim"]) for p in gpu} == {(12, 64), (32, 128)}
    assert {p["dtype"] for p in gpu} == {"float32", "bfloat16", "float16"}
    assert {p["pass"] for p in gpu} == {"forward", "forward+backward"}
    assert max(p["seq_len"] for p, _ in attention_params(get_profile("full"), H100)) == 8192
    smoke_cpu = [p for p, _ in attention_params(get_profile("smoke"), CPU)]
    assert [attention_label(p) for p in smoke_cpu] == [
        "fwd-h12x64-s128-b1-float32",
        "fwd-h12x64-s512-b1-float32",
        "fwdbwd-h12x64-s128-b1-float32",
        "fwdbwd-h12x64-s512-b1-float32",
    ]
    assert max(p["seq_len"] for p, _ in attention_params(get_profile("full"), CPU)) == 1024
    assert len(attention_params(get_profile("standard"), CPU)) == 4  # float32 only: the standard run keeps its time
    assert attention_cases(None) == []


def test_bfloat16_is_a_recorded_skip_on_a_gpu_before_ampere_only():
    assert dtype_unsupported(H100, "bfloat16") is None
    assert dtype_unsupported(CPU, "bfloat16") is None
    assert dtype_unsupported(T4, "float16") is None
    reason = dtype_unsupported(T4, "bfloat16")
    assert reason == (
        "bfloat16 attention needs compute capability 8.0 or newer (Ampere and later); GPU:0 (Tesla T4) is 7.5"
    )
    assert "did not report" in str(dtype_unsupported(Device("torch", "GPU:0", "gpu", "x"), "bfloat16"))


def test_checked_rows_include_the_first_and_the_last():
    assert check_rows(8).tolist() == list(range(8))
    rows = check_rows(1024)
    assert (rows[0], rows[-1], len(rows)) == (0, 1023, 16)


def _plain_attention(q, k, v):
    """Causal attention of one head in float64, the obvious way (the whole matrix)."""
    s = q.shape[0]
    scores = q @ k.T / math.sqrt(q.shape[1])
    scores[np.triu_indices(s, 1)] = -np.inf
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    return (p / p.sum(axis=1, keepdims=True)) @ v


def test_the_reference_rows_are_causal_attention_and_its_dq_the_numerical_gradient():
    rng = np.random.default_rng(0)
    q, k, v, g = (rng.standard_normal((12, 4)) for _ in range(4))
    rows = check_rows(12, 5)
    out, dq = reference_rows(q, k, v, rows, g)
    np.testing.assert_allclose(out, _plain_attention(q, k, v)[rows], rtol=1e-12)
    step, numeric = 1e-6, np.zeros_like(q)
    for i in range(q.shape[0]):
        for j in range(q.shape[1]):
            up, down = q.copy(), q.copy()
            up[i, j] += step
            down[i, j] -= step
            loss = np.sum((_plain_attention(up, k, v) - _plain_attention(down, k, v)) * g)
            numeric[i, j] = loss / (2 * step)
    np.testing.assert_allclose(dq, numeric[rows], rtol=1e-5, atol=1e-8)
    assert reference_rows(q, k, v, rows)[1] is None


def test_an_output_off_the_reference_fails_the_case_with_its_error_and_tolerance():
    ref = np.ones((4, 8))
    good = reference_facts("bfloat16", ref * (1 + 0.01), ref)
    assert good["matches_reference"] is True and good["tolerance"] == TOLERANCE["bfloat16"]
    assert attention_check({**good, "dtype": "bfloat16"}) is None
    bad = reference_facts("float32", ref * 1.01, ref, dq=ref, ref_dq=ref)
    assert bad["reference_error"] == pytest.approx(0.01) and bad["matches_reference"] is False
    assert "output and dQ" in bad["reference"]
    assert attention_check({**bad, "dtype": "float32"}) == (
        "the output differs from the float64 reference: relative error 0.01 above the float32 tolerance 0.005"
    )
    nan = reference_facts("float16", ref * np.nan, ref)
    assert nan["reference_error"] is None and nan["matches_reference"] is False
    assert "not finite" in str(attention_check({**nan, "dtype": "float16"}))
    assert attention_check({}) == "the output was not checked against the float64 reference"


# --- the hand-written attention of tools/attention_vs_loop.py -------------------------------------------------


@pytest.mark.parametrize("block", [4, 5, 64])
def test_the_hand_written_loops_match_the_reference_forward_and_backward(block):
    torch = pytest.importorskip("torch")
    from tools.attention_vs_loop import hand_written, numpy_ops, torch_ops

    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((2, 13, 4)) for _ in range(4)]
    rows = np.arange(13)
    out = hand_written(numpy_ops(), arrays, False, block)()
    dq, dk, dv = hand_written(numpy_ops(), arrays, True, block)()
    for head in range(2):
        ref_out, ref_dq = reference_rows(*(a[head] for a in arrays[:3]), rows, arrays[3][head])
        np.testing.assert_allclose(out[head], ref_out, rtol=1e-10)
        np.testing.assert_allclose(dq[head], ref_dq, rtol=1e-9, atol=1e-12)
    tensors = [torch.from_numpy(a).requires_grad_(True) for a in arrays[:3]]
    expected = torch.nn.functional.scaled_dot_product_attention(*tensors, is_causal=True)
    grads = torch.autograd.grad(expected, tensors, torch.from_numpy(arrays[3]))
    for mine, theirs in zip((dq, dk, dv), grads, strict=True):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-9, atol=1e-12)
    in_torch = hand_written(torch_ops(), [torch.from_numpy(a) for a in arrays], True, block)()
    for mine, theirs in zip(in_torch, grads, strict=True):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-9, atol=1e-12)


# --- the real builders on this machine's CPU (tiny shapes) ------------------------------------------------------


def _case(backend, **overrides):
    from bench.cases import Case
    from bench.workloads.attention import WORKLOAD

    device = overrides.pop("device", Device(backend, "CPU:0", "cpu", "cpu"))
    return Case(WORKLOAD, device, params(**{"s": 24, "h": 2, "d": 8, **overrides}))


def _twin_facts(monkeypatch, backend, case):
    """The facts the scripted twin (tests/fake_workloads.py) records for `case` on a CPU-only scripted host."""
    from tests.fake_backend import FakeTensorFlowBackend, FakeTorchBackend

    monkeypatch.setenv("DEVICEBENCH_FAKE_HOST", "laptop")
    twin = FakeTorchBackend() if backend == "torch" else FakeTensorFlowBackend()
    prepared = twin.build(case)
    prepared.call()
    return prepared.facts(0.001)


DESCRIBING = ("sdpa_backend", "sdpa_kernel", "jit", "layout", "variant", "reference", "tolerance", "matches_reference")


def assert_twin_records_the_same(real, fake):
    """The scripted twin writes the real builder's keys in its order, and the same describing values."""
    assert list(fake) == list(real)
    assert {k: fake[k] for k in DESCRIBING if k in real} == {k: real[k] for k in DESCRIBING if k in real}


def test_torch_records_the_sdpa_kernel_it_ran_and_checks_output_and_dq(monkeypatch):
    pytest.importorskip("torch")
    from bench.backends.torch_attention import build_attention
    from bench.workloads.attention import sdpa_backend

    case = _case("torch", pass_="forward+backward")
    prepared = build_attention(case, backend=None)
    dq, dk, dv = prepared.call()
    assert dq.shape == dk.shape == dv.shape == (1, 2, 24, 8)
    facts = prepared.facts(0.001)
    # torch's CPU order is its flash kernel, then math (sdp_utils_cpp.cpp): this shape and float32 take flash
    assert (facts["sdpa_backend"], facts["sdpa_kernel"]) == ("flash", "_scaled_dot_product_flash_attention_for_cpu")
    assert facts["matches_reference"] is True and facts["reference_error"] < 1e-5
    assert facts["reference"] == "float64 numpy on 16 query rows of head (0, 0), output and dQ"
    assert_twin_records_the_same(facts, _twin_facts(monkeypatch, "torch", case))
    assert sdpa_backend(["mul", "bmm", "_safe_softmax", "bmm"]) == ("math", "bmm + softmax (the math fallback)")
    assert sdpa_backend(["_scaled_dot_product_efficient_attention"])[0] == "memory-efficient"
    assert sdpa_backend(["_scaled_dot_product_cudnn_attention"])[0] == "cuDNN"


def test_a_kernel_that_forgets_the_causal_mask_fails_its_check(monkeypatch):
    torch = pytest.importorskip("torch")
    from bench.backends import torch_attention

    plain = torch.nn.functional.scaled_dot_product_attention
    monkeypatch.setattr(torch_attention.F, "scaled_dot_product_attention", lambda q, k, v, is_causal: plain(q, k, v))
    facts = torch_attention.build_attention(_case("torch"), backend=None).facts(0.001)
    assert facts["matches_reference"] is False and facts["reference_error"] > 0.1
    assert attention_check({**facts, "dtype": "float32"}).startswith("the output differs from the float64 reference")


def test_an_unsupported_dtype_is_skipped_before_anything_is_made_on_the_device():
    pytest.importorskip("torch")
    from bench.backends.base import CaseSkipped
    from bench.backends.torch_attention import build_attention

    with pytest.raises(CaseSkipped) as skipped:
        build_attention(_case("torch", dtype="bfloat16", device=T4), backend=None)
    assert skipped.value.kind == "unsupported" and "7.5" in skipped.value.reason


def test_tensorflow_compiles_the_pass_with_xla_and_checks_output_and_dq(monkeypatch):
    pytest.importorskip("tensorflow")
    from bench.backends.tf_attention import build_attention
    from bench.workloads.attention import JIT

    case = _case("tensorflow", pass_="forward+backward", dtype="bfloat16")
    prepared = build_attention(case, backend=None)
    out, dq, dk, dv = prepared.call()
    assert out.shape == dq.shape == dk.shape == dv.shape == (1, 2, 24, 8) and "CPU:0" in out.device
    facts = prepared.facts(0.001)
    assert facts["jit"] == JIT and facts["matches_reference"] is True
    assert 0 < facts["reference_error"] < TOLERANCE["bfloat16"]
    assert_twin_records_the_same(facts, _twin_facts(monkeypatch, "tensorflow", case))


# --- what a run's files give the report (the golden runs, made by the real plugin on the scripted twins) --------

MIXEDBOX = Path(__file__).parent / "data" / "backends" / "20261123-100000-mixedbox"


def test_the_report_judges_attention_against_the_skus_peak_in_its_own_unit_and_gives_it_a_section():
    from reports import sections, specs
    from reports.load import read_run, tidy

    frame = tidy([read_run(MIXEDBOX)])
    rows = frame[(frame["workload"] == "attention") & (frame["device_kind"] == "gpu")]
    assert len(rows) == 16 and set(rows["throughput_unit"]) == {"TFLOP/s"}
    for _, row in rows.iterrows():  # TFLOP/s against a peak in GFLOP/s
        assert row["pct_of_peak"] == pytest.approx(100 * row["throughput"] * 1e3 / row["peak_gflops"])
    bf16 = rows[rows["dtype"] == "bfloat16"].iloc[0]
    assert str(bf16["peak_basis"]).startswith("BF16 tensor-core peak")
    spec = specs.spec_of("attention")
    table = sections.generic_table(frame, spec)
    assert list(table.columns) == [
        "device", "pass", "heads", "head_dim", "dtype", "seq_len", "TFLOP/s", "pct_of_peak", "peak_basis",
        "sdpa_backend", "jit",
    ]  # fmt: skip
    torch_gpu = table[table["device"].str.startswith("torch GPU")]
    assert set(torch_gpu["sdpa_backend"]) == {"flash", "memory-efficient"}
    assert all(cell.endswith("%") for cell in table["pct_of_peak"])
    findings = [line for line in sections.headlines(frame) if line.startswith("Causal attention on")]
    assert any("GPU:0: best share of the peak for its dtype" in line for line in findings)


def test_the_tool_reads_a_runs_figures_in_gflops_and_flags_a_timing_that_disagrees_with_them():
    from tools.attention_vs_loop import measure, report, run_figures

    laptop = Path(__file__).parent / "data" / "runs" / "20261120-090000-laptop"
    found = run_figures(str(laptop))
    assert [(p["pass"], p["seq_len"], sorted(f)) for p, f in found] == [
        ("forward", 128, ["tensorflow"]),
        ("forward", 512, ["tensorflow"]),
        ("forward+backward", 128, ["tensorflow"]),
        ("forward+backward", 512, ["tensorflow"]),
    ]
    params, figures = found[1]
    seconds = attention_flops(params) / (figures["tensorflow"] * 1e9)  # the run's own figure, as a time
    lines, ok = report(
        params, {"tensorflow (the suite's call)": seconds * 1.04, "numpy loop": seconds * 3}, figures, 0.05
    )
    assert ok and "0.96x run's tensorflow" in lines[1] and "0.33x run's tensorflow" in lines[2]
    lines, ok = report(params, {"tensorflow (the suite's call)": seconds * 1.06}, figures, 0.05)
    assert not ok and lines[1].endswith("DISAGREES")
    now = [0.0]

    def advance(seconds):
        now[0] += seconds

    # each measurement runs calls back to back for MIN_SECONDS (0.05): 5 calls of a, 3 of b; the median per call
    times = measure({"a": lambda: advance(0.01), "b": lambda: advance(0.02)}, passes=3, clock=lambda: now[0])
    assert times == {"a": pytest.approx(0.01), "b": pytest.approx(0.02)}
