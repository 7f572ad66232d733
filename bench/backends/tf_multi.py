"""The multi-device workloads in TensorFlow: `tf.distribute.MirroredStrategy` over the case's device set.

MirroredStrategy's default cross-device ops are used, as a user gets them: in TF 2.21 `CollectiveAllReduce`,
over NCCL on GPUs and a ring on CPUs (recorded per case as `cross_device_ops`). On a CPU the replicas are the
logical devices the backend split it into (bench.backends.tf_backend.split_cpu); every case records its
devices and whether they were logical (bench.workloads.multidevice).

Outputs are the first replica's (on the case's device), so the runner's placement check applies; a multi-device
function's CPU outputs are reported on CPU:0 even where the op ran on CPU:1, which is why the tests check the
graph's op placement instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from bench.backends.base import Backend, CaseSkipped, Prepared
from bench.backends.tf_mnist import evaluate
from bench.backends.tf_models import book_model, resnet50
from bench.cases import Case
from bench.devices import normalise_device_name
from bench.workloads.allreduce import (
    bandwidth_facts,
    check_facts,
    compare,
    elements,
    expected_sum,
    replica_values,
)
from bench.workloads.mnist import LEARNING_RATE
from bench.workloads.mnist_data import load_mnist
from bench.workloads.multidevice import CPU_LOGICAL, DeviceSet, device_set
from bench.workloads.scaling import (
    RESNET_CLASSES,
    SEED,
    global_batch_order,
    replica_slice,
    samples_needed,
)


def case_devices(case: Case, backend: Backend) -> DeviceSet:
    """The case's device set; a recorded skip when the CPU could not be split into enough logical devices."""
    replicas = int(case.params["replicas"])
    devices = device_set("tensorflow", case.device, case.peers or (case.device,), replicas)
    if devices.kind == CPU_LOGICAL:
        have = len(tf.config.list_logical_devices("CPU"))
        if have < replicas:
            why = getattr(backend, "cpu_split_problem", "") or "the backend did not split the CPU"
            need = f"{replicas} replicas need {replicas} logical CPU devices, TensorFlow has {have}"
            raise CaseSkipped("unsupported", f"{need}: {why}")
    return devices


COLLECTIVES = ("Collective", "NcclAllReduce")  # the all-reduce ops MirroredStrategy's cross-device ops emit

#: how far apart two strategies' collective keys start (as TensorFlow's own strategy_combinations does)
COLLECTIVE_KEY_STRIDE = 100_000


def mirrored(devices: DeviceSet) -> tf.distribute.MirroredStrategy:
    """A new MirroredStrategy over the set's devices, with its default cross-device ops.

    Every strategy numbers its collectives from its class's `_collective_key_base`; two strategies in one process
    would reuse keys and TF's collective executor would mix their all-reduces up (a shape-mismatch abort), so each
    new one starts COLLECTIVE_KEY_STRIDE further on, as TF's tests do.
    """
    tf.distribute.MirroredStrategy._collective_key_base += COLLECTIVE_KEY_STRIDE
    return tf.distribute.MirroredStrategy(devices=[f"/device:{name}" for name in devices.devices])


def cross_device_ops(strategy: tf.distribute.MirroredStrategy) -> str:
    """What the strategy all-reduces with, e.g. 'CollectiveAllReduce (RING)' (read from its private state)."""
    extended = strategy.extended
    ops = getattr(extended, "_cross_device_ops", None)
    options = getattr(extended, "_communication_options", None)
    implementation = getattr(getattr(options, "implementation", None), "name", None)
    name = type(ops).__name__ if ops is not None else "unknown"
    return f"{name} ({implementation})" if implementation and name == "CollectiveAllReduce" else name


def per_replica(strategy: tf.distribute.MirroredStrategy, devices: DeviceSet, make: Callable[[int], Any]) -> Any:
    """A distributed value whose replica r is `make(r)`, made on replica r's device."""

    def value_fn(context: tf.distribute.experimental.ValueContext) -> Any:
        replica = context.replica_id_in_sync_group
        with tf.device(f"/device:{devices.devices[replica]}"):
            return tf.nest.map_structure(tf.constant, make(replica))

    return strategy.experimental_distribute_values_from_function(value_fn)


def op_devices(function: Any, example_args: tuple[Any, ...], kinds: tuple[str, ...]) -> str:
    """The devices the traced graph places ops of `kinds` on, e.g. 'CPU:0,CPU:1' (what ran where, for the record)."""
    graph = function.get_concrete_function(*example_args).graph
    found = {
        normalise_device_name(op.device.rsplit("/", 1)[-1])
        for op in graph.get_operations()
        if op.device and any(op.type.startswith(kind) for kind in kinds)
    }
    return ",".join(sorted(found, key=lambda name: (name.split(":")[0], int(name.split(":")[1]))))


def check_results(results: Sequence[tf.Tensor], count: int, replicas: int) -> tuple[int, float]:
    """(mismatched elements over all replicas, largest error) of each replica's all-reduced tensor."""
    expected = expected_sum(count, replicas)
    found = [compare(np.asarray(result), expected) for result in results]
    return sum(m for m, _ in found), max(e for _, e in found)


def build_allreduce(case: Case, backend: Backend) -> Prepared:
    """k sum all-reduces of a float32 message per call, each replica's result checked on the first and last call."""
    params = dict(case.params)
    devices = case_devices(case, backend)
    strategy = mirrored(devices)
    count, replicas, k = elements(params), devices.replicas, int(params["collectives_per_call"])
    inputs = per_replica(strategy, devices, lambda r: replica_values(count, r))

    def reduce_once(x: tf.Tensor) -> tf.Tensor:
        return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, x)

    @tf.function
    def reduce_k(x: Any) -> Any:
        # A loop in the graph: one dispatch per call. Collective ops are stateful, so none is merged or hoisted.
        out = strategy.run(reduce_once, args=(x,))
        for _ in tf.range(k - 1):
            out = strategy.run(reduce_once, args=(x,))
        return out

    state: dict[str, Any] = {"first": None, "last": None}

    def call() -> tf.Tensor:
        results = strategy.experimental_local_results(reduce_k(inputs))
        state["last"] = results
        if state["first"] is None:  # only the first (untimed) call pays for this check
            state["first"] = check_results(results, count, replicas)
        return results[0]

    def facts(median_s: float) -> dict[str, Any]:
        first = state["first"] or (count * replicas, float("inf"))
        last = check_results(state["last"], count, replicas) if state["last"] is not None else first
        checked = "every replica's result, elementwise, on the first and the last call"
        return {
            **bandwidth_facts(params, median_s),
            **check_facts(first[0] + last[0], max(first[1], last[1]), checked),
            **devices.facts(),
            "cross_device_ops": cross_device_ops(strategy),
            "collective_op_devices": op_devices(reduce_k, (inputs,), COLLECTIVES),
            "in_place": False,
        }

    return Prepared(call, facts)


def weight_spread(strategy: tf.distribute.MirroredStrategy, model: keras.Model) -> float:
    """The largest difference between any replica's copy of a weight and the first replica's."""
    spread = 0.0
    for variable in model.trainable_variables:
        copies = [np.asarray(v) for v in strategy.experimental_local_results(variable.value)]
        spread = max([spread, *(float(np.abs(copies[0] - c).max()) for c in copies[1:])])
    return spread


def build_scaling(case: Case, backend: Backend) -> Prepared:
    """Data-parallel training steps over the case's replicas; one call trains steps_per_call global batches."""
    params = dict(case.params)
    devices = case_devices(case, backend)
    strategy = mirrored(devices)
    model_name, steps = str(params["model"]), int(params["steps_per_call"])
    global_batch, per = int(params["global_batch"]), int(params["per_replica_batch"])
    keras.utils.set_random_seed(SEED)
    with strategy.scope():
        if model_name == "mnist":
            model = book_model()
        elif model_name == "resnet50":
            model = resnet50(int(params["image_size"]), RESNET_CLASSES)
        else:
            raise ValueError(f"unknown scaling model {model_name!r}; models: mnist, resnet50")
        optimizer = keras.optimizers.Adam(LEARNING_RATE)
        optimizer.build(model.trainable_variables)
    per_example = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)

    def train(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            # Each replica's share of the global batch's mean loss; Keras sums the replicas' gradients.
            loss = tf.nn.compute_average_loss(per_example(y, logits), global_batch_size=global_batch)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    facts_extra: dict[str, Any] = {}
    losses: list[float] = []
    first = f"/device:{devices.devices[0]}"
    if model_name == "mnist":
        data = load_mnist(backend.settings.get("mnist"), samples_needed(params))
        order = global_batch_order(len(data.x), steps * int(params["calls"]), global_batch)
        x_all, y_all, o_all = per_replica(
            strategy, devices, lambda r: (data.x, data.y, replica_slice(order, r, per).astype(np.int32))
        )

        def replica_step(x: tf.Tensor, y: tf.Tensor, o: tf.Tensor, i: tf.Tensor) -> tf.Tensor:
            idx = o[i]
            return train(tf.gather(x, idx), tf.gather(y, idx))

        @tf.function
        def step(i: tf.Tensor) -> Any:
            return strategy.run(replica_step, args=(x_all, y_all, o_all, i))

        initial_loss, _ = evaluate(model, data, first)
        facts_extra.update({"data_source": data.source, "data_path": data.path, "samples": len(data.x)})
        batches = len(order)
    else:
        size = int(params["image_size"])
        images, labels = per_replica(
            strategy,
            devices,
            lambda r: (
                tf.random.stateless_uniform((per, size, size, 3), seed=(SEED, r)),
                tf.random.stateless_uniform((per,), seed=(SEED + 1, r), maxval=RESNET_CLASSES, dtype=tf.int64),
            ),
        )

        @tf.function
        def step(i: tf.Tensor) -> Any:
            return strategy.run(train, args=(images, labels))

        initial_loss = None
        facts_extra.update({"data_source": "synthetic", "loss_measured": "the training step's loss on its batch"})
        batches = 1
    state = {"step": 0}

    def call() -> tf.Tensor:
        loss: Any = None
        for _ in range(steps):
            loss = step(tf.constant(state["step"] % batches, tf.int32))
            state["step"] += 1
        if model_name != "mnist":
            losses.append(float(strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None)))
        return strategy.experimental_local_results(loss)[0]

    def facts(median_s: float) -> dict[str, Any]:
        if model_name == "mnist":
            final_loss, final_accuracy = evaluate(model, data, first)
            out: dict[str, Any] = {"initial_loss": initial_loss, "final_loss": final_loss}
            out["final_accuracy"] = final_accuracy
        else:
            out = {"initial_loss": losses[0] if losses else None, "final_loss": losses[-1] if losses else None}
        spread = weight_spread(strategy, model)
        return {
            **out,
            **facts_extra,
            **devices.facts(),
            "cross_device_ops": cross_device_ops(strategy),
            "collective_op_devices": op_devices(step, (tf.constant(0, tf.int32),), COLLECTIVES),
            "compute_op_devices": op_devices(step, (tf.constant(0, tf.int32),), ("MatMul", "Conv2D")),
            "strategy": "tf.distribute.MirroredStrategy",
            "gradient_bytes": int(sum(np.prod(v.shape) for v in model.trainable_variables)) * 4,
            "replicas_in_sync": spread == 0.0,
            "replica_weight_spread": spread,
            "samples_per_s_per_replica": float(params["steps_per_call"]) * per / median_s,
        }

    return Prepared(call, facts)
