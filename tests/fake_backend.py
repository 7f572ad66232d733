"""A scripted backend: every workload's call takes a scripted time on a virtual clock; faults on request.

    # `fake` registered in bench.backends.BACKEND_MODULES (as tests/test_plugin.py does), in-process:
    pytester.runpytest("-p", "bench.plugin", "--backend", "fake", "--benchmark-timer", "tests.fake_backend.now")
    # or the real plugin on a scripted host, the backends under their real names (tests/golden_plugin.py):
    python -m pytest bench -p tests.golden_plugin --backend tensorflow,torch ...

Each call advances CLOCK by its case's scripted duration times seeded log-normal noise (deterministic per host,
run seed and case); pytest-benchmark times the rounds with `now` and the runner's warm-up reads the same clock.
The machine, its speed and the faults come from tests/fake_hosts.py (DEVICEBENCH_FAKE_* variables). Three
variants: `tensorflow` and `torch` behave like the real backends (names, sync, placement strings, per-case facts,
what is zero-copy), `fake` is the TensorFlow-like one the plugin tests register under its own name.
"""

from __future__ import annotations

import fnmatch
import math
import os
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.backends.base import Backend, Builder, Prepared
from bench.cases import Case
from bench.devices import Device, normalise_device_name
from bench.hostinfo import host_name
from bench.nvml_fake import MIB, FakeGpu, FakeNvml
from bench.nvml_ids import normalise_bus_id
from bench.workloads.mnist import EVAL_SAMPLES, STEPS_PER_EPOCH, samples_needed
from bench.workloads.tfdata import input_bound
from tests.fake_hosts import GpuSlot, Host, Script, gpu_uuid

MNIST_FLOP_PER_SAMPLE = 6 * (784 * 1024 + 1024 * 1024 + 1024 * 10)  # forward and backward of the book's model
MLP_FLOP_PER_BATCH = 6 * (784 * 128 + 128 * 128 + 128 * 10) * 1000  # the tf.data model on a batch of 1000
CONTEXT_MIB = 480.0  # what a framework's CUDA context holds on every GPU it sees
TFDATA_RATES = {"serial": 220e3, "autotune": 1.15e6, "autotune-prefetch": 1.3e6, "autotune-cache-prefetch": 2.8e6}


class VirtualClock:
    """Seconds that pass only when a scripted call says so; every read moves on by READ_STEP_S.

    The step keeps two reads apart, as a real clock does: pytest-benchmark's timer-precision probe waits for
    two different readings. Listeners hear every advance (the golden plugin polls the fake NVML on them).
    """

    READ_STEP_S = 1e-9

    def __init__(self) -> None:
        self.t = 0.0
        self.listeners: list[Callable[[float], None]] = []

    def now(self) -> float:
        """The time, moving on by READ_STEP_S."""
        self.t += self.READ_STEP_S
        return self.t

    def peek(self) -> float:
        """The time without moving it (for observers that must not change what is timed)."""
        return self.t

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass, then tell the listeners."""
        self.t += seconds
        for listener in list(self.listeners):
            listener(self.t)


CLOCK = VirtualClock()


def now() -> float:
    """The virtual clock in seconds: `--benchmark-timer tests.fake_backend.now`."""
    return CLOCK.now()


class FakeOutOfMemory(RuntimeError):
    """A scripted out-of-memory error (the `fake` backend's; the others raise their framework's names)."""


class ResourceExhaustedError(FakeOutOfMemory):
    """TensorFlow's name for running out of device memory."""


class OutOfMemoryError(FakeOutOfMemory):
    """torch's name (torch.cuda.OutOfMemoryError)."""


@dataclass(frozen=True)
class FakeTensor:
    """A workload's output: all the suite checks of it is where it lives."""

    placement: str


@dataclass(frozen=True)
class Flavour:
    """What tells the backends apart: names, versions, per-call overheads and what their copies do."""

    name: str
    version: str
    sync_gpu: str
    sync_cpu: str
    allocator: str
    oom_error: type[FakeOutOfMemory]
    tf32_default: bool
    dispatch_s: Mapping[str, float]  # per matmul call, by device kind
    mnist_step_s: Mapping[tuple[str, str], float]  # per training step beyond the arithmetic, by (mode, kind)
    mnist_first_s: Mapping[str, float]  # the first call's tracing or compilation, by mode
    workloads: tuple[str, ...]


TF_MNIST_STEP_S = {
    ("eager", "cpu"): 1.4e-3,
    ("function", "cpu"): 2.2e-4,
    ("xla", "cpu"): 1.5e-4,
    ("keras-fit", "cpu"): 3.0e-4,
    ("eager", "gpu"): 1.9e-3,
    ("function", "gpu"): 2.8e-4,
    ("xla", "gpu"): 1.7e-4,
    ("keras-fit", "gpu"): 3.6e-4,
    ("split", "gpu"): 2.4e-3,
}
TF_MNIST_FIRST_S = {"eager": 0.35, "function": 1.1, "xla": 3.2, "keras-fit": 1.6, "split": 0.45}
TF_WORKLOADS = ("matmul", "mnist", "tfdata", "transfer")

FLAVOURS = {
    flavour.name: flavour
    for flavour in (
        Flavour(
            "fake",
            "0.0-fake",
            "fake.sync",
            "fake.sync",
            "fake",
            FakeOutOfMemory,
            False,
            {"cpu": 8e-6, "gpu": 12e-6},
            TF_MNIST_STEP_S,
            TF_MNIST_FIRST_S,
            TF_WORKLOADS,
        ),
        Flavour(
            "tensorflow",
            "2.21.0",
            "tf.test.experimental.sync_devices",
            "tf.test.experimental.sync_devices",
            "tensorflow",
            ResourceExhaustedError,
            True,
            {"cpu": 8e-6, "gpu": 12e-6},
            TF_MNIST_STEP_S,
            TF_MNIST_FIRST_S,
            TF_WORKLOADS,
        ),
        Flavour(
            "torch",
            "2.13.0",
            "torch.cuda.synchronize",
            "none (CPU ops are synchronous)",
            "torch.cuda",
            OutOfMemoryError,
            False,
            {"cpu": 4e-6, "gpu": 7e-6},
            {
                ("eager", "cpu"): 3.0e-4,
                ("compile", "cpu"): 1.4e-4,
                ("eager", "gpu"): 4.2e-4,
                ("compile", "gpu"): 1.6e-4,
            },
            {"eager": 0.15, "compile": 9.5},
            ("matmul", "mnist", "transfer"),
        ),
    )
}


# --- the scripted GPUs NVML reports ---------------------------------------------------------------------------


class ScriptedGpus:
    """The fake NVML GPUs of a run, kept in step with what the scripted cases do on them."""

    def __init__(self) -> None:
        self.slots: dict[str, tuple[GpuSlot, FakeGpu]] = {}  # by normalised bus id
        self.pool_mib: dict[str, float] = {}  # what the allocator holds (it grows, it never gives back)
        self.pid = os.getpid()

    def attach(self, host: Host, name: str) -> FakeNvml:
        """FakeGpus for `host`'s GPUs (in NVML's bus order) behind a FakeNvml; this object scripts them from now."""
        self.slots.clear()
        self.pool_mib.clear()
        self.pid = os.getpid()
        for index, slot in sorted(enumerate(host.gpus), key=lambda item: item[1].pci_bus_id):
            model = slot.model
            gpu = FakeGpu(
                name=model.name,
                uuid=gpu_uuid(name, index),
                pci_bus_id=slot.pci_bus_id,
                memory_total_mib=model.memory_mib,
                power_limit_mw=int(model.max_w * 1000),
                max_sm_clock_mhz=model.max_sm_mhz,
                max_mem_clock_mhz=model.max_mem_mhz,
                energy_mj=1_000_000 + index * 250_000,
            )
            bus = normalise_bus_id(slot.pci_bus_id) or slot.pci_bus_id
            self.slots[bus] = (slot, gpu)
            self.pool_mib[bus] = 0.0
            self._show_memory(bus)
            self._set_activity(slot, gpu, 0.0)
        return FakeNvml(gpus_in_bus_order(self.slots), driver_version=host.driver or "550.54.15")

    def allocate(self, bus: str | None, need_bytes: float) -> None:
        """The allocator's pool on a GPU grows to hold a case's inputs."""
        if bus in self.slots:
            self.pool_mib[bus] = max(self.pool_mib[bus], need_bytes / MIB)
            self._show_memory(bus)

    def run(self, busy_bus: str | None, util: float, seconds: float) -> None:
        """`seconds` pass with the GPU at `busy_bus` at `util` % and every other GPU idle (energy counts up)."""
        for bus, (slot, gpu) in self.slots.items():
            self._set_activity(slot, gpu, util if bus == busy_bus else 0.0)
            gpu.energy_mj += int(gpu.power_mw * seconds)

    def detach(self) -> None:
        """Stop scripting GPUs (the run that attached them is over)."""
        self.slots.clear()
        self.pool_mib.clear()

    def _show_memory(self, bus: str) -> None:
        gpu = self.slots[bus][1]
        held = CONTEXT_MIB + self.pool_mib[bus]
        gpu.mem_used_mib = 1.0 + held
        gpu.processes = [(self.pid, int(held * MIB))]

    @staticmethod
    def _set_activity(slot: GpuSlot, gpu: FakeGpu, util: float) -> None:
        model = slot.model
        busy = util > 0
        gpu.util_gpu = round(util)
        gpu.util_mem = round(util * 0.6)
        gpu.power_mw = int((model.idle_w + (model.max_w - model.idle_w) * util / 100 * 0.85) * 1000)
        gpu.temp_c = round(33 + 0.45 * util + (9 if slot.throttled and busy else 0))
        if not busy:
            gpu.sm_clock_mhz, gpu.clock_events = 210, 0x001  # idle clocks, NVML's gpu_idle reason
        elif slot.throttled:
            gpu.sm_clock_mhz, gpu.clock_events = int(model.max_sm_mhz * 0.8), 0x020  # sw_thermal_slowdown
        else:
            gpu.sm_clock_mhz, gpu.clock_events = model.max_sm_mhz, 0


def gpus_in_bus_order(slots: Mapping[str, tuple[GpuSlot, FakeGpu]]) -> list[FakeGpu]:
    """The FakeGpus as NVML lists them: by PCI bus id."""
    return [gpu for _, (_, gpu) in sorted(slots.items())]


GPUS = ScriptedGpus()
BUILT = {"cases": 0}  # cases built in this process (the signal fault counts them)


# --- the backends ---------------------------------------------------------------------------------------------


class ScriptedBackend(Backend):
    """The `fake` backend: CPU:0 plus the scripted host's GPUs; calls advance the virtual clock."""

    name = "fake"
    flavour = FLAVOURS["fake"]

    def __init__(self) -> None:
        self.script = Script.from_env()
        self.host = self.script.host
        self.host_name = host_name()
        self.sync_method = self.flavour.sync_gpu if self.host.gpus else self.flavour.sync_cpu
        self.allocator_name = self.flavour.allocator
        self.tf32 = self.flavour.tf32_default
        self._peak: dict[str, int] = {}
        BUILT["cases"] = 0  # every backend is made before the first case is built

    def version(self) -> str:
        """The scripted framework version."""
        return self.script.versions.get(self.name, self.flavour.version)

    def devices(self) -> list[Device]:
        """CPU:0 and the host's GPUs, with model, memory, compute capability and PCI bus id."""
        gpus = [
            Device(
                self.name,
                f"GPU:{i}",
                "gpu",
                slot.model.name,
                memory_bytes=slot.model.memory_mib * MIB,
                compute_capability=slot.model.compute_capability,
                pci_bus_id=normalise_bus_id(slot.pci_bus_id),
            )
            for i, slot in enumerate(self.host.gpus)
        ]
        return [Device(self.name, "CPU:0", "cpu", self.host.cpu.name), *gpus]

    def gpu_absence_reason(self) -> str | None:
        """Why there is no GPU, when the host has none."""
        if self.host.gpus:
            return None
        return "no fake GPU scripted"

    def sync(self) -> None:
        """Nothing to wait for: a scripted call's time already includes its device's work."""

    def placement(self, value: Any) -> str:
        """Where the output says it lives."""
        return value.placement

    def device_name_of(self, placement: str) -> str:
        """A placement string as a suite device name."""
        return normalise_device_name(placement.rsplit("/", 1)[-1])

    def placement_of(self, device: Device) -> str:
        """How this framework spells a device in an output's placement."""
        return f"/job:localhost/replica:0/task:0/device:{device.name}"

    def builders(self) -> Mapping[str, Builder]:
        """The scripted builders of this flavour's workloads."""
        every: dict[str, Builder] = {
            "matmul": build_matmul,
            "mnist": build_mnist,
            "tfdata": build_tfdata,
            "transfer": build_transfer,
        }
        return {name: every[name] for name in self.flavour.workloads}

    def is_out_of_memory(self, error: BaseException) -> bool:
        """The scripted out-of-memory errors."""
        return isinstance(error, FakeOutOfMemory)

    def machine_info(self) -> dict[str, Any]:
        """Version and build facts."""
        return {"version": self.version(), "built_with_cuda": self.host.cuda_build}

    def case_facts(self, case: Case) -> dict[str, Any]:
        """dtype, the TF32 policy and the host's thread counts."""
        cores = self.host.cpu.cores
        return {
            "precision": {"dtype": case.params.get("dtype", "float32"), "tf32": self.tf32},
            "threads": {
                "intra_op": 0,
                "inter_op": 0,
                "effective_intra_op": cores,
                "cpu_count": cores,
                "usable_cores": cores,
                "env": {},
            },
        }

    def set_tf32(self, enabled: bool) -> None:
        """TF32 for float32 GPU matmuls (scripted GPUs are faster with it)."""
        self.tf32 = enabled

    def memory_peak(self, device: Device) -> int | None:
        """The scripted allocator peak of the case built last on a GPU: its inputs and outputs."""
        return self._peak.get(device.name, 0) if device.kind == "gpu" else None

    # --- what the builders share ----------------------------------------------------------------------------

    def slot(self, device: Device) -> GpuSlot | None:
        """The host's GPU behind a suite device (None for the CPU)."""
        return self.host.gpus[int(device.name.split(":")[1])] if device.kind == "gpu" else None

    def gflops(self, device: Device, dtype: str) -> float:
        """The matmul peak of a device in a dtype (float32 on a GPU takes TF32 when allowed)."""
        slot = self.slot(device)
        if slot is None:
            return self.host.cpu.gflops
        key = "tf32" if dtype == "float32" and self.tf32 else dtype
        return slot.model.gflops[key]

    def output(self, case: Case) -> FakeTensor:
        """The output a case's call returns: on its device, or on the CPU when misplacing is scripted."""
        misplaced = self.script.faults.misplace_on == case.device.name
        device = Device(self.name, "CPU:0", "cpu", self.host.cpu.name) if misplaced else case.device
        return FakeTensor(self.placement_of(device))

    def prepare(self, case: Case, need_bytes: float) -> None:
        """Count the case, and allocate its inputs: a scripted out-of-memory error when they do not fit."""
        BUILT["cases"] += 1
        faults, slot = self.script.faults, self.slot(case.device)
        n = int(case.params.get("n", 0) or 0)
        if (faults.oom_on and _matches(case.id, faults.oom_on)) or (
            slot is not None
            and (
                (faults.oom_from_n is not None and n >= faults.oom_from_n)
                or (slot.free_mib is not None and need_bytes > slot.free_mib * MIB)
            )
        ):
            raise self.flavour.oom_error(self.oom_message(case, need_bytes))
        if slot is not None:
            self._peak[case.device.name] = int(need_bytes)
            GPUS.allocate(normalise_bus_id(slot.pci_bus_id), need_bytes)

    def oom_message(self, case: Case, need_bytes: float) -> str:
        """What the framework says when a case does not fit (two lines, as frameworks do)."""
        index = case.device.name.split(":")[1]
        shape = f"shape[{case.params['n']},{case.params['n']}]" if "n" in case.params else f"{int(need_bytes)} bytes"
        return (
            f"OOM when allocating tensor with {shape} and type float on "
            f"/job:localhost/replica:0/task:0/device:{case.device.name} by allocator GPU_{index}_bfc\n"
            "\t [[{{node RandomStandardNormal}}]]"
        )

    def call(
        self, case: Case, seconds: float, *, first_s: float = 0.0, util: float = 50.0, noise: float | None = None
    ) -> tuple[Callable[[], FakeTensor], list[float]]:
        """The call to time: each advances the clock by `seconds` x noise (plus `first_s` once); and its durations."""
        rng = random.Random(self.script.seed_for(self.host_name, case.id))
        factor = self.script.time_factor(case.id)
        sigma = self.script.noise_for(case.id, noise if noise is not None else _default_noise(case.device))
        faults, index, out = self.script.faults, BUILT["cases"], self.output(case)
        slot = self.slot(case.device)
        bus = normalise_bus_id(slot.pci_bus_id) if slot is not None else None
        durations: list[float] = []

        def call() -> FakeTensor:
            if faults.signal is not None and index == faults.signal_in_case and not durations:
                os.kill(os.getpid(), faults.signal)
            spent = seconds * factor * rng.lognormvariate(0.0, sigma)
            if rng.random() < 0.02:  # the odd slow call, as on any real machine
                spent *= 1.1 + 0.2 * rng.random()
            spent += first_s * factor if not durations else 0.0
            durations.append(spent)
            GPUS.run(bus, util, spent)
            CLOCK.advance(spent)
            return out

        return call, durations

    def finish(self, case: Case, facts: Callable[[float], dict[str, Any]]) -> Callable[[float], dict[str, Any]]:
        """`facts`, or a scripted failure after the timed rounds."""
        pattern = self.script.faults.fail_after_timing_on
        if pattern and _matches(case.id, pattern):

            def failing(median_s: float) -> dict[str, Any]:
                raise RuntimeError(f"scripted failure after the timed rounds of {case.id}")

            return failing
        return facts


class FakeTensorFlowBackend(ScriptedBackend):
    """TensorFlow as the scripted host would run it: the names, sync, placements and facts of the real one."""

    name = "tensorflow"
    flavour = FLAVOURS["tensorflow"]

    def gpu_absence_reason(self) -> str | None:
        """TensorFlow's reasons: a CPU-only build, or a CUDA build that sees no GPU."""
        if self.host.gpus:
            return None
        if not self.host.cuda_build:
            return "TensorFlow is a CPU-only build (no CUDA)"
        return "no GPU visible to TensorFlow (driver, CUDA_VISIBLE_DEVICES or --gpus?)"

    def machine_info(self) -> dict[str, Any]:
        """TF and Keras versions, the CUDA build, TF32 and threads, as the real backend records them."""
        cuda = self.host.cuda_build
        return {
            "version": self.version(),
            "keras_version": "3.12.0",
            "built_with_cuda": cuda,
            "cuda_version": "12.5.1" if cuda else None,
            "cudnn_version": "9" if cuda else None,
            "tf32_enabled": self.tf32,
            "intra_op_threads": 0,
            "inter_op_threads": 0,
        }


class FakeTorchBackend(ScriptedBackend):
    """torch as the scripted host would run it (no tf.data; zero-copy CPU copies; pinned GPU copies)."""

    name = "torch"
    flavour = FLAVOURS["torch"]

    def gpu_absence_reason(self) -> str | None:
        """torch's reasons: a CPU-only build, or a CUDA build that sees no GPU."""
        if self.host.gpus:
            return None
        if not self.host.cuda_build:
            return f"torch {self.version()} is a CPU-only build (no CUDA)"
        return "no GPU visible to torch (driver, CUDA_VISIBLE_DEVICES or --gpus?)"

    def placement_of(self, device: Device) -> str:
        """torch's device strings: cpu, cuda:0."""
        return "cpu" if device.kind == "cpu" else f"cuda:{device.name.split(':')[1]}"

    def device_name_of(self, placement: str) -> str:
        """`cpu` -> CPU:0, `cuda:1` -> GPU:1."""
        kind, _, index = placement.partition(":")
        return "CPU:0" if kind == "cpu" else f"GPU:{index or 0}"

    def oom_message(self, case: Case, need_bytes: float) -> str:
        """torch's CUDA out-of-memory message."""
        slot = self.slot(case.device)
        total = slot.model.memory_mib / 1024 if slot else 0.0
        free = slot.free_mib if slot and slot.free_mib is not None else 0.0
        return (
            f"CUDA out of memory. Tried to allocate {need_bytes / MIB:.2f} MiB. GPU {case.device.name[4:]} has a "
            f"total capacity of {total:.2f} GiB of which {free:.2f} MiB is free.\n"
            "See documentation for Memory Management (PYTORCH_CUDA_ALLOC_CONF)"
        )

    def machine_info(self) -> dict[str, Any]:
        """torch's version, CUDA build, TF32 switches and threads, as the real backend records them."""
        cuda = self.host.cuda_build
        return {
            "version": self.version(),
            "built_with_cuda": cuda,
            "cuda_version": "12.8" if cuda else None,
            "cudnn_version": 91002 if cuda else None,
            "tf32_matmul": self.tf32,
            "tf32_cudnn": True,
            "float32_matmul_precision": "high" if self.tf32 else "highest",
            "intra_op_threads": self.host.cpu.cores,
            "inter_op_threads": self.host.cpu.cores,
        }

    def case_facts(self, case: Case) -> dict[str, Any]:
        """torch sets its intra-op threads to the core count itself."""
        facts = super().case_facts(case)
        cores = self.host.cpu.cores
        facts["threads"] = {**facts["threads"], "intra_op": cores, "inter_op": cores}
        return facts


# --- the workloads --------------------------------------------------------------------------------------------


def build_matmul(case: Case, backend: ScriptedBackend) -> Prepared:
    """n x n by n x n: a dispatch overhead plus 2n^3 FLOP at a peak that small sizes reach only in part."""
    n, dtype = int(case.params["n"]), str(case.params["dtype"])
    nbytes = 2 if dtype in ("float16", "bfloat16") else 4
    backend.prepare(case, 3 * n * n * nbytes)
    slot = backend.slot(case.device)
    half_n = slot.model.half_n if slot else backend.host.cpu.half_n
    efficiency = 1 / (1 + (half_n / n) ** 2)
    compute_s = 2.0 * n**3 / (backend.gflops(case.device, dtype) * 1e9 * efficiency)
    seconds = backend.flavour.dispatch_s[case.device.kind] + compute_s
    first_s = 3e-3 if slot else 5e-5  # the first call picks its kernels (and fills caches)
    call, _ = backend.call(case, seconds, first_s=first_s, util=min(99.0, 100 * compute_s / seconds))
    return Prepared(call, backend.finish(case, lambda median_s: {}))


def build_mnist(case: Case, backend: ScriptedBackend) -> Prepared:
    """The book's MNIST training: per-step overhead by mode plus the model's arithmetic; losses and accuracy."""
    params = dict(case.params)
    mode, steps, batch = str(params["mode"]), int(params["steps_per_call"]), int(params["batch_size"])
    kind, flavour = case.device.kind, backend.flavour
    if (mode, kind) not in flavour.mnist_step_s:
        raise ValueError(f"the {backend.name} backend has no MNIST mode {mode!r} on a {kind.upper()}")
    data_bytes = samples_needed(params) * 784 * 4 if backend.name == "torch" else 0  # torch moves the data over
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
            "final_loss": math.nan if nan and _matches(case.id, nan) else final_loss,
            "final_accuracy": min(0.99, (0.93 - 0.83 * left) * learn.uniform(0.99, 1.01)),
            "mnist_epoch_s_estimate": median_s * STEPS_PER_EPOCH / steps,
        }
        if backend.name == "torch":
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
    """Host-device copies: a latency plus bytes over the bus; CPU views (and all of torch's CPU copies) move nothing."""
    direction, nbytes = str(case.params["direction"]), int(case.params["bytes"])
    slot, torch = backend.slot(case.device), backend.name == "torch"
    backend.prepare(case, nbytes)
    back = direction != "h2d"
    facts: dict[str, Any] = {}
    if slot is None:
        zero_copy = torch or direction == "d2h-view"
        if zero_copy:
            seconds = 1.8e-6 if back else 1.5e-6
        else:
            seconds = (5e-6 if back else 6e-6) + nbytes / (backend.host.cpu.memcpy_gbs * 1e9)
    else:
        zero_copy = False
        gbs = slot.model.pinned_gbs if torch else slot.model.pageable_gbs
        latency = 10e-6 if torch else (35e-6 if back else 25e-6) + (3e-6 if direction == "d2h-view" else 0.0)
        seconds = latency + nbytes / (gbs[1 if back else 0] * 1e9)
    if torch:
        gpu = slot is not None
        facts = {
            "pinned": gpu,
            "numpy_interop": "copied over PCIe/NVLink" if gpu else "CPU tensors share memory with numpy (no copy)",
        }
        where = f"cuda:{case.device.name[4:]}"
        if direction == "h2d":
            facts["copy"] = (
                f"pinned host tensor .to('{where}', non_blocking=True)"
                if gpu
                else "torch.from_numpy(array).to('cpu'): shares the numpy buffer, no copy"
            )
        else:
            facts["copy"] = (
                "pinned host tensor .copy_(device tensor, non_blocking=True), then .numpy()"
                if gpu
                else "tensor.cpu().numpy(): shares the tensor's buffer, no copy"
            )
    call, _ = backend.call(case, seconds, util=0.0 if slot is None else 4.0)
    return Prepared(call, backend.finish(case, lambda median_s: {**facts, "zero_copy": zero_copy}))


def _default_noise(device: Device) -> float:
    """How much a call's time varies on a quiet machine: a little more on the CPU."""
    return 0.02 if device.kind == "cpu" else 0.012


def _matches(case_id: str, pattern: str) -> bool:
    """Whether a case id matches a fault's fnmatch pattern."""
    return fnmatch.fnmatchcase(case_id, pattern)
