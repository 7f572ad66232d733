"""Scripted machines for the fake backend: CPU and GPU models with plausible speeds, and the hosts built from them.

A run picks its host with `DEVICEBENCH_FAKE_HOST` (default `testbox`) and adjusts it with the other
`DEVICEBENCH_FAKE_*` variables, read by `Script.from_env`:

    DEVICEBENCH_FAKE_HOST=workstation     the machine (HOSTS)
    DEVICEBENCH_FAKE_GPUS=1               keep only the first N of its GPUs (0: a CPU-only host)
    DEVICEBENCH_FAKE_SEED=3               fresh noise for another run of the same host (A/A pairs, history)
    DEVICEBENCH_FAKE_SPEED=1.25           every scripted time x 1.25 (a host 20 % slower on every case)
    DEVICEBENCH_FAKE_SLOW='*CPU:0-n256-*=2.0;*GPU:0-n1024-*=0.5'    time factors per case id (fnmatch)
    DEVICEBENCH_FAKE_NOISE='*mnist*=0.5'  noise (sigma of a log-normal factor) per case id
    DEVICEBENCH_FAKE_DRIVER=560.35.03     another NVIDIA driver
    DEVICEBENCH_FAKE_DRIFT=1.25           the machine got 25 % slower during the run (its reference case at the end)
    DEVICEBENCH_FAKE_HEAT=5               poor cooling: a GPU reaches its thermal limit after 5 s at full load
    DEVICEBENCH_FAKE_VERSIONS='tensorflow=2.20.0'                   another framework version
    DEVICEBENCH_FAKE_FAULTS='oom_from_n=1024;signal=SIGTERM@3'      fault switches (Faults)
    DEVICEBENCH_FAKE_HEALTH='GPU:2=remap_pending;GPU:6=xid79,ecc_rising'  GPU health faults (HEALTH_FAULTS)

The numbers are made up but shaped like real hardware: small matmuls are dispatch-bound, a GPU wins from some
n on, MNIST's eager loop is dominated by per-step overhead, a GPU training step fed by tf.data waits for its input,
memory bandwidth and copies reach most of what the board's spec and its link allow, large half-precision matmuls
hit the power limit, and collectives across GPUs without peer-to-peer go through host memory.
"""

from __future__ import annotations

import fnmatch
import os
import signal
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

ENV_PREFIX = "DEVICEBENCH_FAKE_"


@dataclass(frozen=True)
class CpuModel:
    """A host CPU as the scripted workloads see it."""

    name: str
    cores: int
    vendor: str  # cpuinfo's vendor_id_raw
    ghz: float
    gflops: float  # float32 matmul peak reached at large n
    half_n: int  # the matmul size that reaches half the peak
    memcpy_gbs: float  # one thread copying host memory
    pipeline_scale: float  # tf.data throughput relative to a 16-core server CPU
    membw_gbs: tuple[float, float]  # STREAM copy and triad on every core (read + written)
    family: int  # cpuinfo's family: 6 for these Intel cores, 0x19 for AMD Zen 3 and Zen 4
    flags: tuple[str, ...] = ("avx", "avx2", "fma", "sse4_2")  # the ISA flags cpuinfo lists (what the peak needs)


@dataclass(frozen=True)
class GpuModel:
    """A GPU model: compute per dtype, memory, copies over its bus, power and clocks."""

    name: str
    memory_mib: int
    compute_capability: str
    gflops: Mapping[str, float]  # "float32" (strict), "tf32", "float16", "bfloat16": matmul peaks
    half_n: int
    pageable_gbs: tuple[float, float]  # (h2d, d2h) from pageable host memory (TensorFlow's, torch's pageable)
    pinned_gbs: tuple[float, float]  # (h2d, d2h) from pinned host memory (torch's pin_memory copies)
    idle_w: float
    max_w: float  # its power limit (the default one)
    max_sm_mhz: int
    max_mem_mhz: int
    membw_gbs: tuple[float, float]  # STREAM copy and triad in its own memory (read + written)
    pcie_gen: int = 4  # the PCIe generation of the GPU and its slot (x16)


@dataclass(frozen=True)
class GpuSlot:
    """One GPU in a host: its model, where it sits on the bus, and how much memory this process may use."""

    model: GpuModel
    pci_bus_id: str  # as NVML spells it: 00000000:3B:00.0
    free_mib: float | None = None  # what other processes leave; a case needing more runs out of memory
    throttled: bool = False  # held below its clocks (thermal), as NVML's clock-event reasons say


@dataclass(frozen=True)
class Host:
    """A whole scripted machine."""

    name: str
    cpu: CpuModel
    gpus: tuple[GpuSlot, ...]  # in the frameworks' order (GPU:0 first), not NVML's bus order
    driver: str | None  # the NVIDIA driver, None without one
    cuda_build: bool  # the frameworks are CUDA builds (False: CPU-only wheels)
    container_image: str | None = None
    # backends whose framework is missing here; "torchvision" there: torch cannot build ResNet-50 (an unavailable skip)
    not_installed: tuple[str, ...] = ()
    speed: float = 1.0  # every scripted time is multiplied by it
    disk_gbs: tuple[float, float] = (1.2, 2.0)  # the results disk: (write, read) GB/s of one large file (NVMe)

    @property
    def kernel(self) -> str:
        """The Linux release pytest-benchmark records."""
        return "6.8.0-45-generic" if self.container_image or self.gpus else "6.5.0-21-generic"

    @property
    def results_dir(self) -> str:
        """Where its runs are written (--results-dir): the image's mounted /results, else a user's checkout."""
        return "/results" if self.container_image else f"/home/bench/devicebench/results-{self.name}"


AVX512 = ("avx", "avx2", "fma", "sse4_2", "avx512f")
XEON_8480 = CpuModel(
    "Intel(R) Xeon(R) Platinum 8480+", 16, "GenuineIntel", 2.0, 1500.0, 256, 11.0, 1.0, (110.0, 120.0), 6,
    (*AVX512, "avx512_bf16", "amx_bf16"),
)  # fmt: skip
XEON_6338 = CpuModel(
    "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", 32, "GenuineIntel", 2.0, 1900.0, 288, 10.0, 1.4, (120.0, 130.0), 6,
    AVX512,
)  # fmt: skip
RYZEN_5800U = CpuModel(
    "AMD Ryzen 7 5800U with Radeon Graphics", 8, "AuthenticAMD", 1.9, 350.0, 192, 9.0, 0.25, (30.0, 33.0), 0x19
)
RYZEN_7950X = CpuModel(
    "AMD Ryzen 9 7950X 16-Core Processor", 16, "AuthenticAMD", 4.5, 1100.0, 224, 14.0, 1.1, (60.0, 66.0), 0x19, AVX512
)
EPYC_9454 = CpuModel(
    "AMD EPYC 9454 48-Core Processor", 32, "AuthenticAMD", 2.75, 2200.0, 320, 12.0, 1.6, (180.0, 200.0), 0x19, AVX512
)
EPYC_7763 = CpuModel(
    "AMD EPYC 7763 64-Core Processor", 16, "AuthenticAMD", 2.45, 1200.0, 256, 10.0, 0.9, (95.0, 105.0), 0x19
)
EPYC_7313P = CpuModel(
    "AMD EPYC 7313P 16-Core Processor", 16, "AuthenticAMD", 3.0, 900.0, 224, 10.0, 0.8, (85.0, 95.0), 0x19
)
FAKE_CPU = CpuModel("Fake CPU", 4, "GenuineIntel", 3.0, 200.0, 192, 8.0, 0.4, (20.0, 22.0), 6)

H100 = GpuModel(
    "NVIDIA H100 80GB HBM3",
    81559,
    "9.0",
    # what torch reached on a real H100 SXM (bench/hardware/gpu_specs.toml): 76-79 % of the dense peaks
    # FP8: ~72 % of the dense 1,979 TFLOP/s, as MAMF-finder's best shapes on H100/H200
    {"float32": 51000.0, "tf32": 375000.0, "float16": 785000.0, "bfloat16": 785000.0, "float8_e4m3fn": 1420000.0},
    2800,
    (11.0, 8.0),
    (48.0, 46.0),
    70.0,
    700.0,
    1980,
    2619,
    (2900.0, 2960.0),
    5,
)
A100 = GpuModel(
    "NVIDIA A100-SXM4-80GB",
    81920,
    "8.0",
    {"float32": 18000.0, "tf32": 40000.0, "float16": 150000.0, "bfloat16": 150000.0},
    1200,
    (10.0, 7.5),
    (24.0, 23.0),
    55.0,
    400.0,
    1410,
    1593,
    (1750.0, 1790.0),
)
RTX_4090 = GpuModel(
    "NVIDIA GeForce RTX 4090",
    24564,
    "8.9",
    {"float32": 40000.0, "tf32": 45000.0, "float16": 150000.0, "bfloat16": 150000.0, "float8_e4m3fn": 300000.0},
    1100,
    (10.0, 7.5),
    (25.0, 24.0),
    22.0,
    450.0,
    2520,
    10501,
    (900.0, 915.0),
)
RTX_A4000 = GpuModel(
    "NVIDIA RTX A4000",
    16376,
    "8.6",
    {"float32": 12000.0, "tf32": 15000.0, "float16": 50000.0, "bfloat16": 50000.0},
    900,
    (9.0, 7.0),
    (24.0, 23.0),
    12.0,
    140.0,
    1560,
    7001,
    (395.0, 405.0),
)
L4 = GpuModel(
    "NVIDIA L4",
    23034,
    "8.9",
    {"float32": 24000.0, "tf32": 30000.0, "float16": 90000.0, "bfloat16": 90000.0},
    1000,
    (10.0, 7.0),
    (24.0, 24.0),
    16.0,
    72.0,
    2040,
    6251,
    (245.0, 255.0),
)
FAKE_GPU = GpuModel(
    "Fake GPU",
    1024,
    "9.0",
    {"float32": 8000.0, "tf32": 10000.0, "float16": 30000.0, "bfloat16": 30000.0},
    800,
    (8.0, 6.0),
    (20.0, 20.0),
    20.0,
    200.0,
    1800,
    5000,
    (500.0, 510.0),
)

IMAGE = "devicebench:gpu-0.2.0"

HOSTS: dict[str, Host] = {
    host.name: host
    for host in (
        Host(
            "testbox",
            FAKE_CPU,
            tuple(GpuSlot(replace(FAKE_GPU, name=f"Fake GPU {i}"), f"00000000:{0x3B + i:02X}:00.0") for i in range(2)),
            None,
            True,
        ),
        Host("laptop", RYZEN_5800U, (), None, False, disk_gbs=(0.9, 1.6)),
        Host("gpubox", XEON_8480, (GpuSlot(H100, "00000000:1B:00.0"),), "560.35.03", True, IMAGE, ("torch",)),
        Host(
            "workstation",
            RYZEN_7950X,
            # the frameworks put the faster card first; NVML lists the A4000 first (its bus number is lower);
            # other processes hold most of the A4000: the largest memory-bandwidth arrays do not fit there
            (GpuSlot(RTX_4090, "00000000:65:00.0"), GpuSlot(RTX_A4000, "00000000:17:00.0", free_mib=1536.0)),
            "555.42.06",
            True,
        ),
        Host("mixedbox", EPYC_9454, (GpuSlot(H100, "00000000:C1:00.0"),), "560.35.03", True, IMAGE),
        Host("cibox", EPYC_7763, (GpuSlot(H100, "00000000:41:00.0"),), "555.42.06", True, IMAGE),
        Host("nightly", EPYC_7313P, (GpuSlot(L4, "00000000:01:00.0"),), "550.90.07", True, IMAGE),
        Host("fleet", XEON_6338, (GpuSlot(A100, "00000000:4B:00.0"),), "550.90.07", True, IMAGE),
        Host(  # eight H100 SXM: the health faults of DEVICEBENCH_FAKE_HEALTH and --concurrent's stragglers
            "sickbox",
            XEON_8480,
            tuple(
                GpuSlot(H100, f"00000000:{bus:02X}:00.0") for bus in (0x18, 0x2A, 0x3A, 0x5D, 0x9A, 0xAB, 0xBA, 0xDB)
            ),
            "560.35.03",
            True,
            IMAGE,
            ("torch",),
        ),
        Host(  # the fleet's A100 host with eight of them (for --concurrent)
            "fleet8",
            XEON_6338,
            tuple(
                GpuSlot(A100, f"00000000:{bus:02X}:00.0") for bus in (0x07, 0x0F, 0x47, 0x4E, 0x87, 0x90, 0xB7, 0xBD)
            ),
            "550.90.07",
            True,
            IMAGE,
        ),
        Host(
            "fleet-hot",
            XEON_6338,
            (GpuSlot(A100, "00000000:4B:00.0", throttled=True),),
            "550.90.07",
            True,
            IMAGE,
            (),
            1.25,
        ),
    )
}


#: the GPU health faults DEVICEBENCH_FAKE_HEALTH can give a GPU, as changes to its FakeGpu (tests/fake_gpus.py)
HEALTH_FAULTS = ("ecc_rising", "remap_pending", "gen4_x8", "xid79", "power500", "ecc_uncorrected")


class ScriptError(ValueError):
    """A DEVICEBENCH_FAKE_* variable that cannot be read; the message names it."""


@dataclass(frozen=True)
class Faults:
    """Fault switches: what goes wrong, and where (patterns are fnmatch patterns of case ids)."""

    misplace_on: str | None = None  # a device name (GPU:1): its outputs land on CPU:0
    oom_from_n: int | None = None  # matmuls from this n on run out of memory on every GPU
    oom_on: str | None = None  # cases that run out of memory (on a GPU or not)
    nan_loss_on: str | None = None  # MNIST cases whose loss ends NaN
    fail_after_timing_on: str | None = None  # cases whose facts raise after the timed rounds
    signal: int | None = None  # signal=SIGTERM@3: this process gets SIGTERM during the third case built
    signal_in_case: int = 0
    corrupt_on: str | None = None  # corrupt=*GPU:0*@3: sustained cases whose checksum is off from round 3 on
    corrupt_from_round: int = 0

    @classmethod
    def parse(cls, text: str) -> Faults:
        """`key=value;key=value` as in DEVICEBENCH_FAKE_FAULTS."""
        values: dict[str, object] = {}
        for key, value in _pairs(text, "FAULTS"):
            if key == "oom_from_n":
                values[key] = _number(value, "FAULTS", int)
            elif key == "signal":
                name, _, nth = value.partition("@")
                number = getattr(signal, name.upper(), None)
                if not isinstance(number, int) or not nth.isdigit() or int(nth) < 1:
                    raise ScriptError(f"{ENV_PREFIX}FAULTS: signal={value!r} is not like SIGTERM@3")
                values["signal"], values["signal_in_case"] = int(number), int(nth)
            elif key == "corrupt":
                pattern, _, nth = value.rpartition("@")
                if not pattern or not nth.isdigit() or int(nth) < 1:
                    raise ScriptError(f"{ENV_PREFIX}FAULTS: corrupt={value!r} is not like *GPU:0*@3 (a round from 1)")
                values["corrupt_on"], values["corrupt_from_round"] = pattern, int(nth)
            elif key in ("misplace_on", "oom_on", "nan_loss_on", "fail_after_timing_on"):
                values[key] = value
            else:
                raise ScriptError(f"{ENV_PREFIX}FAULTS: unknown switch {key!r}")
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Script:
    """Everything a scripted run is told: the host, its noise seed, per-case factors and faults."""

    host: Host
    seed: int = 0
    slow: tuple[tuple[str, float], ...] = ()
    noise: tuple[tuple[str, float], ...] = ()
    versions: Mapping[str, str] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    drift: float = 1.0  # the reference case's time at the end of the run / at its start
    heat_s: float | None = None  # seconds at full load after which a GPU reaches its thermal limit (None: never)
    health: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # GPU:2 -> its health faults

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Script:
        """The script the DEVICEBENCH_FAKE_* variables describe (ScriptError names a bad one)."""
        env = os.environ if env is None else env

        def get(name: str) -> str:
            return env.get(ENV_PREFIX + name, "").strip()

        name = get("HOST") or "testbox"
        if name not in HOSTS:
            raise ScriptError(f"{ENV_PREFIX}HOST={name!r} is not a scripted host; hosts: {', '.join(HOSTS)}")
        host = HOSTS[name]
        if get("GPUS"):
            host = replace(host, gpus=host.gpus[: _number(get("GPUS"), "GPUS", int)])
        if get("SPEED"):
            host = replace(host, speed=host.speed * _number(get("SPEED"), "SPEED", float))
        if get("DRIVER"):
            host = replace(host, driver=get("DRIVER"))
        return cls(
            host=host,
            seed=_number(get("SEED"), "SEED", int) if get("SEED") else 0,
            slow=tuple((p, _number(v, "SLOW", float)) for p, v in _pairs(get("SLOW"), "SLOW")),
            noise=tuple((p, _number(v, "NOISE", float)) for p, v in _pairs(get("NOISE"), "NOISE")),
            versions=dict(_pairs(get("VERSIONS"), "VERSIONS")),
            faults=Faults.parse(get("FAULTS")),
            drift=_number(get("DRIFT"), "DRIFT", float) if get("DRIFT") else 1.0,
            heat_s=_number(get("HEAT"), "HEAT", float) if get("HEAT") else None,
            health=_health(get("HEALTH")),
        )

    def time_factor(self, case_id: str) -> float:
        """How much slower than scripted this case runs here: the host's speed times any matching SLOW factor."""
        factor = self.host.speed
        for pattern, value in self.slow:
            if fnmatch.fnmatchcase(case_id, pattern):
                factor *= value
        return factor

    def noise_for(self, case_id: str, default: float) -> float:
        """A case's noise (sigma of a log-normal factor per call): the last matching NOISE pattern, else default."""
        sigma = default
        for pattern, value in self.noise:
            if fnmatch.fnmatchcase(case_id, pattern):
                sigma = value
        return sigma

    def seed_for(self, host_name: str, case_id: str) -> int:
        """A stable seed per host, run seed and case (Python's own hash() differs per process)."""
        return zlib.crc32(f"{host_name}|{self.seed}|{case_id}".encode())


def _health(text: str) -> dict[str, tuple[str, ...]]:
    """DEVICEBENCH_FAKE_HEALTH: `GPU:2=remap_pending;GPU:6=xid79,ecc_rising`."""
    faults = {}
    for device, names in _pairs(text, "HEALTH"):
        listed = tuple(n.strip() for n in names.split(",") if n.strip())
        unknown = [n for n in listed if n not in HEALTH_FAULTS]
        if unknown:
            raise ScriptError(f"{ENV_PREFIX}HEALTH: unknown fault {unknown[0]!r}; faults: {', '.join(HEALTH_FAULTS)}")
        faults[device] = listed
    return faults


def gpu_uuid(host_name: str, slot: int) -> str:
    """A stable, host-specific GPU UUID as NVML spells it."""
    digest = f"{zlib.crc32(f'{host_name}/{slot}'.encode()):08x}{zlib.crc32(f'{slot}/{host_name}'.encode()):08x}"
    digest += f"{zlib.crc32(host_name.encode()):08x}{slot:08x}"
    return f"GPU-{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def matches(case_id: str, pattern: str) -> bool:
    """Whether a case id matches a fault's (or a factor's) fnmatch pattern."""
    return fnmatch.fnmatchcase(case_id, pattern)


def _pairs(text: str, variable: str) -> list[tuple[str, str]]:
    """`a=1;b=2` -> [("a", "1"), ("b", "2")] (the last `=` splits, so patterns may hold none)."""
    pairs = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        key, sep, value = part.rpartition("=")
        if not sep or not key:
            raise ScriptError(f"{ENV_PREFIX}{variable}: {part!r} is not KEY=VALUE")
        pairs.append((key.strip(), value.strip()))
    return pairs


def _number(text: str, variable: str, kind: type[int] | type[float]) -> int | float:
    """A number from a DEVICEBENCH_FAKE_* variable, or ScriptError naming it."""
    try:
        return kind(text)
    except ValueError:
        raise ScriptError(f"{ENV_PREFIX}{variable}: {text!r} is not a number") from None
