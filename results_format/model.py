"""The records of a results file (`benchmarks.json`): pydantic models that validate what is written and read.

The file is pytest-benchmark's own JSON (`machine_info`, `commit_info`, `benchmarks`, `datetime`, `version`)
with devicebench's records in each benchmark's `extra_info`, in `machine_info.devicebench`, and in a top-level
`devicebench` object that carries the schema version and the run's state. Sections that pytest-benchmark owns
accept its extra keys; devicebench's own records accept only the keys declared here, and every number must be
finite (times above zero), so a malformed file is refused as a whole with the place that is wrong.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    model_validator,
)

from results_format.hardware import (
    CaseEnergy,
    CaseThrottle,
    CpuPeakRecord,
    GpuSpecRecord,
    IdlePower,
    LinkRecord,
    SkuRecord,
    SustainedCheck,
)
from results_format.health import HealthRecord
from results_format.reference import ReferenceEnvelope
from results_format.workloads import WorkloadSpec

SCHEMA_VERSION = 3

Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=2**53)]
DeviceName = Annotated[str, StringConstraints(pattern=r"^[A-Z]+:\d+$")]


def _one_scalar(value: Any) -> Any:
    """A case parameter must be one JSON scalar: say so plainly instead of listing every type it is not."""
    if value is None or isinstance(value, list | dict):
        kind = "null" if value is None else "a list" if isinstance(value, list) else "an object"
        raise ValueError(f"a parameter is one string, number or true/false, not {kind}")
    return value


#: a case parameter: one JSON scalar (lists and objects are not parameters)
ParamValue = Annotated[
    StrictBool
    | Annotated[StrictInt, Field(ge=-(2**53), le=2**53)]
    | Annotated[StrictFloat, Field(allow_inf_nan=False)]
    | StrictStr,
    BeforeValidator(_one_scalar),
]
SkipKind = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z-]*$")]
RunStateName = Literal["running", "complete", "interrupted", "failed"]


class Record(BaseModel):
    """A devicebench record: declared keys only, finite numbers."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class OpenRecord(BaseModel):
    """A section another tool owns (pytest-benchmark, a backend's build facts): its other keys are kept as JSON."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False, frozen=True)
    __pydantic_extra__: dict[str, JsonValue] = Field(init=False)


# --- one case ---------------------------------------------------------------------------------------------------


class Stats(OpenRecord):
    """pytest-benchmark's statistics of one case, in seconds; `data` holds every round's time."""

    min: Seconds
    max: Seconds
    mean: Seconds
    stddev: NonNegative
    rounds: Annotated[int, Field(ge=1)]
    median: Seconds
    iqr: NonNegative
    q1: Seconds
    q3: Seconds
    iqr_outliers: Count
    stddev_outliers: Count
    outliers: str
    ld15iqr: Seconds
    hd15iqr: Seconds
    ops: NonNegative
    total: Seconds
    data: Annotated[list[Seconds], Field(min_length=1)]
    iterations: Annotated[int, Field(ge=1)]

    @model_validator(mode="after")
    def _consistent(self) -> Stats:
        if self.rounds != len(self.data):
            raise ValueError(f"rounds is {self.rounds} but data holds {len(self.data)} round times")
        if not self.min <= self.median <= self.max:
            raise ValueError(f"median {self.median} is not between min {self.min} and max {self.max}")
        return self

    @classmethod
    def from_rounds(cls, data: list[float], iterations: int = 1) -> Stats:
        """Statistics of per-round times as pytest-benchmark computes them (for pooled or made-up rounds)."""
        from pytest_benchmark.stats import Stats as BenchStats

        stats = BenchStats()
        for value in data:
            stats.update(value)
        return cls.model_validate({**stats.as_dict(), "data": list(data), "iterations": iterations})


class Precision(Record):
    """The numeric precision a case ran in."""

    dtype: str
    tf32: bool | None = None  # TF32 allowed for float32 matmuls (None: not a GPU framework setting here)


class Threads(Record):
    """Thread settings in effect while a case ran."""

    intra_op: int | None = None  # as configured in the framework (0 = its default)
    inter_op: int | None = None
    effective_intra_op: int | None = None  # what the framework actually uses
    cpu_count: int | None = None
    usable_cores: int | None = None  # CPUs this process may run on (affinity)
    env: dict[str, str] = Field(default_factory=dict)  # TF_NUM_INTRAOP_THREADS, OMP_NUM_THREADS, ... where set


class Warmup(Record):
    """The untimed warm-up before the timed rounds."""

    calls: Count
    first_call_s: NonNegative
    last_call_s: NonNegative


class Timing(Record):
    """How the number of timed rounds was chosen, and what ended the timing."""

    rounds: Annotated[int, Field(ge=1)]
    # fixed rounds, the precision target, the time budget, or a workload's fixed duration (sustained)
    stopped_by: Literal["rounds", "precision", "budget", "duration"]
    precision_target: Positive | None = None  # wanted half-width of the median's interval, as a fraction
    precision_reached: NonNegative | None = None  # the half-width reached, as a fraction of the median
    budget_s: Positive | None = None
    # Batched rounds (bench.batching): calls per round (stats hold round time / calls), why, and the per-round sync
    # and launch overhead the warm-up estimated
    calls_per_round: Annotated[int, Field(ge=1)] | None = None
    batch_reason: str | None = None
    round_overhead_s: NonNegative | None = None
    # the per-call median timed on the device itself (CUDA events) next to the host's stats.median, and how
    device_median_s: Seconds | None = None
    device_timer: str | None = None
    # matmul and membw: "hot" (the default) or "cold" (a buffer of flush_bytes written before every call, untimed)
    cache: Literal["hot", "cold"] | None = None
    flush_bytes: Count | None = None
    # GPU cases with per-round NVML clocks: rounds left out of the headline (stats) for a power or thermal clock
    # event, their share, whether every round was throttled (then all are kept), in words; and every round's
    # per-call time in order (all_round_times_s, only when some were left out: stats.data holds the kept ones)
    rounds_left_out: Count | None = None
    left_out_share: Annotated[float, Field(ge=0, le=1)] | None = None
    every_round_throttled: bool | None = None
    headline: str | None = None
    all_round_times_s: list[Seconds] | None = None


class NvmlGpuSummary(OpenRecord):
    """NVML's summary of one GPU while a case ran (keyed by NVML index in `CaseInfo.nvml`)."""

    name: str | None = None
    uuid: str | None = None
    samples: Count = 0
    duration_s: NonNegative = 0.0
    peak_mem_mib: NonNegative | None = None
    mean_mem_mib: NonNegative | None = None
    peak_proc_mem_mib: NonNegative | None = None
    mean_proc_mem_mib: NonNegative | None = None
    process_memory_attributed: bool | None = None
    process_memory_reason: str = ""
    mean_util_gpu_pct: NonNegative | None = None
    mean_util_mem_pct: NonNegative | None = None
    mean_power_w: NonNegative | None = None
    max_power_w: NonNegative | None = None
    energy_j: NonNegative | None = None
    max_temp_c: float | None = None
    max_sm_clock_mhz: NonNegative | None = None
    min_sm_clock_mhz: NonNegative | None = None
    throttled: bool | None = None
    throttle_reasons: list[str] = Field(default_factory=list)
    first_throttle_s: NonNegative | None = None  # when a reason other than idle first appeared, since the first sample
    clock_event_reasons: list[str] = Field(default_factory=list)
    error: str | None = None
    # the fastest PCIe link state NVML reported at the case's start or end, and its theoretical GB/s per direction
    pcie_link_gen: int | None = None
    pcie_link_width: int | None = None
    pcie_link_gbs_per_direction: NonNegative | None = None


class AllocatorMemory(Record):
    """The framework allocator's peak on a GPU while a case ran."""

    allocator: str  # "tensorflow" or "torch.cuda"
    peak_bytes: Count


class CaseInfo(OpenRecord):
    """devicebench's facts about one case (`extra_info`); a workload's own keys follow as JSON values."""

    workload: str
    workload_version: Annotated[int, Field(ge=1)]
    backend: Annotated[str, StringConstraints(min_length=1)]
    backend_version: str
    device: DeviceName
    device_kind: Literal["cpu", "gpu"]
    device_name: str
    params: dict[str, ParamValue]
    work_per_call: Positive
    work_unit: str
    measure: Literal["throughput", "latency"] = "throughput"  # latency: no work unit moves (a zero-copy view)
    throughput: Positive | None = None
    throughput_unit: str | None = None
    sync: str
    placement: str
    precision: Precision
    threads: Threads
    warmup: Warmup
    timing: Timing | None = None
    one_time_cost_s: NonNegative
    profile: str
    nvml: dict[str, NvmlGpuSummary] | None = None
    allocator_memory: AllocatorMemory | None = None
    energy: CaseEnergy | None = None  # GPU cases with NVML: what the timed rounds cost, net of idle
    throttle: CaseThrottle | None = None  # GPU cases with NVML: clock-event reasons other than idle
    sustained: SustainedCheck | None = None  # sustained cases: round end times and the result checksums
    case_label: str | None = None  # the case as people read it ('n=1024 float32'), made by its workload

    @model_validator(mode="after")
    def _consistent(self) -> CaseInfo:
        if self.measure == "throughput" and (self.throughput is None or not self.throughput_unit):
            raise ValueError("a throughput case needs throughput and throughput_unit")
        if self.measure == "latency" and self.throughput is not None:
            raise ValueError("a latency case has no throughput")
        return self

    @property
    def extras(self) -> dict[str, JsonValue]:
        """The workload's own keys (e.g. MNIST `final_loss`, tf.data `input_bound`)."""
        return dict(self.__pydantic_extra__ or {})


class Benchmark(OpenRecord):
    """One measured case as pytest-benchmark records it, with devicebench's `extra_info`."""

    group: str | None = None
    name: str
    fullname: str
    params: dict[str, JsonValue] | None = None
    param: str | None = None
    extra_info: CaseInfo
    options: dict[str, JsonValue] = Field(default_factory=dict)
    stats: Stats


# --- the run ----------------------------------------------------------------------------------------------------


class SkipRecord(Record):
    """A case that produced no number, and why."""

    name: str
    workload: str
    backend: str
    device: DeviceName
    device_kind: Literal["cpu", "gpu"]
    params: dict[str, ParamValue]
    kind: SkipKind  # profile, oom, error, unsupported, ...
    reason: str


class DeviceRecord(OpenRecord):
    """A device of one backend, as discovered (hardware facts such as the detected SKU may follow)."""

    backend: str
    name: DeviceName
    kind: Literal["cpu", "gpu"]
    model: str
    memory_bytes: Count | None = None
    compute_capability: str | None = None
    pci_bus_id: str | None = None
    nvml_index: int | None = None
    # GPUs NVML matched: the detected SKU, its spec (None when unknown) and the host link's ceiling
    sku: SkuRecord | None = None
    spec: GpuSpecRecord | None = None
    host_link: LinkRecord | None = None
    # the best figures published for the detected SKU (bench/hardware/reference.toml), where it lists them
    reference: ReferenceEnvelope | None = None


class BackendStatus(OpenRecord):
    """Whether a backend could run, its version, and its build facts (CUDA, cuDNN, TF32, threads)."""

    available: bool
    version: str | None = None
    reason: str = ""


class NvmlStatus(Record):
    """Whether NVML sampled this run, and where its timeline is."""

    enabled: bool
    reason: str = ""
    error: str | None = None
    csv: str | None = None


class NvmlGpuInfo(OpenRecord):
    """One GPU as NVML described it at the start of the run (its detected SKU and link may follow)."""

    index: int
    name: str | None = None
    uuid: str | None = None
    pci_bus_id: str | None = None
    memory_total_mib: NonNegative | None = None
    power_limit_w: NonNegative | None = None
    max_sm_clock_mhz: NonNegative | None = None
    max_mem_clock_mhz: NonNegative | None = None


class NvmlMachine(OpenRecord):
    """NVML's view of the host: whether it ran, the driver, and every GPU it saw."""

    enabled: bool
    reason: str = ""
    driver_version: str | None = None
    nvml_version: str | None = None
    cuda_driver_version: str | None = None
    gpus: list[NvmlGpuInfo] = Field(default_factory=list)


class MachineFacts(OpenRecord):
    """devicebench's additions to pytest-benchmark's machine_info."""

    version: str
    host: str
    backends: dict[str, BackendStatus]
    devices: list[DeviceRecord]
    cpu_model: str
    cpu_cores: Count | None = None
    cpu_usable_cores: Count | None = None
    thread_env: dict[str, str] = Field(default_factory=dict)
    container_image: str | None = None
    nvidia_driver: str | None = None
    nvml: NvmlMachine
    cpu_peak: CpuPeakRecord | None = None  # an estimate from the ISA, cores and clock, never a measurement
    gpu_idle: dict[str, IdlePower] = Field(default_factory=dict)  # by NVML index, measured before the first case


class MachineInfo(OpenRecord):
    """pytest-benchmark's machine_info (node, cpu, python, ...) with devicebench's facts."""

    node: str = ""
    cpu: dict[str, JsonValue] = Field(default_factory=dict)
    devicebench: MachineFacts


class CommitInfo(OpenRecord):
    """pytest-benchmark's commit_info (id, branch, dirty, or an error when not in a repository)."""

    id: str | None = None
    branch: str | None = None
    dirty: bool | None = None


class RunState(Record):
    """Where the run stands: running (or killed while running), complete, interrupted, or failed."""

    state: RunStateName
    complete: bool
    reason: str = ""
    started: str
    ended: str | None = None
    measured: Count = 0

    @model_validator(mode="after")
    def _consistent(self) -> RunState:
        if self.complete != (self.state == "complete"):
            raise ValueError(f"complete is {self.complete} but the state is {self.state!r}")
        return self


class Drift(Record):
    """A reference case timed at the start and at the end of the run (end is missing when the run was cut)."""

    reference: str
    start_s: Annotated[list[Seconds], Field(min_length=1)]
    end_s: list[Seconds] | None = None


class RunBlock(Record):
    """The top-level `devicebench` object: schema version, the run's state, options, skips and notes."""

    schema_version: Literal[3]
    suite_version: str
    run: RunState
    profile: str
    options: dict[str, JsonValue] = Field(default_factory=dict)
    workloads: dict[str, WorkloadSpec] = Field(default_factory=dict)  # every workload of the run, described
    backends: dict[str, BackendStatus]
    devices: list[DeviceRecord]
    notes: list[str] = Field(default_factory=list)
    skipped: list[SkipRecord] = Field(default_factory=list)
    nvml: NvmlStatus
    drift: Drift | None = None
    health: HealthRecord | None = None  # NVML health counters and the verdict (results_format.health); optional


class RunFile(OpenRecord):
    """A whole `benchmarks.json`."""

    machine_info: MachineInfo
    commit_info: CommitInfo
    benchmarks: list[Benchmark]
    datetime: str
    version: str  # pytest-benchmark's version
    devicebench: RunBlock

    @model_validator(mode="after")
    def _consistent(self) -> RunFile:
        if self.devicebench.run.measured != len(self.benchmarks):
            raise ValueError(
                f"devicebench.run.measured is {self.devicebench.run.measured} "
                f"but the file holds {len(self.benchmarks)} benchmarks"
            )
        for bench in self.benchmarks:
            problem = _against_spec(bench.extra_info, self.devicebench.workloads)
            if problem:
                raise ValueError(f"benchmark {bench.name!r}: {problem}")
        names = [b.name for b in self.benchmarks]
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"benchmark {twice[0]!r} appears more than once")
        return self

    @property
    def complete(self) -> bool:
        """Whether the run finished (an interrupted or killed run is readable but incomplete)."""
        return self.devicebench.run.complete


def _against_spec(info: CaseInfo, specs: dict[str, WorkloadSpec]) -> str | None:
    """Why a case does not match its workload's spec in the file (unknown, another version, other params)."""
    spec = specs.get(info.workload)
    if spec is None:
        known = ", ".join(specs) or "none"
        return f"unknown workload {info.workload!r} (devicebench.workloads describes: {known})"
    if info.workload_version != spec.version:
        return f"{info.workload} version {info.workload_version}, but devicebench.workloads says {spec.version}"
    if set(info.params) != set(spec.params):
        return f"{info.workload} params are {sorted(info.params)}, expected {sorted(spec.params)}"
    return None


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a results file, as published in docs/results-schema.json."""
    schema = RunFile.model_json_schema(mode="validation")
    schema["$id"] = f"https://devicebench.invalid/results-schema-{SCHEMA_VERSION}.json"
    schema["title"] = f"devicebench results file (schema version {SCHEMA_VERSION})"
    return schema
