"""The `health` record of a run (schema 3, optional): each GPU's NVML health counters, the verdict and its facts.

Written by bench.health (counters before and after the run, critical XIDs during it), the optional tool runs
(`dcgmi diag`, `nvbandwidth`) and the `--concurrent` check of every GPU at once; read by reports.health.
Absent in files written before it existed, and in runs that measured no GPU health (see `verdict: unchecked`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

Verdict = Literal["healthy", "degraded", "unhealthy", "unchecked"]
Level = Literal["degraded", "unhealthy"]
#: a counter's value: a count, a generation or width, watts, degrees; None where it was not read
CounterValue = int | float | None


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class HealthFact(_Record):
    """One finding that decided the verdict: on which GPU, how bad, which check, and the sentence a user reads."""

    gpu: Annotated[int, Field(ge=0)] | None = None  # NVML index; None for the host
    level: Level
    check: str  # e.g. ecc_uncorrected, remap_pending, pcie_link, xid, power_limit, ecc_corrected_rose, counter_rose
    message: str


class XidEvent(_Record):
    """A critical XID NVML delivered during the run."""

    gpu: Annotated[int, Field(ge=0)]
    xid: Annotated[int, Field(ge=0)]


class GpuHealth(_Record):
    """One GPU's counters at the start and at the end of the run, and what its driver does not report (with why)."""

    index: Annotated[int, Field(ge=0)]  # NVML's (its name and uuid are in machine_info.devicebench.nvml.gpus)
    before: dict[str, CounterValue] = Field(default_factory=dict)
    # the counters whose value at the end differs from `before` (the others were equal); None: the run has not
    # ended (or was killed)
    after: dict[str, CounterValue] | None = None
    unsupported: dict[str, str] = Field(default_factory=dict)  # counter -> why it was not read


class ToolRun(_Record):
    """An optional outside tool (dcgmi diag, nvbandwidth): its result, or a recorded skip with the reason."""

    tool: str  # "dcgmi diag -r 1", "nvbandwidth"
    status: Literal["pass", "fail", "skipped", "error"]
    reason: str = ""
    results: dict[str, JsonValue] = Field(default_factory=dict)  # per test: pass/fail; or the host-device matrix


class GpuStanding(_Record):
    """One GPU's figure in the every-GPU-at-once check, against the host's median."""

    device: str  # the framework's name, GPU:5
    figure: Annotated[float, Field(ge=0)] | None
    vs_median: float | None = None  # figure / median - 1 (-0.12: 12 % below)
    robust_z: float | None = None  # (figure - median) / max(1.4826 MAD, 1 % of the median)
    straggler: bool = False
    reason: str = ""  # why it is a straggler, or why it has no figure


class ConcurrentCheck(_Record):
    """One workload run on every GPU at once (one process per GPU), each GPU against the host's median."""

    workload: str  # matmul (bf16) or membw (triad)
    unit: str
    median: Annotated[float, Field(ge=0)] | None
    mad: Annotated[float, Field(ge=0)] | None
    gpus: list[GpuStanding]
    stragglers: list[str] = Field(default_factory=list)  # devices, GPU:5


class HealthRecord(_Record):
    """The run's health: the verdict first, the facts that decided it, then every GPU's counters."""

    verdict: Verdict
    reason: str  # one line: the deciding facts, or why health was not checked
    facts: list[HealthFact] = Field(default_factory=list)
    gpus: list[GpuHealth] = Field(default_factory=list)
    xids: list[XidEvent] = Field(default_factory=list)
    xid_watch: str = ""  # "critical XIDs watched on 8 GPUs", or why not
    tools: list[ToolRun] = Field(default_factory=list)
    concurrent: list[ConcurrentCheck] | None = None  # the --concurrent check, when asked for
