"""Data-parallel training across devices: throughput on 1, 2, 4 ... N replicas, for the scaling efficiency.

Strong scaling, as the question is "how much faster does this job train on N devices": the profile fixes the
global batch and each replica trains on its share (per_replica_batch = global_batch / replicas, rounded down
when it does not divide: the case records the global batch actually trained). TensorFlow runs
`tf.distribute.MirroredStrategy` over the replicas' devices, torch `DistributedDataParallel` (gloo on the CPU,
NCCL on GPUs); 1 replica runs the same code path, so the efficiency throughput_N / (N x throughput_1), which
the report computes, compares like with like. See bench.workloads.multidevice for which devices take part.

Models: the book's MNIST model on every device set; ResNet-50 (at the profile's small image size, on a fixed
synthetic batch made on each device, as tf_cnn_benchmarks' synthetic data) on GPUs in the profiles that have it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.cases import Params, Workload
from bench.devices import Device
from bench.profiles import Profile
from bench.workloads.mnist import mnist_check
from bench.workloads.multidevice import group_cases, replica_counts
from results_format.workloads import WorkloadSpec

MNIST_IMAGE_SIZE = 28  # the book's model sees 28x28 images as 784 pixels
RESNET_CLASSES = 1000
SEED = 0


def scaling_case(model: str, image_size: int, replicas: int, global_batch: int, steps: int, calls: int) -> Params:
    """One case's parameters; the global batch is rounded down to a multiple of the replicas."""
    per_replica = global_batch // replicas
    return {
        "model": model,
        "image_size": image_size,
        "replicas": replicas,
        "global_batch": per_replica * replicas,
        "per_replica_batch": per_replica,
        "steps_per_call": steps,
        "calls": calls,
    }


@dataclass(frozen=True)
class ScalingSizes:
    """A profile's scaling cases: MNIST's global batch, steps per call, (warm-up calls, timed rounds), ResNet-50."""

    global_batch: int  # MNIST's global batch, split across the replicas
    steps: int  # training steps per timed call
    calls: tuple[int, int]  # the helpers follow a fixed schedule, so the calls are fixed too
    resnet: tuple[int, int] | None  # ResNet-50's (image size, global batch) on GPUs; None: left out


SIZES = {
    "smoke": ScalingSizes(128, 10, (1, 5), None),
    "standard": ScalingSizes(256, 20, (1, 8), (64, 256)),
    "full": ScalingSizes(1024, 50, (2, 10), (128, 512)),
}


def scaling_params(profile: Profile, device: Device, peers: Sequence[Device]) -> list[tuple[Params, str | None]]:
    """MNIST on 1 .. N replicas of the device set, and ResNet-50 on GPUs where the profile has it."""
    size_of: ScalingSizes = SCALING.sizes_for(profile)
    steps, calls = size_of.steps, sum(size_of.calls)

    def make(replicas: int) -> list[tuple[Params, str | None]]:
        out: list[tuple[Params, str | None]] = [
            (scaling_case("mnist", MNIST_IMAGE_SIZE, replicas, size_of.global_batch, steps, calls), None)
        ]
        if size_of.resnet is not None:
            size, batch = size_of.resnet
            reason = None
            if device.kind == "cpu":
                reason = (
                    f"profile {profile.name}: ResNet-50 scaling runs on GPUs only "
                    "(on a CPU's shared cores one case would take minutes and show no scaling)"
                )
            out.append((scaling_case("resnet50", size, replicas, batch, steps, calls), reason))
        return out

    def skipped(reason: str) -> list[tuple[Params, str | None]]:
        return [(params, reason) for params, _ in make(2)]

    return group_cases(device, peers, replica_counts, make, skipped)


def samples_per_call(params: Params) -> float:
    """Training samples one call processes across all replicas."""
    return float(params["steps_per_call"]) * float(params["global_batch"])


def scaling_label(params: Params) -> str:
    """The case's id part: mnist-r2-b128, resnet50-64px-r4-b256."""
    size = f"-{params['image_size']}px" if params["model"] != "mnist" else ""
    return f"{params['model']}{size}-r{params['replicas']}-b{params['global_batch']}"


def global_batch_order(n: int, batches: int, global_batch: int, seed: int = SEED) -> np.ndarray:
    """(batches, global_batch) sample indices: a fresh permutation of n per epoch, cut into full global batches.

    Every replica computes the same order from the seed and trains on its slice of each row (see replica_slice).
    """
    if n < global_batch:
        raise ValueError(f"one global batch needs {global_batch} samples, got {n}")
    rng = np.random.default_rng(seed)
    per_epoch = n // global_batch
    epochs = [
        rng.permutation(n)[: per_epoch * global_batch].reshape(per_epoch, global_batch)
        for _ in range(-(-batches // per_epoch))
    ]
    return np.concatenate(epochs)[:batches]


def replica_slice(order: np.ndarray, replica: int, per_replica: int) -> np.ndarray:
    """Replica `replica`'s share of every global batch in `order`: columns [replica*per, (replica+1)*per)."""
    return order[:, replica * per_replica : (replica + 1) * per_replica]


def samples_needed(params: Params) -> int:
    """How many distinct MNIST samples the case's calls cycle through (never more than MNIST's 60000)."""
    total = int(params["steps_per_call"]) * int(params["calls"]) * int(params["global_batch"])
    return max(int(params["global_batch"]), min(60_000, total))


def scaling_check(facts: Mapping[str, Any]) -> str | None:
    """Why a scaling case measured nothing: it did not learn, or its replicas' weights drifted apart."""
    if facts.get("replicas_in_sync") is False:
        return f"the replicas' weights differ after training (spread {facts.get('replica_weight_spread')})"
    return mnist_check(facts)


def scaling_text(params: Params) -> str:
    """'resnet50 64px r2 b256'; the MNIST model's fixed image size is left out ('mnist r2 b128')."""
    size = "" if params["model"] == "mnist" else f" {int(params['image_size'])}px"
    return f"{params['model']}{size} r{int(params['replicas'])} b{int(params['global_batch'])}"


SPEC = WorkloadSpec(
    name="scaling",
    version=1,
    title="data-parallel training across devices",
    params=("model", "image_size", "replicas", "global_batch", "per_replica_batch", "steps_per_call", "calls"),
    keys=("model", "image_size", "replicas", "global_batch"),
    work_unit="samples",
    throughput_unit="samples/s",
    labels={"mnist": "the book's MNIST model", "resnet50": "ResNet-50"},
)


SCALING = WORKLOAD = Workload(
    spec=SPEC,
    throughput_scale=1.0,
    backends=("tensorflow", "torch"),
    params_for=lambda profile, device: scaling_params(profile, device, (device,)),
    group_params_for=scaling_params,
    work_per_call=samples_per_call,
    label=scaling_label,
    # Fixed calls: torch's helper processes run exactly as many as the benchmark process (see torch_multi).
    schedule=lambda profile, p: (SIZES[profile.name].calls[0], int(p["calls"]) - SIZES[profile.name].calls[0]),
    check=scaling_check,
    builders={
        "tensorflow": "bench.backends.tf_multi:build_scaling",
        "torch": "bench.backends.torch_multi:build_multi",
    },
    text=scaling_text,
    sizes=SIZES,
)
