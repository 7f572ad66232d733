"""Hardware records of a results file, for "how close to the hardware's limit".

Per GPU device: the SKU detected from NVML's identity, that SKU's spec (dense peaks per dtype, memory bandwidth,
host link, TDP, sources) and the host link's ceiling as NVML reports it. Per run: the CPU's estimated peak
(always labelled an estimate) and each GPU's idle power measured before the first case. Per case: the energy its
timed rounds cost and whether NVML saw its GPU throttled.

It also holds the one rule that picks the peak a case is judged against (its dtype and the TF32 policy in effect),
so the measuring side (bench.hardware) and the reading side (reports) cannot disagree about it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Text = Annotated[str, StringConstraints(min_length=1)]

#: the peaks a SKU may list, in the order reports show them: CUDA-core fp64/fp32, tensor-core formats.
PEAK_KEYS = ("fp64", "fp64_tensor", "fp32", "tf32", "bf16", "fp16", "fp8")
PeakKey = Literal["fp64", "fp64_tensor", "fp32", "tf32", "bf16", "fp16", "fp8"]

# Framework dtype spellings -> the table's peak key (float32 is resolved with the TF32 policy).
_DTYPE_ALIASES = {
    "float64": "fp64",
    "fp64": "fp64",
    "double": "fp64",
    "float32": "fp32",
    "fp32": "fp32",
    "float": "fp32",
    "tf32": "tf32",
    "tensorfloat32": "tf32",
    "bfloat16": "bf16",
    "bf16": "bf16",
    "float16": "fp16",
    "fp16": "fp16",
    "half": "fp16",
    "float8": "fp8",
    "fp8": "fp8",
}
_FP8_SPELLING = re.compile(r"^(float8|fp8)(_e\dm\d\w*)?$")

#: bytes per element of the dtypes the workloads use (for arithmetic intensity).
DTYPE_BYTES = {"float64": 8, "float32": 4, "bfloat16": 2, "float16": 2, "float8_e4m3fn": 1}


class _Record(BaseModel):
    """Declared keys only, finite numbers, immutable (as results_format.model.Record)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


def peak_key(dtype: str) -> str | None:
    """The spec table's key for a dtype name ("torch.float32", "bfloat16", "float8_e4m3fn"); None if unknown."""
    text = dtype.strip().lower().removeprefix("torch.").removeprefix("tf.")
    if _FP8_SPELLING.match(text):
        return "fp8"
    return _DTYPE_ALIASES.get(text)


@dataclass(frozen=True)
class Peak:
    """The peak a case is judged against: `tflops` None (with `note` saying why) when there is none."""

    tflops: float | None
    key: str | None
    dtype: str
    note: str

    @property
    def gflops(self) -> float | None:
        """The peak in GFLOP/s (the unit matmul cases are measured in)."""
        return None if self.tflops is None else self.tflops * 1000.0


class HostLinkSpec(_Record):
    """How the SKU talks to the host: PCIe (generation x lanes) or NVLink-C2C, and its per-direction GB/s."""

    kind: Literal["pcie", "nvlink-c2c"]
    gbs_per_direction: Positive
    pcie_gen: Annotated[int, Field(ge=1, le=6)] | None = None
    pcie_lanes: Annotated[int, Field(ge=1, le=32)] | None = None

    @model_validator(mode="after")
    def _pcie_has_gen_and_lanes(self) -> HostLinkSpec:
        if self.kind == "pcie" and (self.pcie_gen is None or self.pcie_lanes is None):
            raise ValueError("a pcie host_link needs pcie_gen and pcie_lanes")
        return self

    def describe(self) -> str:
        """Like "PCIe gen5 x16, 63 GB/s per direction" or "NVLink-C2C, 450 GB/s per direction"."""
        if self.kind == "pcie":
            return f"PCIe gen{self.pcie_gen} x{self.pcie_lanes}, {self.gbs_per_direction:g} GB/s per direction"
        return f"NVLink-C2C, {self.gbs_per_direction:g} GB/s per direction"


class GpuSpecRecord(_Record):
    """One SKU's datasheet figures as a run records them; `tflops` holds dense peaks only (never sparsity)."""

    id: Text
    name: Text
    architecture: Text
    form_factor: Text
    memory_gib: Positive
    memory_bandwidth_gbs: Positive
    tdp_w: Positive
    host_link: HostLinkSpec
    tflops: dict[PeakKey, Positive]
    sources: Annotated[list[Text], Field(min_length=1)]
    derived: dict[str, str] = Field(default_factory=dict)  # figure -> how it was derived
    unverified: list[str] = Field(default_factory=list)  # figures no second source confirmed
    notes: str = ""

    @model_validator(mode="after")
    def _figures_are_known(self) -> GpuSpecRecord:
        if "fp32" not in self.tflops:
            raise ValueError("tflops: missing 'fp32'")
        figures = {f"tflops.{k}" for k in self.tflops} | {"memory_bandwidth_gbs", "tdp_w", "memory_gib"}
        for name in [*self.unverified, *self.derived]:
            if name not in figures:
                raise ValueError(f"{name!r} in unverified/derived is not a figure of this SKU")
        return self

    def peak(self, dtype: str, tf32: bool | None = False) -> Peak:
        """The dense peak for `dtype` with the TF32 policy in effect; says which peak it used and why.

        float32 with TF32 on is judged against the TF32 tensor-core peak (falling back to FP32 on chips without
        TF32 units); float64 against the FP64 tensor-core peak where the chip has one (DGEMM runs there).
        """
        key = peak_key(dtype)
        if key is None:
            return Peak(None, None, dtype, f"no peak for dtype {dtype!r}")
        if key == "fp32" and tf32:
            if "tf32" in self.tflops:
                return Peak(
                    self.tflops["tf32"],
                    "tf32",
                    dtype,
                    f"{dtype} with TF32 on: judged against the TF32 tensor-core peak of {self.name}",
                )
            return Peak(
                self.tflops["fp32"],
                "fp32",
                dtype,
                f"{dtype} with TF32 on, but {self.name} has no TF32 tensor cores: judged against the FP32 peak",
            )
        if key == "fp64" and "fp64_tensor" in self.tflops:
            return Peak(self.tflops["fp64_tensor"], "fp64_tensor", dtype, f"{dtype}: the FP64 tensor-core peak")
        if key not in self.tflops:
            return Peak(None, None, dtype, f"{self.name} has no {key} peak in the spec table")
        note = {
            "fp32": f"{dtype} with TF32 off: the FP32 (CUDA-core) peak",
            "tf32": f"{dtype}: the TF32 tensor-core peak",
            "fp64": f"{dtype}: the FP64 (CUDA-core) peak",
        }.get(key, f"{dtype}: the {key.upper()} tensor-core peak (dense)")
        if f"tflops.{key}" in self.derived:
            note += f" (derived: {self.derived[f'tflops.{key}']})"
        return Peak(self.tflops[key], key, dtype, note)


class SkuRecord(_Record):
    """The SKU detected from NVML's identity, or why none was (then no % of spec is shown)."""

    known: bool
    id: str | None = None
    name: str | None = None
    reason: str = ""  # "unknown SKU: no % shown (why)" when not known
    evidence: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known_has_an_id(self) -> SkuRecord:
        if self.known != (self.id is not None):
            raise ValueError("a known SKU has an id, an unknown one none")
        if not self.known and not self.reason:
            raise ValueError("an unknown SKU says why")
        return self


class LinkRecord(_Record):
    """A GPU's host-link ceiling per direction: from NVML's link maximum (PCIe) or the spec table (NVLink-C2C)."""

    kind: Literal["pcie", "nvlink-c2c", "unknown"]
    gbs_per_direction: Positive | None
    source: str
    current_gbs_per_direction: Positive | None = None  # the link state at the start of the run
    note: str = ""


class CpuPeakRecord(_Record):
    """The CPU's estimated peak GFLOP/s per dtype from its ISA, cores and clock; never a measurement."""

    label: Literal["estimate"] = "estimate"
    gflops: dict[str, Positive] | None
    isa: str | None
    reason: str
    cores: Positive | None = None
    clock_ghz: Positive | None = None
    flop_per_cycle: dict[str, Positive] = Field(default_factory=dict)


class IdlePower(_Record):
    """One GPU's power with no work, measured before the first case (subtracted from each case's energy)."""

    power_w: NonNegative | None
    readings: Annotated[int, Field(ge=0)]
    duration_s: NonNegative
    method: str
    note: str = ""


# NVML's energy counter steps every few tens of milliseconds: over fewer timed seconds than this its delta is
# mostly the luck of where the steps fall (seen on an H200: 0 J in most 5 ms windows, 12 J, i.e. 2.5 kW, in one)
MIN_ENERGY_WINDOW_S = 0.25

EnergyMethod = Literal["energy counter", "mean power x time (no energy counter)", "none"]


class CaseEnergy(_Record):
    """The energy a GPU case's timed rounds cost, net of the idle power, from NVML (see bench/hardware/energy.py)."""

    nvml_index: Annotated[int, Field(ge=0)]
    joules: NonNegative | None  # net of idle over the sampling window (gross when the idle power is unknown)
    gross_joules: NonNegative | None
    idle_joules: NonNegative | None
    idle_power_w: NonNegative | None
    window_s: NonNegative  # the sampling window: the timed rounds, from the first to the last NVML sample
    calls: Annotated[int, Field(ge=1)]  # timed calls in the window
    joules_per_call: NonNegative | None
    mean_power_w: NonNegative | None = None
    method: EnergyMethod
    note: str = ""


class RoundClockRun(_Record):
    """Consecutive timed rounds that saw the same clock-event reasons and lowest SM clock."""

    rounds: Annotated[int, Field(ge=1)]
    reasons: list[str] = Field(default_factory=list)
    sm_clock_mhz: NonNegative | None = None


class CaseThrottle(_Record):
    """Whether NVML reported a clock-event reason other than idle on the case's GPU while it ran."""

    nvml_index: Annotated[int, Field(ge=0)]
    throttled: bool
    reasons: list[str] = Field(default_factory=list)
    text: str  # "not throttled" or "throttled: software power cap, ..."
    first_s: NonNegative | None = None  # seconds from the case's first NVML sample to the first throttled one
    # every timed round's clock-event reasons and lowest SM clock as NVML reported them while it ran, in round
    # order, as runs of consecutive rounds that saw the same (where the runner marked rounds); and how many rounds
    # ran under a power or thermal reason (left out of the headline)
    round_clocks: list[RoundClockRun] | None = None
    rounds_throttled: Annotated[int, Field(ge=0)] | None = None


class SustainedCheck(_Record):
    """A sustained case's per-round record: when each round ended, and its result's checksum against round 0's."""

    round_end_s: Annotated[list[NonNegative], Field(min_length=1)]  # since the first timed round began
    checksum: float  # round 0's float64 sum of the result
    rtol: Positive  # the relative deviation a later round may show
    max_deviation: NonNegative  # the largest relative deviation seen
    rounds_checked: Annotated[int, Field(ge=1)]
    differing_rounds: Annotated[int, Field(ge=0)] = 0  # rounds whose checksum was not bit-identical (within rtol)
