"""Run profiles: which cases a run makes and how long each may take (pure data)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from math import ceil


class ProfileError(ValueError):
    """An unknown profile name."""


@dataclass(frozen=True)
class TrainingKnobs:
    """A profile's sizes for the training workloads: mixed precision, ResNet-50 and the batch-size sweeps."""

    amp_steps: int  # MNIST mixed-precision steps per timed call
    amp_calls: int  # calls in all, the first an untimed warm-up
    amp_batches_cpu: tuple[int, ...]
    amp_batches_gpu: tuple[int, ...]
    amp_modes_tf: tuple[str, ...]  # of function, xla, keras-fit
    amp_modes_torch: tuple[str, ...]  # of eager, compile
    sweep_batches_cpu: tuple[int, ...]  # MNIST batch-size sweep
    sweep_batches_gpu: tuple[int, ...]
    sweep_samples_per_call: int  # each sweep call trains about this many samples, whatever its batch
    sweep_calls: int
    resnet_image_size_cpu: int
    resnet_batches_cpu: tuple[int, ...]
    resnet_image_size_gpu: int
    resnet_batches_gpu: tuple[int, ...]  # ResNet-50's batch-size sweep; an out-of-memory batch is a recorded skip
    resnet_steps_cpu: int  # steps per timed call
    resnet_steps_gpu: int
    resnet_calls: int
    resnet_cpu_mixed: bool  # also time mixed precision on CPUs that have bf16 (a second graph costs ~10-30 s there)


#: for a profile that runs no training workload (sustained)
NO_TRAINING = TrainingKnobs(
    amp_steps=1,
    amp_calls=2,
    amp_batches_cpu=(),
    amp_batches_gpu=(),
    amp_modes_tf=(),
    amp_modes_torch=(),
    sweep_batches_cpu=(),
    sweep_batches_gpu=(),
    sweep_samples_per_call=1,
    sweep_calls=2,
    resnet_image_size_cpu=32,
    resnet_batches_cpu=(),
    resnet_image_size_gpu=32,
    resnet_batches_gpu=(),
    resnet_steps_cpu=1,
    resnet_steps_gpu=1,
    resnet_calls=2,
    resnet_cpu_mixed=False,
)


@dataclass(frozen=True)
class Profile:
    """How big a run is: sizes per workload, device limits and the timing budget per case."""

    name: str
    description: str
    mnist_steps: int | None  # steps per epoch; None = the whole data set
    mnist_epochs: int
    tfdata_elements: int
    warmup_calls: int
    min_rounds: int
    max_rounds: int
    target_seconds: float  # timed time per case, within min_rounds..max_rounds
    precision_budget_s: float  # with --precision: timed seconds a case may spend reaching it
    checkpoint_models: tuple[str, ...]  # models saved and restored
    training: TrainingKnobs
    workloads: tuple[str, ...] | None = None  # the workloads it runs; None: every one that is not opt-in
    sustained_s: float = 300.0  # timed seconds of a sustained case (--sustained-minutes overrides)
    peaks_seconds: float = 120.0  # the peak search's budget per GPU dtype (--peaks-seconds overrides)
    peaks_seconds_cpu: float = 2.0  # and on a CPU, which searches small sizes only

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


#: opt-in: one large matmul for minutes; nothing else runs (the peaks search reuses its empty workload knobs).
SUSTAINED = Profile(
    name="sustained",
    description="opt-in: a large matmul for --sustained-minutes per device, its result checked every round",
    mnist_steps=None,
    mnist_epochs=1,
    tfdata_elements=0,
    warmup_calls=2,
    min_rounds=1,
    max_rounds=10**9,
    target_seconds=300.0,
    precision_budget_s=300.0,
    workloads=("sustained",),
    checkpoint_models=(),
    training=NO_TRAINING,
)


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            name="smoke",
            description="CI-sized: a few small cases per device, minutes on a 2-core CPU",
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
            checkpoint_models=("book",),
            training=TrainingKnobs(
                amp_steps=10,
                amp_calls=6,
                amp_batches_cpu=(64,),
                amp_batches_gpu=(64, 1024),
                amp_modes_tf=("function",),
                amp_modes_torch=("eager",),
                sweep_batches_cpu=(64, 512, 4096),
                sweep_batches_gpu=(64, 1024, 16384),
                sweep_samples_per_call=2048,
                sweep_calls=6,
                resnet_image_size_cpu=32,
                resnet_batches_cpu=(4, 16),
                resnet_image_size_gpu=32,
                resnet_batches_gpu=(32, 256),
                resnet_steps_cpu=1,
                resnet_steps_gpu=5,
                resnet_calls=6,
                resnet_cpu_mixed=False,
            ),
        ),
        Profile(
            name="standard",
            description="the default: matmul 128..4096, one MNIST epoch, under 15 minutes on a 2-core CPU",
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
            checkpoint_models=("book", "resnet50"),
            training=TrainingKnobs(
                amp_steps=30,
                amp_calls=6,
                amp_batches_cpu=(64,),
                amp_batches_gpu=(64, 1024),
                amp_modes_tf=("function", "xla", "keras-fit"),
                amp_modes_torch=("eager", "compile"),
                sweep_batches_cpu=(32, 128, 512, 2048, 8192),
                sweep_batches_gpu=(16, 64, 256, 1024, 4096, 16384),
                sweep_samples_per_call=4096,
                sweep_calls=6,
                resnet_image_size_cpu=64,
                resnet_batches_cpu=(8, 16, 32),
                resnet_image_size_gpu=224,
                resnet_batches_gpu=(32, 64, 128),
                resnet_steps_cpu=1,
                resnet_steps_gpu=5,
                resnet_calls=6,
                resnet_cpu_mixed=True,
            ),
        ),
        Profile(
            name="full",
            description="for GPU hosts: the book's 100 and 10000, up to 16384, the book's 10 MNIST epochs",
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
            checkpoint_models=("book", "resnet50"),
            training=TrainingKnobs(
                amp_steps=94,
                amp_calls=11,
                amp_batches_cpu=(64, 1024),
                amp_batches_gpu=(64, 1024, 8192),
                amp_modes_tf=("function", "xla", "keras-fit"),
                amp_modes_torch=("eager", "compile"),
                sweep_batches_cpu=(16, 64, 256, 1024, 4096, 16384),
                sweep_batches_gpu=(16, 64, 256, 1024, 4096, 16384, 32768),
                sweep_samples_per_call=16384,
                sweep_calls=11,
                resnet_image_size_cpu=224,
                resnet_batches_cpu=(16, 32, 64),
                resnet_image_size_gpu=224,
                resnet_batches_gpu=(16, 32, 64, 128, 256, 512, 1024),
                resnet_steps_cpu=2,
                resnet_steps_gpu=10,
                resnet_calls=7,
                resnet_cpu_mixed=True,
            ),
        ),
        SUSTAINED,
        replace(
            SUSTAINED,
            name="peaks",
            description="opt-in: a MAMF-style search of (M, N, K) shapes per dtype for the best matmul TFLOP/s",
            min_rounds=5,
            max_rounds=50,
            target_seconds=1.0,
            precision_budget_s=5.0,
            workloads=("peaks",),
        ),
    )
}


def with_peaks_seconds(profile: Profile, seconds: float | None) -> Profile:
    """`profile` with --peaks-seconds applied to its GPU search budget (ProfileError when it cannot apply)."""
    if seconds is None:
        return profile
    if not seconds > 0:
        raise ProfileError(f"--peaks-seconds must be above 0, got {seconds:g}")
    if not profile.runs("peaks", opt_in=True):
        raise ProfileError(f"--peaks-seconds needs --profile peaks (profile {profile.name} runs no peak search)")
    return replace(profile, peaks_seconds=float(seconds))


def get_profile(name: str) -> Profile:
    """The profile called `name`, or a ProfileError listing the ones that exist."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ProfileError(f"unknown profile {name!r}; profiles: {', '.join(PROFILES)}") from None
