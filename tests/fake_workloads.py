"""The scripted single-device workloads: each call's time on the scripted machine, and the facts the real builders
record (bench/backends/tf_*.py and torch_*.py), key for key, so the golden runs read as real ones do.

Times are a fixed overhead plus the work at the device's scripted rate (tests/fake_hosts.py); a GPU's activity
during a call (utilisation, and its load: the share of its power span it draws) feeds tests/fake_gpus.py, where a
load above 1 hits the power limit (large half-precision matmuls do) and heat builds up where the script says so.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.backends.base import Prepared
from bench.cases import Case
from bench.devices import Device
from bench.runner import CaseSkipped
from bench.workloads.attention import (
    JIT,
    LAYOUT,
    attention_flops,
    check_rows,
    dtype_unsupported,
    reference_facts,
    variant,
)
from bench.workloads.matmul import FP8, fp8_unsupported
from bench.workloads.membw import ARRAYS_MOVED, EXPECTED, TRIAD_SCALAR, verify
from bench.workloads.mnist import EVAL_SAMPLES, STEPS_PER_EPOCH, samples_needed
from bench.workloads.peaks import Shape, batch_calls, best_shape_facts, search, search_shapes
from bench.workloads.sustained import RoundChecker
from bench.workloads.tfdata import input_bound
from bench.workloads.transfer import TF_COPY_NOTE
from tests.fake_clock import CLOCK
from tests.fake_hosts import matches

if TYPE_CHECKING:
    from tests.fake_backend import ScriptedBackend

MNIST_FLOP_PER_SAMPLE = 6 * (784 * 1024 + 1024 * 1024 + 1024 * 10)  # forward and backward of the book's model
MLP_FLOP_PER_BATCH = 6 * (784 * 128 + 128 * 128 + 128 * 10) * 1000  # the tf.data model on a batch of 1000
TFDATA_RATES = {"serial": 220e3, "autotune": 1.15e6, "autotune-prefetch": 1.3e6, "autotune-cache-prefetch": 2.8e6}
DTYPE_BYTES = {"float16": 2, "bfloat16": 2, "float32": 4, "float8_e4m3fn": 1}
# Tensor-core half-precision matmuls draw more power per unit of utilisation: large ones hit an H100's power limit.
POWER_WEIGHT = {"float16": 1.25, "bfloat16": 1.25}
MEMBW_LOAD = 0.6  # a memory-bound kernel keeps the GPU busy but draws less than a large matmul
# The torch copy descriptions (bench/backends/torch_transfer.py), by device kind and direction.
TORCH_NUMPY = {"cpu": "CPU tensors share memory with numpy (no copy)", "gpu": "copied over the host link"}
TORCH_CPU_COPY = {
    "h2d": "torch.from_numpy(array).to('cpu'): shares the numpy buffer, no copy",
    "d2h": "tensor.cpu().numpy(): shares the tensor's buffer, no copy",
}
TORCH_BOTH = "pinned h2d and d2h at once, one CUDA stream each (non_blocking=True)"


def matmul_time(backend: ScriptedBackend, device: Device, n: int, dtype: str) -> tuple[float, float, float]:
    """(seconds per call, seconds of arithmetic in it, the share of the peak this n reaches) of an n x n matmul."""
    slot = backend.slot(device)
    half_n = slot.model.half_n if slot else backend.host.cpu.half_n
    efficiency = 1 / (1 + (half_n / n) ** 2)
    compute_s = 2.0 * n**3 / (backend.gflops(device, dtype) * 1e9 * efficiency)
    return backend.flavour.dispatch_s[device.kind] + compute_s, compute_s, efficiency


def matmul_activity(seconds: float, compute_s: float, efficiency: float, dtype: str) -> tuple[float, float]:
    """(utilisation %, load) of a matmul call: busy while it computes, drawing more the closer it is to the peak."""
    util = min(99.0, 100 * compute_s / seconds)
    return util, 0.85 * util / 100 * efficiency * POWER_WEIGHT.get(dtype, 1.0)


def build_matmul(case: Case, backend: ScriptedBackend) -> Prepared:
    """n x n by n x n: a dispatch overhead plus 2n^3 FLOP at a peak that small sizes reach only in part."""
    n, dtype = int(case.params["n"]), str(case.params["dtype"])
    if dtype == FP8 and fp8_unsupported(case.device) is not None:  # as the real builders: a recorded skip
        raise CaseSkipped("unsupported", str(fp8_unsupported(case.device)))
    backend.prepare(case, 3 * n * n * DTYPE_BYTES[dtype])
    seconds, compute_s, efficiency = matmul_time(backend, case.device, n, dtype)
    util, load = matmul_activity(seconds, compute_s, efficiency, dtype)
    first_s = 3e-3 if case.device.kind == "gpu" else 5e-5  # the first call picks its kernels (and fills caches)
    call, _ = backend.call(case, seconds, first_s=first_s, util=util, load=load)
    return Prepared(call, backend.finish(case, lambda median_s: {}))


#: the scripted bonus of the shapes the fake cuBLAS tiles best: K at most half of M and N (tall-and-wide outputs),
#: so a searched shape beats square n, as MAMF-finder's searches do on real GPUs
BEST_SHAPE_BONUS = 1.06


def fake_shape_seconds(backend: ScriptedBackend, device: Device, shape: Shape, dtype: str) -> float:
    """One (M, N, K) call's seconds: dispatch plus 2MNK at the peak its output's smaller side reaches, bonus too."""
    m, n, k = shape
    slot = backend.slot(device)
    half_n = slot.model.half_n if slot else backend.host.cpu.half_n
    side = min(m, n, 4 * k)
    efficiency = 1 / (1 + (half_n / side) ** 2) * (BEST_SHAPE_BONUS if 2 * k <= min(m, n) else 1.0)
    peak = backend.gflops(device, dtype) * 1e9 * efficiency
    return backend.flavour.dispatch_s[device.kind] + 2.0 * m * n * k / peak


def build_peaks(case: Case, backend: ScriptedBackend) -> Prepared:
    """The shape search on the virtual clock (each shape's warm call and batch pass), then the best shape's call."""
    dtype, budget = str(case.params["dtype"]), float(case.params["seconds"])
    backend.prepare(case, 0)

    def seconds_per_call(shape: Shape) -> float:
        per_call = fake_shape_seconds(backend, case.device, shape, dtype)
        CLOCK.advance(per_call * (1 + batch_calls(per_call)))
        return per_call

    result = search(search_shapes(case.device, dtype), seconds_per_call, budget, CLOCK.peek)
    seconds = fake_shape_seconds(backend, case.device, result.best, dtype)
    call, _ = backend.call(case, seconds, first_s=1e-3, util=95.0 if case.device.kind == "gpu" else 50.0)
    return Prepared(call, backend.finish(case, lambda median_s: best_shape_facts(result, median_s)))


def build_mnist(case: Case, backend: ScriptedBackend) -> Prepared:
    """The book's MNIST training: per-step overhead by mode plus the model's arithmetic; losses and accuracy."""
    params = dict(case.params)
    mode, steps, batch = str(params["mode"]), int(params["steps_per_call"]), int(params["batch_size"])
    kind, flavour = case.device.kind, backend.flavour
    if (mode, kind) not in flavour.mnist_step_s:
        raise ValueError(f"the {backend.name} backend has no MNIST mode {mode!r} on a {kind.upper()}")
    data_bytes = samples_needed(params) * 784 * 4 if backend.torch_like else 0  # torch moves the data over
    backend.prepare(case, 4 * 4 * MNIST_FLOP_PER_SAMPLE / 6 + data_bytes)  # weights, gradients, Adam's m and v
    flops = backend.gflops(case.device, "float32") * 1e9 * (0.35 if kind == "gpu" else 0.4)
    compute_s = batch * MNIST_FLOP_PER_SAMPLE / flops
    step_s = flavour.mnist_step_s[(mode, kind)] + compute_s
    first_s = flavour.mnist_first_s[mode] + (0.3 if kind == "gpu" else 0.0)
    call, durations = backend.call(case, steps * step_s, first_s=first_s, util=min(95.0, 100 * compute_s / step_s + 8))
    learn = random.Random(backend.script.seed_for(backend.host_name, "loss " + case.id))
    initial_loss = 2.30 + learn.uniform(-0.02, 0.02)
    nan = backend.script.faults.nan_loss_on

    def facts(median_s: float) -> dict[str, Any]:
        trained = steps * len(durations)
        left = math.exp(-trained / 250)
        final_loss = (0.30 + 2.0 * left) * learn.uniform(0.97, 1.03)
        out: dict[str, Any] = {
            "data_source": "synthetic",
            "data_path": None,
            "samples": samples_needed(params),
            "steps_per_call": steps,
            "batch_size": batch,
            "initial_loss": initial_loss,
            "final_loss": math.nan if nan and matches(case.id, nan) else final_loss,
            "final_accuracy": min(0.99, (0.93 - 0.83 * left) * learn.uniform(0.99, 1.01)),
            "mnist_epoch_s_estimate": median_s * STEPS_PER_EPOCH / steps,
        }
        if backend.torch_like:
            out["eval_samples"] = min(EVAL_SAMPLES, samples_needed(params))
            out["data_on_device"] = (
                "images, labels and the shuffled batch order moved to the device once before timing; "
                "each step gathers its batch there"
            )
            compiled = "torch.compile of model + loss (backward via AOTAutograd) and of Adam's step"
            out["compiled"] = compiled if mode == "compile" else None
        elif mode == "keras-fit":
            out["jit_compile"] = False
            out["keras_batch_median_s"] = median_s / steps * 0.97
            out["keras_epoch_s"] = list(durations)
        return out

    return Prepared(call, backend.finish(case, facts))


def build_tfdata(case: Case, backend: ScriptedBackend) -> Prepared:
    """tf.data: elements/s per variant; `fed-step` also trains the small MLP and says whether it waits for input."""
    variant, elements = str(case.params["variant"]), int(case.params["elements"])
    batch = int(case.params["batch_size"])
    cpu, slot = backend.host.cpu, backend.slot(case.device)
    prefetch = TFDATA_RATES["autotune-prefetch"] * cpu.pipeline_scale
    steps = -(-elements // batch)
    batch_bytes = batch * 784 * 4
    if variant in TFDATA_RATES:
        backend.prepare(case, 0)
        scale = math.sqrt(cpu.pipeline_scale) if variant == "serial" else cpu.pipeline_scale
        call, _ = backend.call(case, elements / (TFDATA_RATES[variant] * scale))
        return Prepared(call, backend.finish(case, lambda median_s: {}))
    if variant == "to-device":
        backend.prepare(case, 2 * batch_bytes)
        copy_s = batch_bytes / (slot.model.pageable_gbs[0] * 1e9) * 0.5 if slot else 0.0
        per_batch = batch / (prefetch * (1.0 if slot else 0.97)) + copy_s
        call, _ = backend.call(case, steps * per_batch, util=5.0)
        return Prepared(call, backend.finish(case, lambda median_s: {}))
    # fed-step: the premade step is the model's arithmetic plus per-step launches; the pipeline either keeps up or not
    backend.prepare(case, steps * batch_bytes + 4 * 4 * MLP_FLOP_PER_BATCH / 6000)
    if slot is None:
        premade = MLP_FLOP_PER_BATCH / (cpu.gflops * 1e9 * 0.4) + 2.5e-4
        pipeline = premade + batch / prefetch * min(1.0, 4 / cpu.cores) ** 2  # the pipeline takes cores from the step
    else:
        premade = MLP_FLOP_PER_BATCH / (backend.gflops(case.device, "float32") * 1e9 * 0.35) + 2.2e-4
        feed = batch / prefetch + batch_bytes / (slot.model.pageable_gbs[0] * 1e9) * 0.5
        pipeline = max(premade, feed) * 1.02  # the GPU step overlaps the input; the slower of the two sets the pace
    call, _ = backend.call(case, steps * pipeline, util=min(95.0, 90 * premade / pipeline))
    noise = random.Random(backend.script.seed_for(backend.host_name, "premade " + case.id))
    factor = backend.script.time_factor(case.id)

    def facts(median_s: float) -> dict[str, Any]:
        premade_s = premade * factor * noise.lognormvariate(0.0, 0.01)
        return {
            "input_bound": input_bound(median_s / steps, premade_s),
            "pipeline_step_s": median_s / steps,
            "premade_step_s": premade_s,
            "steps": steps,
            "data_source": "synthetic",
        }

    return Prepared(call, backend.finish(case, facts))


def build_transfer(case: Case, backend: ScriptedBackend) -> Prepared:
    """Host-device copies: a latency plus bytes over the bus from pageable or pinned memory, or both ways at once.

    A CPU view (and every torch CPU copy) moves nothing: a latency, `zero_copy`. TensorFlow copies from pageable
    memory only (as the real builder, it refuses pinned); torch's `both` overlaps the two directions on two
    streams, each at a little under its own pinned rate.
    """
    direction, nbytes, memory = str(case.params["direction"]), int(case.params["bytes"]), case.params["host_memory"]
    torch, slot, pinned = backend.torch_like, backend.slot(case.device), memory == "pinned"
    if pinned and not torch:
        raise ValueError(f"TensorFlow cannot pin host memory: no {memory} copies")
    backend.prepare(case, nbytes * (2 if direction == "both" else 1))
    back = direction != "h2d"
    if slot is None:
        zero_copy = torch or direction == "d2h-view"
        if zero_copy:
            seconds = 1.8e-6 if back else 1.5e-6
        else:
            seconds = (5e-6 if back else 6e-6) + nbytes / (backend.host.cpu.memcpy_gbs * 1e9)
    else:
        zero_copy = False
        gbs = slot.model.pinned_gbs if pinned else slot.model.pageable_gbs
        if direction == "both":
            seconds = 12e-6 + nbytes / (min(gbs) * 0.94e9)
        elif torch:
            seconds = (10e-6 if pinned else 16e-6) + nbytes / (gbs[1 if back else 0] * 1e9)
        else:
            latency = (35e-6 if back else 25e-6) + (3e-6 if direction == "d2h-view" else 0.0)
            seconds = latency + nbytes / (gbs[1 if back else 0] * 1e9)
    facts: dict[str, Any] = {"pinned": pinned}
    if torch:
        kind = case.device.kind
        facts["numpy_interop"] = TORCH_NUMPY[kind]
        where = f"cuda:{case.device.name[4:]}"
        if direction == "both":
            facts["copy"] = TORCH_BOTH
        elif kind == "cpu":
            facts["copy"] = TORCH_CPU_COPY[direction]
        elif direction == "h2d":
            facts["copy"] = f"{memory} host tensor .to('{where}', non_blocking={pinned})"
        else:
            facts["copy"] = f"{memory} host tensor .copy_(device tensor, non_blocking={pinned}), then .numpy()"
    else:
        facts["copy"] = TF_COPY_NOTE
    call, _ = backend.call(case, seconds, util=0.0 if slot is None else 4.0)
    return Prepared(call, backend.finish(case, lambda median_s: {**facts, "zero_copy": zero_copy}))


def build_membw(case: Case, backend: ScriptedBackend) -> Prepared:
    """STREAM copy or triad: a launch plus the bytes read and written at the device's scripted memory bandwidth.

    The facts are the real builders': the kernel, how it ran, the verified result, and (torch always, TensorFlow on
    the CPU) that the output is a fresh buffer. TensorFlow's triad is an XLA fusion: its first call compiles it.
    """
    kernel, size = str(case.params["kernel"]), int(case.params["bytes"])
    slot, torch = backend.slot(case.device), backend.torch_like
    backend.prepare(case, 4 * size)  # a, b, c and the output
    rates = slot.model.membw_gbs if slot else backend.host.cpu.membw_gbs
    launch = backend.flavour.dispatch_s[case.device.kind]
    seconds = launch + ARRAYS_MOVED[kernel] * size / (rates[0 if kernel == "copy" else 1] * 1e9)
    if torch:
        how = "out.copy_(a)" if kernel == "copy" else f"torch.add(b, c, alpha={TRIAD_SCALAR:g}, out=out)"
        first_s = 2e-3
    else:
        how = (
            "dst.assign(a) into a preallocated tf.Variable, one XLA kernel (jit_compile=True)"
            if kernel == "copy"
            else f"dst.assign(b + {TRIAD_SCALAR:g} * c) into a preallocated tf.Variable, one XLA fusion"
        )
        first_s = 0.35  # XLA compiles each kernel on its first call
    util = 98.0 if slot else 0.0
    call, _ = backend.call(case, seconds, first_s=first_s, util=util, load=util / 100 * MEMBW_LOAD)
    checked = verify(kernel, EXPECTED[kernel], EXPECTED[kernel])
    facts: dict[str, Any] = {"kernel": kernel, "how": how, "buffers": "preallocated"}
    if torch or slot is None:  # measured on every torch device, on the CPU only in TensorFlow
        facts.update({"fresh_buffer": True, "in_place": True})
    facts.update(checked)
    return Prepared(call, backend.finish(case, lambda median_s: dict(facts)))


def build_sustained(case: Case, backend: ScriptedBackend) -> Prepared:
    """Rounds of one large matmul, each result's checksum compared with round 0's (bench/workloads/sustained.py).

    A round takes what the same matmul takes, longer once its GPU is power-capped or hot; the checksum is the
    product's L1 norm (about n^3 / 4 for uniform inputs) and stays exact, unless DEVICEBENCH_FAKE_FAULTS
    `corrupt=PATTERN@R` makes it drift from round R on, which fails the case at that round.
    """
    n, dtype = int(case.params["n"]), str(case.params["dtype"])
    backend.prepare(case, 3 * n * n * DTYPE_BYTES[dtype])
    seconds, compute_s, efficiency = matmul_time(backend, case.device, n, dtype)
    util, load = matmul_activity(seconds, compute_s, efficiency, dtype)
    first_s = 3e-3 if case.device.kind == "gpu" else 5e-5
    call, _ = backend.call(case, seconds, first_s=first_s, util=util, load=load)
    faults = backend.script.faults
    corrupt = faults.corrupt_on is not None and matches(case.id, faults.corrupt_on)
    exact = (
        float(n) ** 3
        / 4
        * random.Random(backend.script.seed_for(backend.host_name, "sum " + case.id)).uniform(0.9999, 1.0001)
    )
    checked = {"rounds": 0}

    def checksum(out: Any) -> float:
        index = checked["rounds"]
        checked["rounds"] += 1
        return exact * (1 + 2.5e-6) if corrupt and index >= faults.corrupt_from_round else exact

    checker = RoundChecker(checksum, clock=CLOCK.peek)
    return Prepared(call, backend.finish(case, checker.facts), check_round=checker)


#: the share of its matmul peak an attention kernel reaches at long sequences: flash kernels on GPUs, the CPU's flash
#: kernel and XLA's unfused scores (which also move the seq_len² scores through memory)
ATTENTION_SHARE = {("gpu", True): 0.55, ("gpu", False): 0.35, ("cpu", True): 0.3, ("cpu", False): 0.15}
ATTENTION_HALF_SEQ = 512  # the sequence length at which a kernel reaches half that share


def attention_kernel(device: Device, dtype: str) -> tuple[str, str]:
    """(sdpa_backend, sdpa_kernel) as torch records them: its CPU flash kernel; on GPUs memory-efficient for float32
    (the flash kernels take half types only), else flash."""
    if device.kind == "cpu":
        return "flash", "_scaled_dot_product_flash_attention_for_cpu"
    if dtype == "float32":
        return "memory-efficient", "_scaled_dot_product_efficient_attention"
    return "flash", "_scaled_dot_product_flash_attention"


def build_attention(case: Case, backend: ScriptedBackend) -> Prepared:
    """Causal attention: a launch plus the FlashAttention FLOP count at a share of the matmul peak; checked as the
    real builders check (an unsupported dtype a recorded skip; XLA's seq_len² scores count against GPU memory)."""
    p, torch = case.params, backend.torch_like
    dtype = str(p["dtype"])
    reason = dtype_unsupported(case.device, dtype)
    if reason is not None:
        raise CaseSkipped("unsupported", reason)
    b, h, s, d = (int(p[k]) for k in ("batch", "heads", "seq_len", "head_dim"))
    backward = p["pass"] == "forward+backward"
    scores = 0 if torch else b * h * s * s * (3 if backward else 2)  # XLA keeps the scores and probabilities
    tensors = (4 + (3 if backward else 1)) * b * h * s * d  # q, k, v, d_out and the output (or the 3 gradients)
    backend.prepare(case, (tensors + scores) * DTYPE_BYTES[dtype])
    share = ATTENTION_SHARE[(case.device.kind, torch)] / (1 + ATTENTION_HALF_SEQ / s)
    compute_s = attention_flops(p) / (backend.gflops(case.device, dtype) * 1e9 * share)
    seconds = backend.flavour.dispatch_s[case.device.kind] + compute_s
    util, load = matmul_activity(seconds, compute_s, share, dtype)
    call, _ = backend.call(case, seconds, first_s=0.8 if not torch else 0.0, util=util, load=load)  # XLA compiles
    ref = np.ones((len(check_rows(s)), d))  # a scripted error: the half types' rounding, float32's last bits
    out = ref * (1 + (2e-3 if dtype != "float32" else 1e-7))
    checked = reference_facts(dtype, out, ref, *((out, ref) if backward else ()))

    def facts(median_s: float) -> dict[str, Any]:
        if torch:
            kind, kernel = attention_kernel(case.device, dtype)
            return {"sdpa_backend": kind, "sdpa_kernel": kernel, "layout": LAYOUT, "variant": variant(p), **checked}
        return {"jit": JIT, "layout": LAYOUT, "variant": variant(p), **checked}

    return Prepared(call, backend.finish(case, facts))
