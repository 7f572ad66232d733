"""All-reduce bandwidth over message sizes through the backend's collectives, as nccl-tests measures it.

One call runs `collectives_per_call` (k) float32 sum all-reduces of `bytes` each, back to back, on every
replica of the device set (bench.workloads.multidevice), so work_per_call = k x bytes and the suite's
throughput, bytes / (median / k) / 1e9, is nccl-tests' algorithm bandwidth. nccl-tests' definitions
(https://github.com/NVIDIA/nccl-tests/blob/master/doc/PERFORMANCE.md):

    algbw = S / t                      S: bytes per rank, t: time of one all-reduce, in GB/s (1e9)
    busbw = algbw x 2 (n - 1) / n      all-reduce's factor: what each link carries, comparable with a link's peak

k follows nccl-tests on GPUs (`-n 20`: twenty collectives per measurement); on CPUs it shrinks with the size so
one call stays short (at least one all-reduce, at most twenty).

Correctness, as nccl-tests' `-c`: replica r holds (r + 1) x p with p_i = (i mod 7) + 1, so every element of
the sum is n (n + 1) / 2 x p_i, exact in float32; each backend checks every replica's result elementwise
(TensorFlow: the first and the last call's outputs; torch: an in-place all-reduce of that pattern in the timed
buffer before and after the timed calls) and a wrong element fails the case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.cases import Params, Workload
from bench.devices import Device
from bench.profiles import Profile
from bench.workloads.multidevice import group_cases, replica_counts
from results_format.text import fmt_bytes
from results_format.workloads import Fact, WorkloadSpec

DTYPE_BYTES = 4  # float32
NCCL_TESTS_ITERS = 20  # nccl-tests' default iterations per measurement (-n 20)
CPU_CALL_BYTES = 2 * 2**20  # on CPUs, k shrinks so one call all-reduces about this much
PATTERN_PERIOD = 7


def collectives_per_call(size: int, device_kind: str) -> int:
    """k all-reduces per timed call: nccl-tests' 20 on GPUs; on CPUs about CPU_CALL_BYTES per call, 1 .. 20."""
    if device_kind == "gpu":
        return NCCL_TESTS_ITERS
    return max(1, min(NCCL_TESTS_ITERS, CPU_CALL_BYTES // size))


def size_label(size: int) -> str:
    """8 -> 8B, 32768 -> 32KiB, 2**30 -> 1GiB (sizes in the profiles are whole units)."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale}{unit}"
    return f"{size}B"


@dataclass(frozen=True)
class AllreduceSizes:
    """A profile's all-reduce cases: message sizes, the largest a CPU runs, and (warm-up calls, timed rounds)."""

    sizes: tuple[int, ...]  # bytes per all-reduce
    cpu_max: int  # larger messages are skipped on CPUs, with that reason
    calls: tuple[int, int]  # the helpers follow a fixed schedule, so the calls are fixed too


SIZES = {
    "smoke": AllreduceSizes((8, 512, 32 * 2**10, 2**20), 2**20, (2, 10)),  # 8 B .. 1 MiB, x64 steps
    "standard": AllreduceSizes(tuple(8 * 8**k for k in range(9)), 16 * 2**20, (3, 15)),  # 8 B .. 128 MiB, x8
    "full": AllreduceSizes(tuple(8 * 8**k for k in range(10)), 128 * 2**20, (5, 20)),  # 8 B .. 1 GiB, x8 steps
}


def allreduce_params(profile: Profile, device: Device, peers: Sequence[Device]) -> list[tuple[Params, str | None]]:
    """Every profile size on 2 .. N replicas (GPUs) or the CPU's replicas; sizes above the CPU limit skipped."""
    size_of: AllreduceSizes = ALLREDUCE.sizes_for(profile)
    warmup, rounds = size_of.calls

    def make(replicas: int) -> list[tuple[Params, str | None]]:
        out: list[tuple[Params, str | None]] = []
        for size in size_of.sizes:
            reason = None
            if device.kind == "cpu" and size > size_of.cpu_max:
                reason = (
                    f"profile {profile.name}: {size_label(size)} is above its CPU limit {size_label(size_of.cpu_max)}"
                )
            params = {
                "bytes": size,
                "replicas": replicas,
                "collectives_per_call": collectives_per_call(size, device.kind),
                "calls": warmup + rounds,
            }
            out.append((params, reason))
        return out

    def skipped(reason: str) -> list[tuple[Params, str | None]]:
        return [(params, reason) for params, _ in make(2)]

    return group_cases(device, peers, lambda n: replica_counts(n, start=2), make, skipped)


def elements(params: Params) -> int:
    """float32 elements per all-reduce."""
    size = int(params["bytes"])
    if size % DTYPE_BYTES:
        raise ValueError(f"an all-reduce of float32 needs a multiple of {DTYPE_BYTES} bytes, got {size}")
    return size // DTYPE_BYTES


def pattern(count: int) -> np.ndarray:
    """p_i = (i mod 7) + 1 as float32: what each replica scales by its rank + 1."""
    return (np.arange(count) % PATTERN_PERIOD + 1).astype(np.float32)


def replica_values(count: int, replica: int) -> np.ndarray:
    """Replica r's input: (r + 1) x p."""
    return pattern(count) * np.float32(replica + 1)


def expected_sum(count: int, replicas: int) -> np.ndarray:
    """The all-reduced sum every replica must hold: n (n + 1) / 2 x p."""
    return pattern(count) * np.float32(replicas * (replicas + 1) // 2)


def compare(result: np.ndarray, expected: np.ndarray) -> tuple[int, float]:
    """(elements that differ, largest absolute difference) between a replica's result and the expected sum."""
    if result.shape != expected.shape:
        return int(expected.size), float("inf")
    diff = np.abs(result.astype(np.float64) - expected.astype(np.float64))
    return int(np.count_nonzero(diff)), float(diff.max()) if diff.size else 0.0


def bus_factor(replicas: int) -> float:
    """nccl-tests' all-reduce bus-bandwidth factor 2 (n - 1) / n."""
    return 2.0 * (replicas - 1) / replicas


def bandwidth_facts(params: Params, median_s: float) -> dict[str, Any]:
    """Time per all-reduce, algbw and busbw (GB/s, nccl-tests' definitions) from a call's median time."""
    per_collective = median_s / int(params["collectives_per_call"])
    algbw = int(params["bytes"]) / per_collective / 1e9
    return {
        "time_per_allreduce_s": per_collective,
        "algbw_gbps": algbw,
        "busbw_gbps": algbw * bus_factor(int(params["replicas"])),
        "busbw_factor": bus_factor(int(params["replicas"])),
        "dtype": "float32",
        "elements": elements(params),
    }


def check_facts(mismatches: int, max_error: float, checked: str) -> dict[str, Any]:
    """The record of a correctness check: right or wrong, by how much, and what was checked."""
    return {
        "correct": mismatches == 0,
        "mismatched_elements": mismatches,
        "max_abs_error": max_error,
        "check": checked,
    }


def allreduce_check(facts: Mapping[str, Any]) -> str | None:
    """Why an all-reduce case measured nothing: a replica's sum was wrong (or was never checked)."""
    if facts.get("correct") is True:
        return None
    if "correct" not in facts:
        return "the all-reduce result was not checked"
    return (
        f"the all-reduce result is wrong: {facts.get('mismatched_elements')} element(s) differ from the expected sum "
        f"(largest difference {facts.get('max_abs_error')}; {facts.get('check')})"
    )


SPEC = WorkloadSpec(
    name="allreduce",
    version=1,
    title="all-reduce bandwidth",
    params=("bytes", "replicas", "collectives_per_call", "calls"),
    keys=("replicas", "bytes"),
    work_unit="bytes",
    throughput_unit="GB/s",  # the algorithm bandwidth, nccl-tests' algbw
    facts=(
        Fact(name="time_per_allreduce_s", description="one all-reduce", hint="duration", better="lower"),
        Fact(name="busbw_gbps", description="bus bandwidth (nccl-tests' busbw)", unit="GB/s", better="higher"),
        Fact(name="correct", description="every element of the result was checked", hint="text"),
    ),
)


ALLREDUCE = WORKLOAD = Workload(
    spec=SPEC,
    throughput_scale=1e9,
    backends=("tensorflow", "torch"),
    params_for=lambda profile, device: allreduce_params(profile, device, (device,)),
    group_params_for=allreduce_params,
    work_per_call=lambda p: float(p["collectives_per_call"]) * float(p["bytes"]),
    label=lambda p: f"r{p['replicas']}-{size_label(int(p['bytes']))}",
    # Fixed calls: torch's helper processes run exactly as many as the benchmark process (see torch_multi).
    schedule=lambda profile, p: (SIZES[profile.name].calls[0], int(p["calls"]) - SIZES[profile.name].calls[0]),
    check=allreduce_check,
    builders={
        "tensorflow": "bench.backends.tf_multi:build_allreduce",
        "torch": "bench.backends.torch_multi:build_multi",
    },
    text=lambda p: f"{fmt_bytes(float(p['bytes']))} r{int(p['replicas'])}",
    sizes=SIZES,
)
