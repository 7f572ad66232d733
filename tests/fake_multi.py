"""The scripted multi-device workloads (scaling, allreduce), spread over device sets as the real backends do it.

TensorFlow runs a MirroredStrategy over the case's devices: a CPU's replicas are its logical devices CPU:0 and
CPU:1, all-reducing with a ring, GPUs all-reduce with NCCL. torch makes the benchmark process rank 0 of a pool of
processes: CPU_REPLICAS processes on the CPU over gloo, one per selected GPU over NCCL. Which devices a case spans
and how its record says so come from bench.workloads.multidevice; the rest of each record has the keys and the
strings the real builders write (bench/backends/tf_multi.py, torch_multi.py), numbers from the script below.

An all-reduce costs a latency plus the bytes each link carries (nccl-tests' bus factor 2 (n - 1) / n) at the set's
rate: the scripted GPUs have no peer-to-peer path, so theirs goes through host memory at a share of the slower
GPU's pinned copy rate; a CPU's replicas copy through its memory. A training step costs its per-step overhead, the
slowest replica's share of the global batch (a CPU's replicas share its cores, so together they do the whole
batch, a little slower for the sharing), and the gradients' all-reduce, half of which GPUs hide behind the
backward pass. So efficiency stays below 1: a little on GPUs, much on a CPU's shared cores and where a slower
GPU holds the faster one back.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any

from bench.backends.base import Prepared
from bench.cases import Case
from bench.devices import Device
from bench.workloads.allreduce import bandwidth_facts, bus_factor, check_facts
from bench.workloads.multidevice import CPU_LOGICAL, CPU_PROCESSES, CPU_REPLICAS, DeviceSet, device_set
from bench.workloads.scaling import samples_needed
from tests.fake_workloads import MNIST_FLOP_PER_SAMPLE

if TYPE_CHECKING:
    from tests.fake_backend import ScriptedBackend

GPU_ALLREDUCE_LATENCY_S = {"tensorflow": 30e-6, "torch": 18e-6}
# (latency, GB/s as a share of one thread's memcpy) of an all-reduce across a CPU's replicas
CPU_ALLREDUCE = {CPU_LOGICAL: (2.2e-4, 0.12), CPU_PROCESSES: (3.0e-4, 0.09)}
NO_P2P_SHARE = 0.45  # bus GB/s of GPUs without peer-to-peer, as a share of the slower one's pinned h2d rate
TF_CALL_S = 1.5e-4  # one tf.function call of a strategy (its dispatch to every replica)
TORCH_OP_S = 8e-6  # Python and launch per torch.distributed.all_reduce
TF_CHECK = "every replica's result, elementwise, on the first and the last call"
TORCH_CHECK = "every rank's buffer, elementwise, all-reduced in place before and after the timed calls"

MNIST_PARAMS = 784 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 10 + 10  # the book's model: 1,863,690
# trainable parameters: keras.applications' ResNet50 (checked with TF 2.21) and torchvision's resnet50
RESNET50_PARAMS = {"tensorflow": 25_583_592, "torch": 25_557_032}
RESNET50_TRAIN_FLOP_224 = 3 * 4.1e9  # per image at 224 px: 4.1 GFLOP forward, twice that backward
RESNET50_ACTIVATIONS_224 = 90e6  # bytes per 224 px image a float32 training step keeps for the backward pass
MODEL_EFFICIENCY = {"mnist": 0.35, "resnet50": 0.2}  # share of the float32 (TF32) peak a training step reaches
CPU_EFFICIENCY = 0.4
# per training step beyond the arithmetic, by (model, torch?, device kind): TensorFlow runs a tf.function
STEP_OVERHEAD_S = {
    ("mnist", False, "cpu"): 2.2e-4,
    ("mnist", False, "gpu"): 2.8e-4,
    ("mnist", True, "cpu"): 3.0e-4,
    ("mnist", True, "gpu"): 4.2e-4,
    ("resnet50", False, "gpu"): 2.0e-3,
    ("resnet50", True, "gpu"): 3.2e-3,
}
SHARED_CORES = 0.1  # how much slower a CPU's arithmetic gets per extra replica sharing its cores


def replica_devices(case: Case, backend: ScriptedBackend) -> tuple[DeviceSet, list[Device]]:
    """The case's device set (as the real backends record it) and the GPUs it spans (none on a CPU)."""
    peers = case.peers or (case.device,)
    devices = device_set(
        "torch" if backend.torch_like else "tensorflow", case.device, peers, int(case.params["replicas"])
    )
    return devices, list(peers[: devices.replicas]) if case.device.kind == "gpu" else []


def allreduce_s(backend: ScriptedBackend, devices: DeviceSet, gpus: list[Device], nbytes: float) -> float:
    """Seconds of one all-reduce of `nbytes` per replica across the set (nothing to reduce on one replica)."""
    if devices.replicas < 2:
        return 0.0
    if gpus:
        slowest = min(slot.model.pinned_gbs[0] for device in gpus if (slot := backend.slot(device)) is not None)
        latency, gbs = GPU_ALLREDUCE_LATENCY_S["torch" if backend.torch_like else "tensorflow"], slowest * NO_P2P_SHARE
    else:
        latency, share = CPU_ALLREDUCE[devices.kind]
        gbs = backend.host.cpu.memcpy_gbs * share
    return latency + nbytes * bus_factor(devices.replicas) / (gbs * 1e9)


def op_devices(devices: DeviceSet, collective: bool) -> str:
    """What TensorFlow's graph places on the set: its devices, sorted; no collective op on a single replica."""
    if collective and devices.replicas < 2:
        return ""
    return ",".join(sorted(set(devices.devices), key=lambda name: (name.split(":")[0], int(name.split(":")[1]))))


def cross_device_ops(gpus: list[Device]) -> str:
    """MirroredStrategy's default cross-device ops in TF 2.21: collectives over NCCL on GPUs, a ring on CPUs."""
    return "CollectiveAllReduce (NCCL)" if gpus else "CollectiveAllReduce (RING)"


def torch_pool(backend: ScriptedBackend, case: Case, gpus: list[Device]) -> dict[str, Any]:
    """The keys torch's records add: the process group, the pool's processes and each one's threads."""
    world = len(case.peers or (case.device,)) if gpus else CPU_REPLICAS
    return {
        "process_group": "nccl" if gpus else "gloo",
        "processes": world,
        "threads_per_process": backend.host.cpu.cores,
    }


def build_allreduce(case: Case, backend: ScriptedBackend) -> Prepared:
    """k float32 sum all-reduces of a message per call; every result right (the real builders check each element)."""
    params = dict(case.params)
    devices, gpus = replica_devices(case, backend)
    torch = backend.torch_like
    size, k = int(params["bytes"]), int(params["collectives_per_call"])
    backend.prepare(case, size if torch else 2 * size, on=gpus or None)  # torch reduces in place
    seconds = (0.0 if torch else TF_CALL_S) + k * (
        allreduce_s(backend, devices, gpus, size) + (TORCH_OP_S if torch else 0)
    )
    first_s = (0.8 if gpus else 0.02) if torch else 0.6  # NCCL's communicators, or tracing the strategy's function
    call, _ = backend.call(case, seconds, first_s=first_s, util=35.0 if gpus else 0.0, load=0.2, on=gpus or None)

    def facts(median_s: float) -> dict[str, Any]:
        measured = bandwidth_facts(params, median_s)
        if torch:
            return {**measured, **check_facts(0, 0.0, TORCH_CHECK), "in_place": True, **devices.facts(),
                    **torch_pool(backend, case, gpus)}  # fmt: skip
        return {
            **measured,
            **check_facts(0, 0.0, TF_CHECK),
            **devices.facts(),
            "cross_device_ops": cross_device_ops(gpus),
            "collective_op_devices": op_devices(devices, collective=True),
            "in_place": False,
        }

    return Prepared(call, backend.finish(case, facts))


def build_scaling(case: Case, backend: ScriptedBackend) -> Prepared:
    """Data-parallel training steps over the case's replicas; one call trains steps_per_call global batches."""
    params = dict(case.params)
    devices, gpus = replica_devices(case, backend)
    torch, kind = backend.torch_like, case.device.kind
    model, steps, calls = str(params["model"]), int(params["steps_per_call"]), int(params["calls"])
    replicas, per, global_batch = devices.replicas, int(params["per_replica_batch"]), int(params["global_batch"])
    if model == "mnist":
        weights, flop = MNIST_PARAMS, float(MNIST_FLOP_PER_SAMPLE)
        data = samples_needed(params) * (784 + 1) * 4  # every replica holds the images and labels
    elif model == "resnet50":
        weights, scale = RESNET50_PARAMS["torch" if torch else "tensorflow"], (int(params["image_size"]) / 224) ** 2
        flop, data = RESNET50_TRAIN_FLOP_224 * scale, per * RESNET50_ACTIVATIONS_224 * scale
    else:
        raise ValueError(f"unknown scaling model {model!r}; models: mnist, resnet50")
    backend.prepare(case, 16 * weights + data, on=gpus or None)  # weights, gradients, Adam's m and v, data
    if gpus:
        efficiency = MODEL_EFFICIENCY[model]
        compute_s = max(per * flop / (backend.gflops(d, "float32") * 1e9 * efficiency) for d in gpus)
        sync_s = allreduce_s(backend, devices, gpus, 4 * weights) * 0.5  # half hidden behind the backward pass
    else:
        cpu = backend.host.cpu.gflops * 1e9 * CPU_EFFICIENCY
        compute_s = global_batch * flop / cpu * (1 + SHARED_CORES * (replicas - 1))
        sync_s = allreduce_s(backend, devices, gpus, 4 * weights)
    overhead_s = STEP_OVERHEAD_S[(model, torch, kind)] * (1 + (0.1 if torch else 0.25) * (replicas - 1))
    step_s = overhead_s + compute_s + sync_s
    first_s = (0.4 + (0.8 if gpus else 0.0)) if torch else 2.5 + (0.3 if gpus else 0.0)
    util = min(95.0, 100 * compute_s / step_s + 8) if gpus else 0.0
    call, _ = backend.call(case, steps * step_s, first_s=first_s, util=util, on=gpus or None)
    # The same training on every replica count (the replicas stay in sync): one learning curve per backend and model.
    learn = random.Random(backend.script.seed_for(backend.host_name, f"scaling {backend.name} {model}"))
    losses = learning(model, steps * calls, learn)

    def facts(median_s: float) -> dict[str, Any]:
        throughput = {"samples_per_s_per_replica": steps * per / median_s}
        if model == "mnist":
            data_facts = {"data_source": "synthetic", "data_path": None, "samples": samples_needed(params)}
        else:
            data_facts = {"data_source": "synthetic", "loss_measured": "the training step's loss on its batch"}
        in_sync = {"replicas_in_sync": True, "replica_weight_spread": 0.0}
        if torch:
            first = {"initial_loss": losses["initial_loss"]} if model == "mnist" else {}
            return {
                "strategy": "torch.nn.parallel.DistributedDataParallel",
                **throughput,
                **first,
                **data_facts,
                **in_sync,
                **{k: v for k, v in losses.items() if k not in first},
                "gradient_bytes": 4 * weights,
                **devices.facts(),
                **torch_pool(backend, case, gpus),
            }
        return {
            **losses,
            **data_facts,
            **devices.facts(),
            "cross_device_ops": cross_device_ops(gpus),
            "collective_op_devices": op_devices(devices, collective=True),
            "compute_op_devices": op_devices(devices, collective=False),
            "strategy": "tf.distribute.MirroredStrategy",
            "gradient_bytes": 4 * weights,
            **in_sync,
            **throughput,
        }

    return Prepared(call, backend.finish(case, facts))


def learning(model: str, steps: int, learn: random.Random) -> dict[str, float]:
    """The losses (and MNIST's accuracy) after `steps` training steps: falling, with seeded noise."""
    if model == "mnist":
        left = math.exp(-steps / 250)
        return {
            "initial_loss": 2.45 + learn.uniform(-0.05, 0.05),
            "final_loss": (0.30 + 2.0 * left) * learn.uniform(0.97, 1.03),
            "final_accuracy": min(0.99, (0.93 - 0.83 * left) * learn.uniform(0.99, 1.01)),
        }
    initial = math.log(1000) + learn.uniform(0.05, 0.4)  # a random 1000-way classifier, a little worse than chance
    return {
        "initial_loss": initial,
        "final_loss": initial - 0.8 * (1 - math.exp(-steps / 150)) * learn.uniform(0.9, 1.1),
    }
