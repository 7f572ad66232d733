"""A scripted backend: every workload's call takes a scripted time on a virtual clock; faults on request.

    # `fake` registered in bench.backends.BACKEND_MODULES (as tests/test_plugin.py does), in-process:
    pytester.runpytest("-p", "bench.plugin", "--backend", "fake", "--benchmark-timer", "tests.fake_backend.now")
    # or the real plugin on a scripted host, the backends under their real names (tests/golden_plugin.py):
    python -m pytest bench -p tests.golden_plugin --backend tensorflow,torch ...

Each call advances CLOCK (tests/fake_clock.py) by its case's scripted duration times seeded log-normal noise
(deterministic per host, run seed and case), and slower where its GPU is power-capped or hot; pytest-benchmark
times the rounds with `now` and the runner's warm-up reads the same clock. While it runs, its GPUs' NVML readings
follow it (tests/fake_gpus.py). The machine, its speed and the faults come from tests/fake_hosts.py
(DEVICEBENCH_FAKE_* variables); the workloads' time models and facts are in tests/fake_workloads.py, for the
multi-device ones tests/fake_multi.py, for inference, checkpoints and dispatch tests/fake_serving.py, for the training
ones tests/fake_training.py. Three variants: `tensorflow` and `torch` behave like the real backends
(names, sync, placement strings, per-case facts, what is zero-copy, how multi-device cases are run), `fake` is the
TensorFlow-like one the plugin tests register under its own name.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.backends.base import Backend, Builder, CacheFlush
from bench.cases import Case, Workload
from bench.devices import Device, normalise_device_name
from bench.hostinfo import host_name
from bench.nvml_ids import normalise_bus_id
from bench.workloads.multidevice import CPU_REPLICAS
from tests import fake_multi, fake_serving, fake_training, fake_workloads
from tests.fake_clock import CLOCK, VirtualClock
from tests.fake_gpus import CONTEXT_MIB, GPUS, Activity
from tests.fake_hosts import GpuSlot, Script, matches
from tests.fake_nvml import MIB

__all__ = ["CLOCK", "FLAVOURS", "GPUS", "FakeTensorFlowBackend", "FakeTorchBackend", "ScriptedBackend", "VirtualClock"]


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
#: the workloads both frameworks run (TensorFlow also runs tfdata)
SHARED_WORKLOADS = ("inference", "checkpoint", "dispatch", "mnist_amp", "mnist_batch", "resnet50_train", "attention")
TF_WORKLOADS = (
    "matmul", "mnist", "tfdata", "transfer", "membw", "sustained", "scaling", "allreduce", *SHARED_WORKLOADS,
)  # fmt: skip

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
            ("matmul", "mnist", "transfer", "membw", "sustained", "scaling", "allreduce", "peaks", *SHARED_WORKLOADS),
        ),
    )
}


BUILT = {"cases": 0}  # cases built in this process (the signal fault counts them)


# --- the backends ---------------------------------------------------------------------------------------------


class ScriptedBackend(Backend):
    """The `fake` backend: CPU:0 plus the scripted host's GPUs; calls advance the virtual clock."""

    name = "fake"
    flavour = FLAVOURS["fake"]
    sync_s = 0.0  # what one sync costs the host beyond the device's work (set it to script a sync cost)
    flush_s = 1e-4  # what writing a cold round's flush buffer takes (outside the timed region)

    def __init__(self) -> None:
        self.script = Script.from_env()
        self.host = self.script.host
        self.host_name = host_name()
        self.sync_method = self.flavour.sync_gpu if self.host.gpus else self.flavour.sync_cpu
        self.allocator_name = self.flavour.allocator
        self.tf32 = self.flavour.tf32_default
        self._peak: dict[str, int] = {}
        self.trainer: dict[str, Any] = {}  # the ResNet-50 trainer TensorFlow keeps for the next case (its key, cases)
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
        """A scripted call's time already includes its device's work: only the scripted sync cost passes."""
        if self.sync_s:
            CLOCK.advance(self.sync_s)

    def device_timer(self, device: Device) -> FakeDeviceTimer | None:
        """On a GPU, the calls' own time on the virtual clock, without the sync (as CUDA events see it)."""
        return FakeDeviceTimer() if device.kind == "gpu" and self.torch_like else None

    def cache_flush(self, device: Device) -> CacheFlush:
        """A scripted flush buffer: twice a 50 MiB L2 on GPUs, 64 MiB on the CPU; writing it takes flush_s."""
        return CacheFlush(lambda: CLOCK.advance(self.flush_s), 100 * MIB if device.kind == "gpu" else 64 * MIB)

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
            "matmul": fake_workloads.build_matmul,
            "mnist": fake_workloads.build_mnist,
            "tfdata": fake_workloads.build_tfdata,
            "transfer": fake_workloads.build_transfer,
            "membw": fake_workloads.build_membw,
            "sustained": fake_workloads.build_sustained,
            "peaks": fake_workloads.build_peaks,
            "scaling": fake_multi.build_scaling,
            "allreduce": fake_multi.build_allreduce,
            "inference": fake_serving.build_inference,
            "checkpoint": fake_serving.build_checkpoint,
            "dispatch": fake_serving.build_dispatch,
            "mnist_amp": fake_training.build_mnist_train,
            "mnist_batch": fake_training.build_mnist_train,
            "resnet50_train": fake_training.build_resnet50_train,
            "attention": fake_workloads.build_attention,
        }
        return {name: every[name] for name in self.flavour.workloads}

    def builder_for(self, workload: Workload) -> Builder | None:
        """The scripted builder of `workload`, where this flavour runs it."""
        return self.builders().get(workload.name)

    @property
    def torch_like(self) -> bool:
        """Whether this backend copies, pins and runs multi-device cases as torch does (else as TensorFlow)."""
        return self.name == "torch"

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
            "precision": {
                "dtype": case.params.get("dtype") or case.params.get("precision") or "float32",
                "tf32": self.tf32,
            },
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

    @property
    def convolutions_tf32(self) -> bool:
        """Whether float32 convolutions run as TF32 on a GPU (TensorFlow's one switch covers them)."""
        return self.tf32

    def memory_peak(self, device: Device) -> int | None:
        """The scripted allocator peak of the case built last on a GPU: its inputs and outputs."""
        return self._peak.get(device.name, 0) if device.kind == "gpu" else None

    def usable_mib(self, slot: GpuSlot) -> float:
        """What a case may allocate on a GPU: what other processes leave, else its memory less the CUDA context."""
        return slot.free_mib if slot.free_mib is not None else slot.model.memory_mib - CONTEXT_MIB

    def has_package(self, package: str) -> bool:
        """Whether the scripted host has a package the backend needs for some cases (torchvision)."""
        return package not in self.host.not_installed

    # --- what the builders share ----------------------------------------------------------------------------

    def slot(self, device: Device) -> GpuSlot | None:
        """The host's GPU behind a suite device (None for the CPU)."""
        return self.host.gpus[int(device.name.split(":")[1])] if device.kind == "gpu" else None

    def bus(self, device: Device) -> str | None:
        """The normalised PCI bus id of a GPU device (None for the CPU): how tests/fake_gpus.py knows it."""
        slot = self.slot(device)
        return normalise_bus_id(slot.pci_bus_id) if slot is not None else None

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

    def prepare(self, case: Case, need_bytes: float, on: Sequence[Device] | None = None) -> None:
        """Count the case, idle the GPUs and allocate its inputs on `on` (default: its device), or run out of memory.

        The error names the first device of `on` without room (a multi-device case needs it on every replica).
        """
        BUILT["cases"] += 1
        GPUS.settle()
        faults, devices = self.script.faults, list(on) if on is not None else [case.device]
        n = int(case.params.get("n", 0) or 0)
        for device in devices:
            slot = self.slot(device)
            if (faults.oom_on and matches(case.id, faults.oom_on)) or (
                slot is not None
                and (
                    (faults.oom_from_n is not None and n >= faults.oom_from_n)
                    or need_bytes > self.usable_mib(slot) * MIB
                )
            ):
                raise self.flavour.oom_error(self.oom_message(case, need_bytes, device))
        for device in devices:
            if device.kind == "gpu":
                self._peak[device.name] = int(need_bytes)
                GPUS.allocate(self.bus(device), need_bytes)

    def oom_message(self, case: Case, need_bytes: float, device: Device | None = None) -> str:
        """What the framework says when a case does not fit on `device` (default: its own), in two lines as it does."""
        device = device or case.device
        index = device.name.split(":")[1]
        shape = f"shape[{case.params['n']},{case.params['n']}]" if "n" in case.params else f"{int(need_bytes)} bytes"
        return (
            f"OOM when allocating tensor with {shape} and type float on "
            f"/job:localhost/replica:0/task:0/device:{device.name} by allocator GPU_{index}_bfc\n"
            "\t [[{{node RandomStandardNormal}}]]"
        )

    def call(
        self,
        case: Case,
        seconds: float,
        *,
        first_s: float = 0.0,
        util: float = 50.0,
        load: float | None = None,
        noise: float | None = None,
        on: Sequence[Device] | None = None,
    ) -> tuple[Callable[[], FakeTensor], list[float]]:
        """The call to time: each advances the clock by `seconds` x noise (plus `first_s` once); and its durations.

        While it runs, the GPUs of `on` (default: the case's device) are at `util` % and draw `load` of their power
        span (default: 0.85 x util); a power-capped or hot GPU makes the call slower (tests/fake_gpus.py).
        """
        rng = random.Random(self.script.seed_for(self.host_name, case.id))
        factor = self.script.time_factor(case.id)
        sigma = self.script.noise_for(case.id, noise if noise is not None else _default_noise(case.device))
        faults, index, out = self.script.faults, BUILT["cases"], self.output(case)
        activity = Activity(util, util / 100 * 0.85 if load is None else load)
        buses = [self.bus(device) for device in (on if on is not None else [case.device])]
        busy = {bus: activity for bus in buses if bus is not None}
        durations: list[float] = []

        def call() -> FakeTensor:
            if faults.signal is not None and index == faults.signal_in_case and not durations:
                os.kill(os.getpid(), faults.signal)
            spent = seconds * factor * rng.lognormvariate(0.0, sigma)
            if rng.random() < 0.02:  # the odd slow call, as on any real machine
                spent *= 1.1 + 0.2 * rng.random()
            spent += first_s * factor if not durations else 0.0
            spent *= GPUS.slowdown(busy)
            durations.append(spent)
            GPUS.run(busy, spent)
            CLOCK.advance(spent)
            return out

        return call, durations

    def finish(self, case: Case, facts: Callable[[float], dict[str, Any]]) -> Callable[[float], dict[str, Any]]:
        """`facts`, or a scripted failure after the timed rounds."""
        pattern = self.script.faults.fail_after_timing_on
        if pattern and matches(case.id, pattern):

            def failing(median_s: float) -> dict[str, Any]:
                raise RuntimeError(f"scripted failure after the timed rounds of {case.id}")

            return failing
        return facts


class FakeDeviceTimer:
    """The device's view of a round on the virtual clock: from start to stop, before the host's sync."""

    method = "fake events"

    def __init__(self) -> None:
        self._start = self._stop = 0.0

    def start(self) -> None:
        """Note the clock at the round's start."""
        self._start = CLOCK.peek()

    def stop(self) -> None:
        """Note the clock after the round's last call."""
        self._stop = CLOCK.peek()

    def elapsed_s(self) -> float:
        """The calls' time."""
        return self._stop - self._start


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
            "cpu_logical_devices": CPU_REPLICAS,  # the CPU split for the multi-device workloads
        }


class FakeTorchBackend(ScriptedBackend):
    """torch as the scripted host would run it: no tf.data, zero-copy CPU copies, pinned copies, gloo or NCCL ranks."""

    name = "torch"
    flavour = FLAVOURS["torch"]

    def __init__(self) -> None:
        super().__init__()
        self.tf32_cudnn = True  # torch's cuDNN convolutions take TF32 by default (its matmuls do not)

    def set_tf32(self, enabled: bool) -> None:
        """TF32 for float32 matmuls and cuDNN convolutions, as the real backend switches both."""
        self.tf32 = self.tf32_cudnn = enabled

    @property
    def convolutions_tf32(self) -> bool:
        """torch's convolutions follow cuDNN's TF32 switch, on by default."""
        return self.tf32_cudnn

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

    def oom_message(self, case: Case, need_bytes: float, device: Device | None = None) -> str:
        """torch's CUDA out-of-memory message."""
        device = device or case.device
        slot = self.slot(device)
        total = slot.model.memory_mib / 1024 if slot else 0.0
        free = self.usable_mib(slot) if slot else 0.0
        return (
            f"CUDA out of memory. Tried to allocate {need_bytes / MIB:.2f} MiB. GPU {device.name[4:]} has a "
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
            "tf32_cudnn": self.tf32_cudnn,
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


def _default_noise(device: Device) -> float:
    """How much a call's time varies on a quiet machine: a little more on the CPU."""
    return 0.02 if device.kind == "cpu" else 0.012
