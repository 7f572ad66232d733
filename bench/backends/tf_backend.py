"""The TensorFlow backend (the default): devices, sync, placement and the workloads' TF builders."""

from __future__ import annotations

import contextlib
import os
import re
from typing import Any

from bench.backends.base import Backend, CacheFlush, cpu_cache_bytes, flush_bytes
from bench.backends.tf_common import tf, tf_device  # sets TF's log level before TensorFlow is imported
from bench.cases import Case
from bench.devices import Device, normalise_device_name
from bench.hostinfo import cpu_facts, thread_env, usable_cores


def _enable_memory_growth() -> None:
    """Let TF grow GPU memory as needed instead of taking it all at start-up."""
    for gpu in tf.config.list_physical_devices("GPU"):
        # RuntimeError: the device was already initialised (e.g. by a test); its growth is then fixed.
        with contextlib.suppress(RuntimeError):
            tf.config.experimental.set_memory_growth(gpu, True)


def split_cpu(count: int) -> tuple[int, str]:
    """Split the CPU into `count` logical devices for the multi-device workloads; (logical CPUs, why not).

    It must happen before TensorFlow initialises its devices, so the backend does it first thing. The logical
    devices share the CPU's one intra-op thread pool and memory, so CPU:0, which every other workload uses,
    runs as before; only bench.workloads.multidevice's CPU cases place work on CPU:1 ...
    """
    cpus = tf.config.list_physical_devices("CPU")
    if count < 2 or not cpus:
        return 1, "no CPU split was asked for"
    try:
        tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError as exc:  # TF was initialised before the backend (e.g. by other code in this process)
        present = len(tf.config.list_logical_devices("CPU"))
        if present >= count:
            return present, ""
        return present, f"TensorFlow's devices were initialised before the CPU could be split ({exc})"
    return count, ""


# TensorFlow has no L2 size query: assume one above every current NVIDIA GPU's (H100 50 MB, H200 60 MB, B200 126 MB)
GPU_L2_ASSUMED_BYTES = 128 * 2**20


class TensorFlowBackend(Backend):
    """TensorFlow 2 in eager mode."""

    name = "tensorflow"
    module_prefix = "tf"
    allocator_name = "tensorflow"
    sync_method = "tf.test.experimental.sync_devices"

    def __init__(self) -> None:
        from bench.workloads.multidevice import CPU_REPLICAS

        self.cpu_logical_devices, self.cpu_split_problem = split_cpu(CPU_REPLICAS)
        _enable_memory_growth()
        self._devices: list[Device] | None = None

    def version(self) -> str:
        """TensorFlow's version."""
        return tf.__version__

    def devices(self) -> list[Device]:
        """CPU:0 and every GPU TF sees, with model, memory, compute capability and PCI bus id."""
        if self._devices is None:
            from tensorflow.python.client import device_lib

            local = {normalise_device_name(d.name): d for d in device_lib.list_local_devices()}
            found = [Device(self.name, "CPU:0", "cpu", cpu_facts()["cpu_model"])]
            for gpu in tf.config.list_physical_devices("GPU"):
                name = normalise_device_name(gpu.name)
                details = tf.config.experimental.get_device_details(gpu)
                cc = details.get("compute_capability")
                desc = local[name].physical_device_desc if name in local else ""
                bus = re.search(r"pci bus id: ([0-9a-fA-F:.]+)", desc)
                found.append(
                    Device(
                        self.name,
                        name,
                        "gpu",
                        details.get("device_name", "unknown GPU"),
                        memory_bytes=int(local[name].memory_limit) if name in local else None,
                        compute_capability=f"{cc[0]}.{cc[1]}" if cc else None,
                        pci_bus_id=bus.group(1) if bus else None,
                    )
                )
            self._devices = found
        return self._devices

    def gpu_absence_reason(self) -> str | None:
        """Why TF has no GPU: a CPU-only build, or a CUDA build that sees none."""
        if any(d.kind == "gpu" for d in self.devices()):
            return None
        if not tf.test.is_built_with_cuda():
            return "TensorFlow is a CPU-only build (no CUDA)"
        return "no GPU visible to TensorFlow (driver, CUDA_VISIBLE_DEVICES or --gpus?)"

    def sync(self) -> None:
        """Wait for all queued work on every device."""
        tf.test.experimental.sync_devices()

    def placement(self, value: Any) -> str:
        """The device of an eager tensor (or of the first tensor in a structure)."""
        first = tf.nest.flatten(value)[0]
        return str(first.device)

    def device_name_of(self, placement: str) -> str:
        """`/job:localhost/replica:0/task:0/device:GPU:0` -> `GPU:0`."""
        return normalise_device_name(placement.rsplit("/", 1)[-1])

    def is_out_of_memory(self, error: BaseException) -> bool:
        """TF's out-of-memory error."""
        return isinstance(error, tf.errors.ResourceExhaustedError)

    def machine_info(self) -> dict[str, Any]:
        """TF and Keras versions, CUDA/cuDNN build info, TF32 policy and thread settings."""
        build = dict(tf.sysconfig.get_build_info())
        try:
            import keras

            keras_version = keras.__version__
        except ImportError:  # Keras 3 ships with TF 2.16+, but a broken install should not stop the run
            keras_version = None
        return {
            "version": tf.__version__,
            "keras_version": keras_version,
            "built_with_cuda": tf.test.is_built_with_cuda(),
            "cuda_version": build.get("cuda_version"),
            "cudnn_version": build.get("cudnn_version"),
            "tf32_enabled": tf.config.experimental.tensor_float_32_execution_enabled(),
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
            "cpu_logical_devices": self.cpu_logical_devices,  # the CPU split for the multi-device workloads
        }

    def case_facts(self, case: Case) -> dict[str, Any]:
        """dtype, TF32 policy and the thread settings in effect for one case."""
        intra = tf.config.threading.get_intra_op_parallelism_threads()
        env = thread_env()
        # 0 means "TensorFlow's default": TF_NUM_INTRAOP_THREADS where set, else every CPU this process may use.
        effective = intra or _positive_int(env.get("TF_NUM_INTRAOP_THREADS")) or usable_cores()
        return {
            "precision": {
                "dtype": case.params.get("dtype") or case.params.get("precision") or "float32",
                "tf32": tf.config.experimental.tensor_float_32_execution_enabled(),
            },
            "threads": {
                "intra_op": intra,
                "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
                "effective_intra_op": effective,
                "cpu_count": os.cpu_count(),
                "usable_cores": usable_cores(),
                "env": env,
            },
        }

    def set_tf32(self, enabled: bool) -> None:
        """TF's TF32 switch (on by default in TF 2)."""
        tf.config.experimental.enable_tensor_float_32_execution(enabled)

    def memory_reset(self, device: Device) -> None:
        """Reset TF's allocator peak for a GPU."""
        if device.kind == "gpu":
            tf.config.experimental.reset_memory_stats(device.name)

    def memory_peak(self, device: Device) -> int | None:
        """TF's allocator peak bytes for a GPU since the last reset."""
        if device.kind != "gpu":
            return None
        return int(tf.config.experimental.get_memory_info(device.name)["peak"])

    def cache_flush(self, device: Device) -> CacheFlush:
        """A float32 variable twice the device's last cache level, incremented in place (XLA) before every cold call.

        TensorFlow does not report a GPU's L2 size: 128 MiB (above any current NVIDIA GPU's) is assumed there.
        """
        cache = cpu_cache_bytes() if device.kind == "cpu" else GPU_L2_ASSUMED_BYTES
        size = flush_bytes(cache)
        with tf.device(tf_device(device)):
            buffer = tf.Variable(tf.zeros([size // 4]), trainable=False)

        @tf.function(jit_compile=True)
        def write() -> None:
            buffer.assign_add(tf.ones_like(buffer))

        def flush() -> None:
            with tf.device(tf_device(device)):
                write()

        return CacheFlush(flush, size)


def _positive_int(text: str | None) -> int | None:
    """An environment variable's positive integer value, else None."""
    try:
        value = int(text) if text is not None else 0
    except ValueError:
        return None
    return value if value > 0 else None
