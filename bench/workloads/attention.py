"""Causal scaled-dot-product attention, forward and forward+backward: the kernel at the heart of a transformer.

One call is softmax(Q Kᵀ / √d + causal mask) V over `batch` x `heads` x `seq_len` x `head_dim` inputs made on the
device in the case's dtype, and, for `forward+backward`, the gradients of Q, K and V for a fixed upstream gradient.
The FLOP count is the FlashAttention papers' (Dao et al. 2022, arXiv:2205.14135; Dao 2023, FlashAttention-2,
arXiv:2307.08691, section 4.1; `flops` in flash-attention's benchmarks/benchmark_flash_attention.py): the forward
pass is 4·b·h·s²·d (two matmuls of 2·s²·d per head), halved for a causal mask, and the backward pass 2.5x the
forward (five matmuls instead of two, the probabilities recomputed), so forward+backward counts 3.5x the forward.
Softmax, scaling and masking are not counted, as in the papers; a kernel that computes the masked half anyway (a
plain implementation) or keeps the probabilities for the backward pass is still credited with this count, so the
figure says how fast the same useful work went, comparable across kernels.

GPT-2-like heads are 12 x 64 and LLaMA-like 32 x 128; GPUs run 512..8192 tokens with a batch that keeps
16384 tokens per call (FlashAttention-2's benchmark), CPUs 128..1024 tokens at batch 1, so the smoke profile keeps
its time promise. Every case is checked once before timing: a slice of its output (and, with the backward pass,
of dQ) against a float64 numpy reference on the same inputs; a wrong kernel fails the case."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.cases import Params, Workload
from bench.devices import Device
from bench.profiles import Profile
from bench.workloads.precision import compute_capability
from results_format.workloads import Fact, Plot, Section, WorkloadSpec

PASSES = ("forward", "forward+backward")
BACKWARD_FACTOR = 2.5  # the backward pass's FLOPs per forward FLOP (FlashAttention-2, section 4.1)
#: (heads, head_dim) of the two model families
GPT2 = (12, 64)
LLAMA = (32, 128)
#: a GPU call holds this many tokens (batch x seq_len), as FlashAttention-2's benchmark does
GPU_TOKENS = 16384
#: bfloat16 tensor cores (and torch's flash kernels for it) start with Ampere, compute capability 8.0
BF16_MIN_CC = (8, 0)
#: the query rows of head (0, 0) checked against the float64 reference: first, last and evenly between
CHECK_ROWS = 16
#: the largest error (max |out - ref| over max |ref|) each dtype may show; float32 allows TF32 matmuls on GPUs
#: (10-bit mantissa, 2^-11 relative per product); the half types round their inputs to the softmax's matmul too
TOLERANCE = {"float32": 5e-3, "float16": 1e-2, "bfloat16": 5e-2}


@dataclass(frozen=True)
class AttentionSizes:
    """The cases one profile makes on one kind of device."""

    seq_lens: tuple[int, ...]
    heads: tuple[tuple[int, int], ...]  # (heads, head_dim)
    dtypes: tuple[str, ...]
    passes: tuple[str, ...] = PASSES
    tokens: int = 0  # tokens per call (batch = tokens // seq_len); 0: batch 1


#: per profile, per device kind (the opt-in profiles, sustained and peaks, run no attention)
SIZES: dict[str, dict[str, AttentionSizes]] = {
    "smoke": {
        "cpu": AttentionSizes((128, 512), (GPT2,), ("float32",)),
        "gpu": AttentionSizes((512, 2048), (GPT2, LLAMA), ("float32", "bfloat16"), tokens=GPU_TOKENS),
    },
    "standard": {
        "cpu": AttentionSizes((256, 1024), (GPT2,), ("float32",)),  # the standard run keeps its 15 minutes
        "gpu": AttentionSizes((512, 2048, 8192), (GPT2, LLAMA), ("float32", "bfloat16", "float16"), tokens=GPU_TOKENS),
    },
    "full": {
        "cpu": AttentionSizes((128, 256, 512, 1024), (GPT2, LLAMA), ("float32", "bfloat16", "float16")),
        "gpu": AttentionSizes(
            (512, 1024, 2048, 4096, 8192), (GPT2, LLAMA), ("float32", "bfloat16", "float16"), tokens=GPU_TOKENS
        ),
    },
}


def attention_cases(sizes: AttentionSizes | None) -> list[Params]:
    """Every case of one profile on one kind of device: each pass, head shape, dtype and sequence length."""
    if sizes is None:
        return []
    return [
        {
            "pass": pass_,
            "heads": heads,
            "head_dim": head_dim,
            "dtype": dtype,
            "seq_len": seq_len,
            "batch": max(1, sizes.tokens // seq_len),
        }
        for pass_ in sizes.passes
        for heads, head_dim in sizes.heads
        for dtype in sizes.dtypes
        for seq_len in sizes.seq_lens
    ]


def attention_params(profile: Profile, device: Device) -> list[tuple[Params, str | None]]:
    """The cases of `profile` on `device`, none skipped at collection (an unsupported dtype is skipped when built)."""
    sizes: dict[str, AttentionSizes] = WORKLOAD.sizes_for(profile)
    return [(params, None) for params in attention_cases(sizes.get(device.kind))]


def attention_flops(params: Mapping[str, Any]) -> float:
    """FLOPs of one call by the FlashAttention count: 4·b·h·s²·d / 2 forward (causal), 3.5x that with backward."""
    b, h, s, d = (int(params[k]) for k in ("batch", "heads", "seq_len", "head_dim"))
    forward = 4.0 * b * h * s * s * d / 2.0
    return forward * (1.0 + BACKWARD_FACTOR) if params["pass"] == "forward+backward" else forward


def attention_label(params: Mapping[str, Any]) -> str:
    """The case label: `fwd-h12x64-s512-b1-float32` (`fwdbwd` with the backward pass)."""
    short = "fwdbwd" if params["pass"] == "forward+backward" else "fwd"
    return f"{short}-h{params['heads']}x{params['head_dim']}-s{params['seq_len']}-b{params['batch']}-{params['dtype']}"


def attention_text(params: Mapping[str, Any]) -> str:
    """The case as reports print it: `forward 12×64 s=512 b=1 float32`."""
    return (
        f"{params['pass']} {params['heads']}×{params['head_dim']} s={params['seq_len']} b={params['batch']} "
        f"{params['dtype']}"
    )


def variant(params: Mapping[str, Any]) -> str:
    """What one line of the report's plot is: the pass, the head shape and the dtype (`forward 12×64 float32`)."""
    return f"{params['pass']} {params['heads']}×{params['head_dim']} {params['dtype']}"


def dtype_unsupported(device: Device, dtype: str) -> str | None:
    """Why `device` cannot run attention in `dtype` (None: it can): bfloat16 on a GPU older than Ampere."""
    if device.kind != "gpu" or dtype != "bfloat16":
        return None
    cc = compute_capability(device.compute_capability)
    if cc is None:
        return f"bfloat16 attention needs compute capability 8.0 or newer; {device.name} did not report its capability"
    if cc < BF16_MIN_CC:
        return (
            f"bfloat16 attention needs compute capability 8.0 or newer (Ampere and later); {device.name} "
            f"({device.model}) is {cc[0]}.{cc[1]}"
        )
    return None


# --- what the backends record ---------------------------------------------------------------------------------

#: how TensorFlow runs the pass
JIT = "XLA (jit_compile=True)"
#: the axes of Q, K, V and the output, as both backends lay them out
LAYOUT = "batch, heads, seq_len, head_dim"

#: the aten op of each fused SDPA kernel, and the backend it is (torch.nn.attention.SDPBackend's)
SDPA_KERNELS = {
    "_scaled_dot_product_flash_attention": "flash",
    "_scaled_dot_product_flash_attention_for_cpu": "flash",
    "_scaled_dot_product_efficient_attention": "memory-efficient",
    "_scaled_dot_product_cudnn_attention": "cuDNN",
    "_scaled_dot_product_fused_attention_overrideable": "overrideable",
}
MATH = "math"


def sdpa_backend(ops: list[str]) -> tuple[str, str]:
    """(backend, kernel) from the aten ops one forward call dispatched; no fused kernel among them: the math one."""
    for op in ops:
        if op in SDPA_KERNELS:
            return SDPA_KERNELS[op], op
    return MATH, "bmm + softmax (the math fallback)"


# --- the float64 reference --------------------------------------------------------------------------------------


def check_rows(seq_len: int, count: int = CHECK_ROWS) -> np.ndarray:
    """The query rows checked: the first, the last (which attends to every key) and evenly spaced ones between."""
    return np.unique(np.linspace(0, seq_len - 1, min(count, seq_len)).round().astype(np.int64))


def reference_rows(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, rows: np.ndarray, d_out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Causal attention of one head (q, k, v: seq_len x head_dim) at `rows`, in float64: (out, dQ or None).

    dQ is the gradient of sum(out * d_out) with respect to Q at those rows: with P the rows' softmax,
    dP = d_out Vᵀ, dS = P ∘ (dP − rowsum(d_out ∘ out)), dQ = dS K / √d (FlashAttention's backward, Algorithm 4).
    """
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    scale = 1.0 / math.sqrt(q.shape[-1])
    scores = q[rows] @ k.T * scale
    scores = np.where(np.arange(k.shape[0])[None, :] <= rows[:, None], scores, -np.inf)
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    out = p @ v
    if d_out is None:
        return out, None
    g = np.asarray(d_out, dtype=np.float64)[rows]
    dp = g @ v.T
    ds = p * (dp - np.sum(g * out, axis=1, keepdims=True))
    return out, ds @ k * scale


def relative_error(actual: np.ndarray, reference: np.ndarray) -> float:
    """max |actual − reference| over max |reference|; inf when the shapes differ or a value is not finite."""
    actual, reference = np.asarray(actual, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if actual.shape != reference.shape or not np.all(np.isfinite(actual)):
        return math.inf
    scale = float(np.max(np.abs(reference))) or 1.0
    return float(np.max(np.abs(actual - reference))) / scale


def reference_facts(
    dtype: str, out: np.ndarray, ref_out: np.ndarray, dq: np.ndarray | None = None, ref_dq: np.ndarray | None = None
) -> dict[str, Any]:
    """The record of the check: the rows checked against float64 numpy, the largest error, tolerance and verdict."""
    errors = [relative_error(out, ref_out)]
    if ref_dq is not None:
        errors.append(math.inf if dq is None else relative_error(dq, ref_dq))
    error, tolerance = max(errors), TOLERANCE[dtype]
    return {
        "reference": f"float64 numpy on {len(ref_out)} query rows of head (0, 0)"
        + (", output and dQ" if ref_dq is not None else ", output"),
        "reference_error": error if math.isfinite(error) else None,
        "tolerance": tolerance,
        "matches_reference": bool(error <= tolerance),
    }


def attention_check(facts: Mapping[str, Any]) -> str | None:
    """Why an attention case measured nothing: its output differs from the float64 reference (or was not checked)."""
    if "matches_reference" not in facts:
        return "the output was not checked against the float64 reference"
    if facts["matches_reference"] is not True:
        error = facts.get("reference_error")
        shown = "not finite" if error is None else f"{error:.3g}"
        return (
            f"the output differs from the float64 reference: relative error {shown} above the "
            f"{facts.get('dtype')} tolerance {facts.get('tolerance')}"
        )
    return None


SPEC = WorkloadSpec(
    name="attention",
    version=1,
    title="causal attention",
    params=("pass", "heads", "head_dim", "dtype", "seq_len", "batch"),
    keys=("pass", "heads", "head_dim", "dtype", "seq_len"),
    work_unit="FLOP",  # FlashAttention's count: the causal half, the backward pass 2.5x the forward
    throughput_unit="TFLOP/s",
    facts=(
        Fact(
            name="pct_of_peak",
            description="share of the peak for its dtype",
            hint="percent",
            better="higher",
            headline=True,
        ),  # not recorded: reports/limits.py judges every FLOP case against the SKU's peak (a CPU's estimate)
        Fact(name="peak_basis", description="the peak it is judged against", hint="text"),
        Fact(name="sdpa_backend", description="the torch SDPA kernel that ran", hint="text"),
        Fact(name="sdpa_kernel", description="its aten op", hint="text"),
        Fact(name="jit", description="how TensorFlow compiled the pass", hint="text"),
        Fact(name="layout", description="the axes of Q, K, V and the output", hint="text"),
        Fact(name="variant", description="pass, heads × head dim and dtype: one line of the plot", hint="text"),
        Fact(name="reference", description="what the output was checked against", hint="text"),
        Fact(name="reference_error", description="max |out − ref| / max |ref|", better="lower", format=".2g"),
        Fact(name="tolerance", description="the largest reference_error the dtype may show", format=".2g"),
        Fact(name="matches_reference", description="reference_error within the tolerance", hint="text"),
    ),
    section=Section(
        title="Causal attention",
        table=("pct_of_peak", "peak_basis", "sdpa_backend", "jit"),
        plot=Plot(x="seq_len", y="throughput", series="variant", logx=True),
        note=(
            "TFLOP/s by the FlashAttention count (4·b·h·s²·d halved for the causal mask; forward+backward 3.5x "
            "forward); each case's output (and dQ) was checked against float64 numpy before timing."
        ),
    ),
)


ATTENTION = WORKLOAD = Workload(
    spec=SPEC,
    throughput_scale=1e12,
    backends=("tensorflow", "torch"),
    params_for=attention_params,
    work_per_call=attention_flops,
    label=attention_label,
    text=attention_text,
    check=attention_check,
    sizes=SIZES,
    batched=True,
)
