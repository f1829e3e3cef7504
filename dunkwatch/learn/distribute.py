"""Which devices train, and how: the only module that touches tf.distribute or keras.distribution.

TensorFlow backend:
- `TF_CONFIG` set: MultiWorkerMirroredStrategy (several machines, or processes, in sync);
- `training.devices` given: MirroredStrategy over exactly those;
- GPUs present: MirroredStrategy over all of them;
- otherwise the default strategy (one CPU).
JAX backend (a GPU machine without TensorFlow): keras.distribution.DataParallel over the
accelerators when there are several.
The global batch is the per-replica batch times the number of replicas.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Sequence

import keras
import numpy as np

log = logging.getLogger(__name__)


@dataclass
class TrainingPlan:
    backend: str
    replicas: int
    description: str
    precision: str  # the Keras dtype policy in force
    is_chief: bool = True  # only the chief writes the model when several workers train together
    scope: Callable[[], ContextManager] = field(default=contextlib.nullcontext)
    strategy: Any = None  # the tf.distribute strategy, when TensorFlow is the backend
    accelerated: bool = False  # a GPU (or other accelerator) trains, not the CPU
    multi_worker: bool = False  # several machines train together (TF_CONFIG): their own loop, chief judges

    def global_batch(self, per_replica: int) -> int:
        return per_replica * self.replicas


def _tf_plan(devices: Sequence[str]) -> tuple[Any, str, bool, bool, bool]:
    import tensorflow as tf

    if os.environ.get("TF_CONFIG"):
        # Must be created before any other TensorFlow op in this process.
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        config = json.loads(os.environ["TF_CONFIG"])
        task = config.get("task", {})
        has_chief = "chief" in config.get("cluster", {})
        chief = task.get("type") == "chief" or (
            not has_chief and task.get("type") == "worker" and int(task.get("index", 0)) == 0
        )
        gpus = tf.config.list_logical_devices("GPU")
        name = f"MultiWorkerMirroredStrategy ({task.get('type')} {task.get('index')})"
        return strategy, name, chief, bool(gpus), True
    gpus = tf.config.list_logical_devices("GPU")
    if devices:
        strategy = tf.distribute.MirroredStrategy(devices=list(devices))
        gpu = any("gpu" in d.lower() for d in devices)
        return strategy, f"MirroredStrategy over {', '.join(devices)}", True, gpu, False
    if gpus:
        strategy = tf.distribute.MirroredStrategy()
        return strategy, f"MirroredStrategy over {len(gpus)} GPU(s)", True, True, False
    return tf.distribute.get_strategy(), "one CPU (default strategy)", True, False, False


def _jax_plan(devices: Sequence[str]) -> tuple[int, str, bool]:
    import jax

    available = jax.devices()
    if devices:
        wanted = {d.lower().strip("/").replace("device:", "") for d in devices}
        available = [
            d
            for d in available
            if f"{d.platform}:{d.id}" in wanted
            or f"{'gpu' if d.platform in ('gpu', 'cuda', 'rocm') else d.platform}:{d.id}" in wanted
        ]
        if not available:
            raise ValueError(f"training.devices {list(devices)} match none of {jax.devices()}")
    accelerated = any(d.platform != "cpu" for d in available)
    if len(available) > 1:
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=available))
        return len(available), f"DataParallel over {len(available)} {available[0].platform} device(s)", accelerated
    return 1, f"one {available[0].platform} device", accelerated


def plan_training(devices: Sequence[str] = (), precision: str = "auto") -> TrainingPlan:
    """Pick the strategy and dtype policy; call before the model is built."""
    backend = keras.backend.backend()
    strategy = None
    chief, multi_worker = True, False
    if backend == "tensorflow":
        strategy, description, chief, accelerated, multi_worker = _tf_plan(devices)
        replicas = strategy.num_replicas_in_sync
        scope = strategy.scope
    elif backend == "jax":
        replicas, description, accelerated = _jax_plan(devices)
        scope = contextlib.nullcontext
    else:
        replicas, description, accelerated, scope = 1, f"{backend} backend, one device", False, contextlib.nullcontext
    policy = precision if precision != "auto" else ("mixed_float16" if accelerated else "float32")
    keras.mixed_precision.set_dtype_policy(policy)
    log.info("training on %s: %d replica(s), %s", description, replicas, policy)
    return TrainingPlan(backend, replicas, description, policy, chief, scope, strategy, accelerated, multi_worker)


def fit_multi_worker(
    plan: TrainingPlan,
    model: Any,
    samples: tuple[np.ndarray, np.ndarray, np.ndarray],
    global_batch: int,
    epochs: int,
    seed: int = 0,
) -> list[float]:
    """A plain tf.distribute training loop: Keras 3's fit() fails under MultiWorkerMirroredStrategy
    (keras-team/keras#20585), so every worker runs the same steps here, in lock-step.

    `model` is a keras.Model (untyped), made with its optimizer in `plan.scope()`; `samples` are
    fit()'s frames, labels and weights. Returns the mean loss of each epoch.
    """
    import tensorflow as tf

    x, y, w = samples

    strategy = plan.strategy
    # Every batch is split over all replicas; equal-sized batches keep the workers' collectives in step.
    batch = max(plan.replicas, (min(global_batch, len(x)) // plan.replicas) * plan.replicas)
    dataset = tf.data.Dataset.from_tensor_slices((x, y.astype("float32"), w.astype("float32")))
    dataset = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(batch, drop_remainder=True)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    distributed = strategy.experimental_distribute_dataset(dataset.with_options(options))
    optimizer = model.optimizer

    def replica_step(xb: Any, yb: Any, wb: Any) -> Any:  # TensorFlow tensors: untyped
        with tf.GradientTape() as tape:
            pred = tf.reshape(tf.cast(model(xb, training=True), tf.float32), [-1])
            per_example = keras.losses.binary_crossentropy(yb[:, None], pred[:, None]) * wb
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=batch)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    @tf.function
    def step(inputs: Any) -> Any:  # TensorFlow tensors: untyped
        losses = strategy.run(replica_step, args=inputs)
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    history = []
    for _ in range(epochs):
        total, steps = 0.0, 0
        for inputs in distributed:
            total += float(step(inputs))
            steps += 1
        history.append(total / max(1, steps))
    return history


def _sum_from_replicas(plan: TrainingPlan, value: np.ndarray, only_first: bool) -> np.ndarray:
    """All-reduce (sum) of `value` over every replica of every worker; with only_first, only the
    global replica 0 (the chief's first device) contributes, which makes it a broadcast."""
    import tensorflow as tf

    strategy = plan.strategy
    constant = tf.constant(value)

    @tf.function
    def step() -> Any:  # TensorFlow tensors: untyped
        def replica_fn() -> Any:
            ctx = tf.distribute.get_replica_context()
            mine = constant
            if only_first:
                mine = tf.where(tf.equal(ctx.replica_id_in_sync_group, 0), constant, tf.zeros_like(constant))
            return ctx.all_reduce(tf.distribute.ReduceOp.SUM, mine)

        return strategy.run(replica_fn)

    return strategy.experimental_local_results(step())[0].numpy()


def broadcast_from_chief(plan: TrainingPlan, payload: bytes) -> bytes:
    """The chief's `payload` on every worker (the others' is ignored): workers that decided
    differently (skip or train, on which frames) would hang each other's collectives."""
    if not plan.multi_worker:
        return payload
    length = int(_sum_from_replicas(plan, np.array([len(payload)], np.float32), only_first=True)[0])
    mine = np.zeros(length, np.float32)  # bytes as floats: 0..255 are exact, and collectives take float32
    if plan.is_chief:
        mine[:] = np.frombuffer(payload, np.uint8)
    summed = _sum_from_replicas(plan, mine, only_first=True)
    return np.rint(summed).astype(np.uint8).tobytes()


def all_workers_can(plan: TrainingPlan, can: bool) -> bool:
    """True only when every worker says it can go on (for example: it has every video the chief chose)."""
    if not plan.multi_worker:
        return can
    return float(_sum_from_replicas(plan, np.array([0.0 if can else 1.0], np.float32), only_first=False)[0]) == 0.0
