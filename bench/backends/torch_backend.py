"""The PyTorch backend: devices, sync, placement and the torch builders for matmul and host-device copies.

Importing this module imports torch and never TensorFlow, so the suite runs where only torch is installed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import torch

from bench.backends.base import Backend, CacheFlush, Prepared, cpu_cache_bytes, flush_bytes
from bench.backends.torch_common import torch_device
from bench.backends.torch_multi import shutdown as shutdown_helpers
from bench.cases import Case
from bench.devices import Device
from bench.hostinfo import cpu_facts, thread_env, usable_cores
from bench.nvml_ids import torch_gpu_identities

CUDA_SYNC = "torch.cuda.synchronize"
CPU_SYNC = "none (CPU ops are synchronous)"


class TorchBackend(Backend):
    """PyTorch in eager mode (MNIST also with torch.compile)."""

    name = "torch"
    module_prefix = "torch"
    allocator_name = "torch.cuda"
    sync_method = CPU_SYNC

    def __init__(self) -> None:
        self._cuda = torch.cuda.is_available()
        self.sync_method = CUDA_SYNC if self._cuda else CPU_SYNC
        self._devices: list[Device] | None = None

    def version(self) -> str:
        """torch's version."""
        return str(torch.__version__)

    def devices(self) -> list[Device]:
        """CPU:0 and every CUDA device torch sees, with model, memory, compute capability and PCI bus id."""
        if self._devices is None:
            found = [Device(self.name, "CPU:0", "cpu", cpu_facts()["cpu_model"])]
            if self._cuda:
                buses = {g["device"]: g["pci_bus_id"] for g in torch_gpu_identities()}
                for i in range(torch.cuda.device_count()):
                    props = torch.cuda.get_device_properties(i)
                    found.append(
                        Device(
                            self.name,
                            f"GPU:{i}",
                            "gpu",
                            str(props.name),
                            memory_bytes=int(props.total_memory),
                            compute_capability=f"{props.major}.{props.minor}",
                            pci_bus_id=buses.get(f"GPU:{i}"),
                        )
                    )
            self._devices = found
        return self._devices

    def gpu_absence_reason(self) -> str | None:
        """Why torch has no GPU: a CPU-only build, or a CUDA build that sees none."""
        if any(d.kind == "gpu" for d in self.devices()):
            return None
        if torch.version.cuda is None and getattr(torch.version, "hip", None) is None:
            return f"torch {torch.__version__} is a CPU-only build (no CUDA)"
        return "no GPU visible to torch (driver, CUDA_VISIBLE_DEVICES or --gpus?)"

    def sync(self) -> None:
        """Wait for all queued work on every CUDA device; CPU ops are already done when they return."""
        if self._cuda:
            for i in range(torch.cuda.device_count()):
                torch.cuda.synchronize(i)

    def placement(self, value: Any) -> str:
        """The device of a tensor (or of the first tensor in a tuple/list/dict), e.g. `cpu`, `cuda:0`."""
        tensor = first_tensor(value)
        if tensor is None:
            raise TypeError(f"the workload returned no tensor to check the placement of ({type(value).__name__})")
        return str(tensor.device)

    def device_name_of(self, placement: str) -> str:
        """`cpu` -> `CPU:0`, `cuda:1` -> `GPU:1`, `cuda` -> the current GPU."""
        return suite_device_name(placement, torch.cuda.current_device if self._cuda else lambda: 0)

    def build(self, case: Case) -> Prepared:
        """The call to time for `case`; any other case first ends the multi-device helpers (see torch_multi).

        The helpers stay between consecutive multi-device cases, which reuse them, but no other case runs
        beside idle processes holding the GPUs' memory.
        """
        if case.workload.group_params_for is None:
            shutdown_helpers()
        return super().build(case)

    def is_out_of_memory(self, error: BaseException) -> bool:
        """torch's CUDA out-of-memory error, or a RuntimeError saying so (older builds, the CPU allocator)."""
        oom = getattr(torch.cuda, "OutOfMemoryError", None)
        if oom is not None and isinstance(error, oom):
            return True
        text = str(error).lower()
        return isinstance(error, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)

    def machine_info(self) -> dict[str, Any]:
        """torch's version, CUDA/cuDNN build info, TF32 policy and thread settings."""
        return {
            "version": str(torch.__version__),
            "built_with_cuda": torch.version.cuda is not None,
            "cuda_version": torch.version.cuda,
            "cudnn_version": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
            "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32),
            "tf32_cudnn": bool(torch.backends.cudnn.allow_tf32),
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "intra_op_threads": torch.get_num_threads(),
            "inter_op_threads": torch.get_num_interop_threads(),
        }

    def case_facts(self, case: Case) -> dict[str, Any]:
        """dtype, TF32 policy (float32 matmuls on CUDA) and thread counts for one case."""
        return {
            "precision": {
                "dtype": case.params.get("dtype") or case.params.get("precision") or "float32",
                "tf32": bool(torch.backends.cuda.matmul.allow_tf32),
            },
            "threads": {
                "intra_op": torch.get_num_threads(),
                "inter_op": torch.get_num_interop_threads(),
                "effective_intra_op": torch.get_num_threads(),
                "cpu_count": os.cpu_count(),
                "usable_cores": usable_cores(),
                "env": thread_env(),
            },
        }

    def set_tf32(self, enabled: bool) -> None:
        """torch's TF32 switches for matmul and cuDNN (matmul TF32 is off by default)."""
        torch.backends.cuda.matmul.allow_tf32 = enabled
        torch.backends.cudnn.allow_tf32 = enabled

    def memory_reset(self, device: Device) -> None:
        """Reset the CUDA caching allocator's peak for a GPU."""
        if device.kind == "gpu":
            torch.cuda.reset_peak_memory_stats(torch_device(device))

    def memory_peak(self, device: Device) -> int | None:
        """The CUDA caching allocator's peak allocated bytes for a GPU since the last reset."""
        if device.kind != "gpu":
            return None
        return int(torch.cuda.max_memory_allocated(torch_device(device)))

    def device_timer(self, device: Device) -> CudaEventTimer | None:
        """CUDA events around each round on a GPU (none on the CPU)."""
        return CudaEventTimer(torch_device(device)) if device.kind == "gpu" else None

    def cache_flush(self, device: Device) -> CacheFlush:
        """A uint8 buffer twice the GPU's L2 (or the CPU's last cache level), zeroed before every cold call."""
        where = torch_device(device)
        cache = torch.cuda.get_device_properties(where).L2_cache_size if device.kind == "gpu" else cpu_cache_bytes()
        size = flush_bytes(cache)
        buffer = torch.ones(size, dtype=torch.uint8, device=where)
        return CacheFlush(buffer.zero_, size)


class CudaEventTimer:
    """A round's device time from two CUDA events on the device's current stream (read after the host syncs)."""

    method = "torch.cuda.Event"

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._start = torch.cuda.Event(enable_timing=True)
        self._end = torch.cuda.Event(enable_timing=True)

    def start(self) -> None:
        """Record the start event on the device's current stream."""
        self._start.record(torch.cuda.current_stream(self.device))

    def stop(self) -> None:
        """Record the end event after the round's last call."""
        self._end.record(torch.cuda.current_stream(self.device))

    def elapsed_s(self) -> float:
        """Seconds between the events (elapsed_time is in milliseconds)."""
        return float(self._start.elapsed_time(self._end)) / 1e3


def first_tensor(value: Any) -> torch.Tensor | None:
    """The first tensor in `value` (a tensor, or a tuple/list/dict holding one)."""
    if isinstance(value, torch.Tensor):
        return value
    items = value.values() if isinstance(value, dict) else value if isinstance(value, tuple | list) else ()
    for item in items:
        found = first_tensor(item)
        if found is not None:
            return found
    return None


def suite_device_name(placement: str, current_gpu: Callable[[], int]) -> str:
    """A torch device string as a suite name: `cpu` -> `CPU:0`, `cuda:1` -> `GPU:1`, `cuda` -> current GPU."""
    match = re.fullmatch(r"\s*([a-z_]+)(?::(\d+))?\s*", placement)
    if not match:
        raise ValueError(f"{placement!r} is not a torch device string like cpu or cuda:0")
    kind, index = match.group(1), match.group(2)
    if kind == "cpu":
        return "CPU:0"
    if kind == "cuda":
        return f"GPU:{int(index) if index is not None else current_gpu()}"
    return f"{kind.upper()}:{index or 0}"
