"""A sustained matmul: one large multiply timed round after round for minutes, every result checksummed.

For throttling (clocks, power and temperature over time, and when the first throttle reason appeared) and for
silent data corruption: each round's result is summed in float64 and compared with round 0's. Opt-in: only
`--profile sustained` runs it, for `--sustained-minutes` of timed rounds per device.

The inputs are uniform in [0, 1), so every element of the product is positive (about n/4): the checksum is the
result's L1 norm and a corrupted element cannot be cancelled by others. The tolerance, CHECKSUM_RTOL, relative:

- the same GEMM on the same device and library usually gives bit-identical results (cuBLAS documents
  run-to-run bit-wise reproducibility on one GPU architecture and toolkit with a single stream; CPU BLAS
  libraries may vary with memory alignment), so the expected deviation is 0 and any deviation is recorded
  (`differing_rounds`, `max_deviation`);
- the float64 sum itself may run in another order each time (GPU reductions combine per-block partials in
  varying order): its error is at most about (number of partial sums) x 1.1e-16 of the L1 norm, under 1e-12;
- a float32 GEMM that is not bit-reproducible (another algorithm, split-K order) moves each element by about
  one float32 ulp (6e-8 relative) at random: the sum moves by 6e-8 / n of its value, 4e-12 at n = 16384;
- so 1e-9 is over 100x above legitimate noise, and still flags a change of one element by more than
  1e-9 x n^2 elements' worth of the mean: a quarter of an element at n = 16384, a thousandth at n = 1024,
  i.e. every flipped sign or exponent bit and any corrupted tile. A flip in a low mantissa bit of one element
  stays below it: a checksum cannot see that without false alarms from legitimate reordering.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from time import perf_counter
from typing import Any

from bench.cases import Params, Workload
from bench.devices import Device
from bench.profiles import Profile
from bench.workloads.matmul import matmul_flops
from results_format.workloads import WorkloadSpec

GPU_N = 16384  # 8.8 TFLOP a round: ~20 ms on an H100 with TF32, ~0.6 s on a T4; 3 GiB of inputs and output
CPU_N = 1024  # ~20 ms a round on a 2-core VM
DTYPE = "float32"  # a float32 result keeps legitimate non-reproducibility far below the tolerance (see above)
CHECKSUM_RTOL = 1e-9


def sustained_params(profile: Profile, device: Device) -> list[tuple[Params, str | None]]:
    """One case per device: n = 16384 on GPUs, 1024 on CPUs, for the profile's sustained seconds."""
    n = GPU_N if device.kind == "gpu" else CPU_N
    return [({"n": n, "dtype": DTYPE, "seconds": float(profile.sustained_s)}, None)]


SPEC = WorkloadSpec(
    name="sustained",
    version=1,
    title="sustained matmul",
    params=("n", "dtype", "seconds"),
    keys=("n", "dtype", "seconds"),
    work_unit="FLOP",
    throughput_unit="GFLOP/s",
)


SUSTAINED = WORKLOAD = Workload(
    spec=SPEC,
    throughput_scale=1e9,
    backends=("tensorflow", "torch"),
    params_for=sustained_params,
    work_per_call=matmul_flops,
    label=lambda p: f"n{p['n']}-{p['dtype']}-{float(p['seconds']):g}s",
    opt_in=True,
    duration=lambda p: float(p["seconds"]),
    keep_throttled_rounds=True,  # throttling is what a sustained case is there to see
    text=lambda p: f"n={int(p['n'])} {p['dtype']} {float(p['seconds']):g} s",
)


class RoundChecker:
    """Checks each round's result against round 0's checksum and notes when each round ended.

    Called by the runner after every timed round (untimed) with the round's output, index and time; returns a
    message that fails the case at the first round whose checksum is off by more than `rtol`.
    """

    def __init__(
        self,
        checksum: Callable[[Any], float],
        rtol: float = CHECKSUM_RTOL,
        clock: Callable[[], float] = perf_counter,
    ) -> None:
        self.checksum = checksum
        self.rtol = rtol
        self.clock = clock
        self.reference: float | None = None
        self.start = 0.0
        self.round_end_s: list[float] = []
        self.max_deviation = 0.0
        self.differing = 0

    def __call__(self, out: Any, index: int, elapsed: float) -> str | None:
        """None when round `index` agrees with round 0, else why the case fails."""
        now = self.clock()
        if index == 0:
            self.start = now - elapsed
        self.round_end_s.append(round(now - self.start, 6))
        value = float(self.checksum(out))
        if self.reference is None:
            if not math.isfinite(value) or value <= 0:
                return f"round 0: the result's checksum is {value!r}, not a positive number (inputs are positive)"
            self.reference = value
            return None
        deviation = abs(value - self.reference) / self.reference if math.isfinite(value) else math.inf
        if deviation > 0:
            self.differing += 1
        self.max_deviation = max(self.max_deviation, deviation)
        if not deviation <= self.rtol:
            return (
                f"round {index}: the result's checksum {value!r} differs from round 0's {self.reference!r} by "
                f"{deviation:.3g} (relative), above the tolerance {self.rtol:g}: silent data corruption, "
                "or a GEMM that is not reproducible"
            )
        return None

    def facts(self, median_s: float) -> dict[str, Any]:
        """The `sustained` record (results_format SustainedCheck)."""
        if self.reference is None:
            return {}
        return {
            "sustained": {
                "round_end_s": self.round_end_s,
                "checksum": self.reference,
                "rtol": self.rtol,
                "max_deviation": self.max_deviation if math.isfinite(self.max_deviation) else 1.0,
                "rounds_checked": len(self.round_end_s),
                "differing_rounds": self.differing,
            }
        }
