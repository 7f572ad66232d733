"""Memory bandwidth: STREAM's copy (b = a) and triad (a = b + s*c) over float32 arrays larger than any cache.

GB/s counts the bytes read plus the bytes written per call, as STREAM does (2 arrays for copy, 3 for triad); a
CPU's write-allocate traffic (a store first reads its cache line) is not counted, so a CPU moves up to 1.5x
(copy) or 1.33x (triad) what is reported. On GPUs the figure is judged against the spec's memory bandwidth;
on the CPU the suite's own best is the ceiling of the roofline.

Every backend follows STREAM's convention: the arrays and the destination are allocated and first touched before
any timing and reused by every call, so a call moves bytes instead of faulting in new pages (`buffers` in the
case's facts says so; tools/membw_vs_numpy.py checks the CPU figures against numpy's copyto, interleaved).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.cases import Params, Workload
from bench.devices import Device
from bench.profiles import Profile
from results_format.text import fmt_bytes
from results_format.workloads import Fact, WorkloadSpec

KERNELS = ("copy", "triad")
ARRAYS_MOVED = {"copy": 2, "triad": 3}  # arrays read + written per call
TRIAD_SCALAR = 3.0
# a = 1, b = 2, c = 0.5: copy gives 1.0 everywhere, triad 2 + 3 * 0.5 = 3.5 (checked after timing)
FILL = {"a": 1.0, "b": 2.0, "c": 0.5}
EXPECTED = {"copy": FILL["a"], "triad": FILL["b"] + TRIAD_SCALAR * FILL["c"]}

# Each array at least twice a large server L3 (32-64 MiB) and well above a GPU's L2 (H100: 50 MB), so the
# figures are memory's, not a cache's. The sustained profile runs none.
SIZES_MIB: dict[str, tuple[int, ...]] = {"smoke": (64, 256), "standard": (64, 256, 1024), "full": (256, 1024, 4096)}
CPU_MAX_MIB = 1024  # 4 arrays of 4 GiB is more host memory than many machines have to spare


def membw_params(profile: Profile, device: Device) -> list[tuple[Params, str | None]]:
    """copy and triad at the profile's sizes on every device (sizes above CPU_MAX_MIB skipped on the CPU)."""
    out: list[tuple[Params, str | None]] = []
    for kernel in KERNELS:
        for mib in MEMBW.sizes_for(profile):
            reason = None
            if device.kind == "cpu" and mib > CPU_MAX_MIB:
                reason = f"profile {profile.name}: {mib} MiB arrays are above the CPU limit of {CPU_MAX_MIB} MiB"
            out.append(({"kernel": kernel, "bytes": mib * 2**20, "dtype": "float32"}, reason))
    return out


def bytes_moved(params: Params) -> float:
    """Bytes read plus written by one call."""
    return float(ARRAYS_MOVED[str(params["kernel"])] * int(params["bytes"]))


def membw_check(facts: Mapping[str, Any]) -> str | None:
    """Why a bandwidth case measured nothing: its result was wrong, or it handed back its input instead of copying."""
    if facts.get("verified") is False:
        return f"the {facts.get('kernel')} result is wrong: {facts.get('verify_note', '')}"
    if facts.get("fresh_buffer") is False:
        return "the output shares the input's buffer: nothing was copied"
    if facts.get("in_place") is False:
        return "the kernel wrote into a new buffer instead of the preallocated one: that times allocation too"
    return None


SPEC = WorkloadSpec(
    name="membw",
    version=2,  # 2: TensorFlow writes into preallocated buffers (1 timed a new buffer per call)
    title="memory bandwidth",
    params=("kernel", "bytes", "dtype"),  # bytes: the size of each array
    keys=("kernel", "bytes"),
    work_unit="bytes",  # read + written per call, as STREAM counts them
    throughput_unit="GB/s",
    labels={"copy": "copy (b = a)", "triad": "triad (a = b + s*c)"},
    facts=(
        Fact(name="verified", description="the result's values were checked", hint="text"),
        Fact(name="in_place", description="the kernel wrote into the preallocated destination", hint="text"),
        Fact(name="fresh_buffer", description="the output does not share the input's buffer", hint="text"),
        Fact(name="buffers", description="how the arrays were allocated", hint="text"),
    ),
)


MEMBW = WORKLOAD = Workload(
    spec=SPEC,
    throughput_scale=1e9,
    backends=("tensorflow", "torch"),
    params_for=membw_params,
    sizes=SIZES_MIB,
    work_per_call=bytes_moved,
    label=lambda p: f"{p['kernel']}-{int(p['bytes']) // 2**20}MiB",
    check=membw_check,
    batched=True,
    cache_modes=("hot", "cold"),
    text=lambda p: f"{p['kernel']} {fmt_bytes(float(p['bytes']))}",
)


def verify(kernel: str, first: float, last: float) -> dict[str, Any]:
    """The `verified` facts from the first and last element of a result (the fill values make them known)."""
    want = EXPECTED[kernel]
    ok = first == want and last == want
    return {"verified": ok, "verify_note": "" if ok else f"expected {want:g}, got {first:g} and {last:g}"}
