"""Fitting a model on uint8 frames, Keras 3 API only, so the same code runs under TensorFlow
here and under JAX on a GPU machine without TensorFlow (bench/train_gpu.sh). Keras is imported
inside each function: importing dunkwatch.learn must stay cheap."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dunkwatch.config import TrainingConfig

if TYPE_CHECKING:  # distribute imports Keras
    from dunkwatch.learn.distribute import TrainingPlan

log = logging.getLogger(__name__)


def compile_for_training(model: Any, learning_rate: float) -> None:  # a keras.Model: Keras is untyped
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy")
    # Built now, not inside the first step: variables made while tracing make TensorFlow trace the
    # step twice (ResNet50's first epoch took 43 s on two cores instead of 23 s).
    model.optimizer.build(model.trainable_variables)


def balanced_weights(labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Scale sample weights so both classes weigh the same in total: empty frames vastly outnumber."""
    out = weights.astype(np.float32).copy()
    pos = labels > 0.5
    total = out.sum()
    for mask in (pos, ~pos):
        part = out[mask].sum()
        if part > 0:
            out[mask] *= total / (2.0 * part)
    return out


def fit(
    model: Any,  # a keras.Model: Keras is untyped
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    global_batch: int,
    epochs: int,
    verbose: int | str = 0,
    seed: int = 0,
    plan: TrainingPlan | None = None,
) -> list[float]:
    """Shuffled mini-batch training on uint8 frames; returns the loss of each epoch."""
    from dunkwatch.learn.distribute import fit_multi_worker

    if plan is not None and plan.multi_worker:
        return fit_multi_worker(plan, model, (x, y, w), global_batch, epochs, seed)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    history = model.fit(
        x[order],
        y[order].astype(np.float32),
        sample_weight=w[order].astype(np.float32),
        batch_size=min(global_batch, len(x)),
        epochs=epochs,
        shuffle=True,
        verbose=verbose,
    )
    return [float(v) for v in history.history["loss"]]


def _batchnorm_layers(layer: Any) -> list[Any]:  # Keras layers: untyped
    import keras

    found = []
    for sub in getattr(layer, "layers", []):  # a Keras layer; only models and nested models have .layers
        if isinstance(sub, keras.layers.BatchNormalization):
            found.append(sub)
        found.extend(_batchnorm_layers(sub))
    return found


def recalibrate_batchnorm(model: Any, x: np.ndarray, batch_size: int, max_batches: int = 64) -> int:
    """Set every trainable BatchNorm's moving statistics to the average over training batches.

    After a short training run from scratch the moving averages (momentum 0.99) still lag far
    behind the weights, so predict() is wrong while training batches look perfect. A cumulative
    average over forward passes in training mode gives the statistics the weights expect.
    Returns the number of layers recalibrated (frozen BatchNorms are left alone).
    """
    layers = [bn for bn in _batchnorm_layers(model) if bn.trainable]
    if not layers or not len(x):
        return 0
    saved = [bn.momentum for bn in layers]
    try:
        starts = list(range(0, len(x), batch_size))[:max_batches]
        for k, start in enumerate(starts, start=1):
            for bn in layers:
                bn.momentum = (k - 1) / k  # running mean of the per-batch statistics
            model(x[start : start + batch_size], training=True)
    finally:
        for bn, momentum in zip(layers, saved):
            bn.momentum = momentum
    return len(layers)


def predict_scores(model: Any, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
    if not len(x):
        return np.zeros(0, np.float32)
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float32).reshape(-1)


def training_input_size(t: TrainingConfig, accelerated: bool) -> int:
    """training.input_size on a GPU; on the CPU the smaller of it and training.cpu_input_size, said in the log."""
    size = t.input_size if accelerated else min(t.input_size, t.cpu_input_size)
    if size != t.input_size:
        log.info(
            "no GPU: training at %dx%d (training.cpu_input_size), not %d: ResNet50 at %d trains at a few "
            "frames/s on a CPU",
            size,
            size,
            t.input_size,
            t.input_size,
        )
    return size


def backbone_plan(fine_tune: str, have_imagenet: bool) -> tuple[bool, str]:
    """(train the backbone?, how it started, for the version's metadata)."""
    if have_imagenet:
        return fine_tune == "all", "imagenet"
    if fine_tune != "all":
        # A frozen backbone of random weights computes noise features: the head cannot learn from them.
        log.warning("no ImageNet weights: training the whole network, not only the head (training.fine_tune)")
    return True, "random, whole network trained"


def train_model(
    t: TrainingConfig,
    plan: TrainingPlan,
    size: int,
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    verbose: int | str,
    seed: int,
    imagenet: bool,
    weights_dir: Path,
) -> tuple[Any, str]:  # (a keras.Model: Keras is untyped, how its backbone started)
    """The fitted model, and how its backbone started ("imagenet" or "random, whole network trained").
    `t` is the training section; ImageNet weights are cached in (or downloaded once into) `weights_dir`."""
    import keras

    from dunkwatch.models.resnet import build_model, imagenet_weights

    weights = imagenet_weights(weights_dir) if imagenet else None
    keras.utils.set_random_seed(seed)  # the same labels train the same model, as far as the device allows
    train_backbone, backbone = backbone_plan(t.fine_tune, weights is not None)
    global_batch = plan.global_batch(t.batch_size)
    with plan.scope():
        model = build_model(size, weights=weights, train_backbone=train_backbone)
        compile_for_training(model, t.learning_rate)
    log.info(
        "training on %d frames (%d with a player) at %dx%d, global batch %d, %d epoch(s)",
        len(x),
        int((y > 0.5).sum()),
        size,
        size,
        global_batch,
        t.epochs,
    )
    fit(model, x, y, balanced_weights(y, w), global_batch, t.epochs, verbose=verbose, plan=plan, seed=seed)
    if train_backbone:
        layers = recalibrate_batchnorm(model, x, global_batch)
        log.info("BatchNorm statistics recalibrated over the training frames: %d layer(s)", layers)
    return model, backbone


def local_copy(model: Any, size: int, backbone: str) -> Any:  # keras.Models: Keras is untyped
    """The same weights in a model outside the multi-worker strategy: its predict would otherwise
    gather results from every worker, and only the chief judges."""
    from dunkwatch.models.resnet import build_model

    copy = build_model(size, weights=None, train_backbone=True)
    copy.set_weights(model.get_weights())
    return copy
