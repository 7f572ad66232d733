"""Run profiles: which cases a run makes and how long each may take (pure data)."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil


class ProfileError(ValueError):
    """An unknown profile name."""


@dataclass(frozen=True)
class Profile:
    """How big a run is: sizes per workload, device limits and the timing budget per case."""

    name: str
    description: str
    matmul_sizes: tuple[int, ...]
    matmul_cpu_max: int  # larger sizes are skipped on CPUs, with that reason
    gpu_low_precision: tuple[str, ...]  # extra dtypes timed on GPUs
    transfer_sizes_mib: tuple[float, ...]
    mnist_steps: int | None  # steps per epoch; None = the whole data set
    mnist_epochs: int
    tfdata_elements: int
    warmup_calls: int
    min_rounds: int
    max_rounds: int
    target_seconds: float  # timed time per case, within min_rounds..max_rounds
    precision_budget_s: float  # with --precision: timed seconds a case may spend reaching it
    inference_requests: int  # timed batch-1 requests per latency case (the percentiles' sample)
    inference_batch: int  # the book model's large batch (throughput)
    inference_resnet_image_size: int  # ResNet-50's square input side in pixels
    inference_resnet_batch: int  # ResNet-50's large batch (throughput)
    inference_resnet_slow_modes_on: tuple[str, ...]  # device kinds that also time ResNet-50's slow modes
    checkpoint_models: tuple[str, ...]  # models saved and restored
    dispatch_steps: int  # polynomial-fit Adam steps per timed call
    workloads: tuple[str, ...] | None = None  # the workloads it runs; None: every one that is not opt-in
    sustained_s: float = 300.0  # timed seconds of a sustained case (--sustained-minutes overrides)

    # Multi-device cases (bench.workloads.scaling, allreduce). Their helpers follow a fixed schedule, so the
    # calls are fixed too: (untimed warm-up calls, timed rounds).
    allreduce_sizes: tuple[int, ...] = (8, 512, 32 * 2**10, 2**20)  # bytes per all-reduce
    allreduce_cpu_max: int = 2**20  # larger messages are skipped on CPUs, with that reason
    allreduce_calls: tuple[int, int] = (2, 10)
    scaling_global_batch: int = 128  # MNIST's global batch, split across the replicas
    scaling_steps: int = 10  # training steps per timed call
    scaling_calls: tuple[int, int] = (1, 5)
    scaling_resnet: tuple[int, int] | None = None  # ResNet-50's (image size, global batch) on GPUs; None: left out

    def runs(self, workload: str, opt_in: bool = False) -> bool:
        """Whether this profile makes cases of `workload` (an opt-in one only where the profile names it)."""
        return workload in self.workloads if self.workloads is not None else not opt_in

    def rounds_for(self, seconds_per_call: float) -> int:
        """How many timed rounds a case gets, given one call's time measured during warm-up."""
        if seconds_per_call <= 0:
            return self.max_rounds
        return max(self.min_rounds, min(self.max_rounds, ceil(self.target_seconds / seconds_per_call)))


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            name="smoke",
            description="CI-sized: a few small cases per device, minutes on a 2-core CPU",
            matmul_sizes=(128, 512, 1024, 2048),
            matmul_cpu_max=1024,
            gpu_low_precision=("float16", "bfloat16"),
            transfer_sizes_mib=(1, 16),
            mnist_steps=30,
            mnist_epochs=2,
            tfdata_elements=6_000,
            warmup_calls=2,
            min_rounds=5,
            max_rounds=30,
            target_seconds=0.5,
            precision_budget_s=3.0,
            allreduce_sizes=(8, 512, 32 * 2**10, 2**20),  # 8 B .. 1 MiB, x64 steps
            allreduce_cpu_max=2**20,
            allreduce_calls=(2, 10),
            scaling_global_batch=128,
            scaling_steps=10,
            scaling_calls=(1, 5),
            scaling_resnet=None,
            inference_requests=100,
            inference_batch=256,
            inference_resnet_image_size=32,
            inference_resnet_batch=8,
            inference_resnet_slow_modes_on=(),
            checkpoint_models=("book",),
            dispatch_steps=20,
        ),
        Profile(
            name="standard",
            description="the default: matmul 128..4096, one MNIST epoch, under 15 minutes on a 2-core CPU",
            matmul_sizes=(128, 256, 512, 1024, 2048, 4096),
            matmul_cpu_max=4096,
            gpu_low_precision=("float16", "bfloat16"),
            transfer_sizes_mib=(1, 16, 128),
            mnist_steps=None,
            mnist_epochs=1,
            tfdata_elements=60_000,
            warmup_calls=2,
            min_rounds=5,
            max_rounds=100,
            target_seconds=1.5,
            precision_budget_s=8.0,
            allreduce_sizes=tuple(8 * 8**k for k in range(9)),  # 8 B .. 128 MiB, x8 steps
            allreduce_cpu_max=16 * 2**20,
            allreduce_calls=(3, 15),
            scaling_global_batch=256,
            scaling_steps=20,
            scaling_calls=(1, 8),
            scaling_resnet=(64, 256),
            inference_requests=100,
            inference_batch=1024,
            inference_resnet_image_size=64,
            inference_resnet_batch=16,
            inference_resnet_slow_modes_on=("gpu",),
            checkpoint_models=("book", "resnet50"),
            dispatch_steps=50,
        ),
        Profile(
            name="full",
            description="for GPU hosts: the book's 100 and 10000, up to 16384, the book's 10 MNIST epochs",
            matmul_sizes=(100, 128, 256, 512, 1024, 2048, 4096, 8192, 10000, 16384),
            matmul_cpu_max=10000,
            gpu_low_precision=("float16", "bfloat16"),
            transfer_sizes_mib=(1, 16, 128, 512),
            mnist_steps=None,
            mnist_epochs=10,
            tfdata_elements=60_000,
            warmup_calls=3,
            min_rounds=5,
            max_rounds=200,
            target_seconds=3.0,
            precision_budget_s=20.0,
            allreduce_sizes=tuple(8 * 8**k for k in range(10)),  # 8 B .. 1 GiB, x8 steps
            allreduce_cpu_max=128 * 2**20,
            allreduce_calls=(5, 20),
            scaling_global_batch=1024,
            scaling_steps=50,
            scaling_calls=(2, 10),
            scaling_resnet=(128, 512),
            inference_requests=1000,
            inference_batch=4096,
            inference_resnet_image_size=224,
            inference_resnet_batch=128,
            inference_resnet_slow_modes_on=("cpu", "gpu"),
            checkpoint_models=("book", "resnet50"),
            dispatch_steps=1000,
        ),
        Profile(
            name="sustained",
            description="opt-in: a large matmul for --sustained-minutes per device, its result checked every round",
            matmul_sizes=(),
            matmul_cpu_max=0,
            gpu_low_precision=(),
            transfer_sizes_mib=(),
            mnist_steps=None,
            mnist_epochs=1,
            tfdata_elements=0,
            warmup_calls=2,
            min_rounds=1,
            max_rounds=10**9,
            target_seconds=300.0,
            precision_budget_s=300.0,
            workloads=("sustained",),
            inference_requests=0,
            inference_batch=1,
            inference_resnet_image_size=32,
            inference_resnet_batch=1,
            inference_resnet_slow_modes_on=(),
            checkpoint_models=(),
            dispatch_steps=1,
        ),
    )
}


def get_profile(name: str) -> Profile:
    """The profile called `name`, or a ProfileError listing the ones that exist."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ProfileError(f"unknown profile {name!r}; profiles: {', '.join(PROFILES)}") from None
