"""tf.data input pipelines on the book's pattern, and whether they keep a training step fed."""

from __future__ import annotations

from bench.cases import Params, Workload
from bench.devices import Device
from bench.profiles import Profile
from results_format.workloads import Fact, WorkloadSpec

BATCH_SIZE = 1000  # the book's tf.data example
INPUT_BOUND_TOLERANCE = 0.10

# Host-side variants run once (on CPU:0); "to-device" and the fed training step run per device.
HOST_VARIANTS = ("serial", "autotune", "autotune-prefetch", "autotune-cache-prefetch")
DEVICE_VARIANTS = ("to-device", "fed-step")


#: elements through each pipeline per call, per profile
ELEMENTS = {"smoke": 6_000, "standard": 60_000, "full": 60_000}


def tfdata_params(profile: Profile, device: Device) -> list[tuple[Params, str | None]]:
    """Host variants on the CPU; feeding the device and the fed training step on every device."""
    variants = (HOST_VARIANTS if device.kind == "cpu" else ()) + DEVICE_VARIANTS
    return [({"variant": v, "elements": TFDATA.sizes_for(profile), "batch_size": BATCH_SIZE}, None) for v in variants]


def input_bound(pipeline_step_s: float, premade_step_s: float, tolerance: float = INPUT_BOUND_TOLERANCE) -> bool:
    """True when feeding from the pipeline adds more than `tolerance` to the step time of pre-made batches."""
    return pipeline_step_s > premade_step_s * (1.0 + tolerance)


SPEC = WorkloadSpec(
    name="tfdata",
    version=1,
    title="tf.data input pipelines",
    params=("variant", "elements", "batch_size"),
    keys=("variant",),
    work_unit="elements",
    throughput_unit="elements/s",
    facts=(
        Fact(name="input_bound", description="the pipeline slows the training step by more than 10 %", hint="text"),
        Fact(name="pipeline_step_s", description="a step fed by the pipeline", hint="duration", better="lower"),
        Fact(name="premade_step_s", description="a step on pre-made batches", hint="duration", better="lower"),
    ),
)


TFDATA = WORKLOAD = Workload(
    spec=SPEC,
    throughput_scale=1.0,
    backends=("tensorflow",),
    params_for=tfdata_params,
    work_per_call=lambda p: float(p["elements"]),
    label=lambda p: f"{p['variant']}-e{p['elements']}",
    absent_reason="tf.data cases are TensorFlow-only",
    builders={
        "tensorflow": "bench.backends.tf_data:build_tfdata",
    },
    text=lambda p: f"{p['variant']} b{int(p['batch_size'])}",
    sizes=ELEMENTS,
)
