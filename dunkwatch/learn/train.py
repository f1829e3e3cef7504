"""Retraining: labels -> frames -> fit on every device -> judge by predict() -> promote or keep.

The fitting pieces (`compile_for_training`, `fit`, `recalibrate_batchnorm`, `predict_scores`)
use the Keras 3 API only, on uint8 numpy inputs, so the same code runs under TensorFlow here
and under JAX on a GPU machine without TensorFlow (bench/train_gpu.sh).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dunkwatch.config import Config
from dunkwatch.errors import DunkwatchError, ModelError
from dunkwatch.learn import registry
from dunkwatch.learn.corrections import (
    Correction, KnownVideo, LabelRules, frame_labels, labels_hash, parse_corrections)
from dunkwatch.metrics import frame_scores, runs, segment_recall

log = logging.getLogger(__name__)

LAST_ATTEMPT_KEY = "last_training"


class TrainingError(DunkwatchError):
    """Training could not run (no data, bad devices); the current model stays."""


@dataclass
class TrainResult:
    status: str  # promoted, kept, skipped
    reason: str
    version: str | None = None
    metrics: dict = field(default_factory=dict)
    current_metrics: dict | None = None
    labels_hash: str | None = None

    def summary(self) -> str:
        parts = [f"{self.status}: {self.reason}"]
        if self.metrics:
            m = self.metrics
            parts.append(f"new model: F1 {m['f1']:.3f} (precision {m['precision']:.3f}, recall {m['recall']:.3f}, "
                         f"segment recall {m['segment_recall']:.3f}) on {m['frames']} validation frames "
                         f"of {m['videos']} video(s)")
        if self.current_metrics:
            parts.append(f"current model: F1 {self.current_metrics['f1']:.3f} on the same frames")
        return "\n".join(parts)


# --- Keras-only fitting pieces ---------------------------------------------------------------

def compile_for_training(model, learning_rate: float) -> None:
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy")


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


def fit(model, x: np.ndarray, y: np.ndarray, w: np.ndarray, global_batch: int, epochs: int,
        verbose: int | str = 0, seed: int = 0, plan=None) -> list[float]:
    """Shuffled mini-batch training on uint8 frames; returns the loss of each epoch."""
    from dunkwatch.learn.distribute import fit_multi_worker, is_multi_worker

    if plan is not None and is_multi_worker(plan):
        return fit_multi_worker(plan, model, x, y, w, global_batch, epochs, seed)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    history = model.fit(x[order], y[order].astype(np.float32), sample_weight=w[order].astype(np.float32),
                        batch_size=min(global_batch, len(x)), epochs=epochs, shuffle=True, verbose=verbose)
    return [float(v) for v in history.history["loss"]]


def _batchnorm_layers(layer) -> list:
    import keras

    found = []
    for sub in getattr(layer, "layers", []):
        if isinstance(sub, keras.layers.BatchNormalization):
            found.append(sub)
        found.extend(_batchnorm_layers(sub))
    return found


def recalibrate_batchnorm(model, x: np.ndarray, batch_size: int, max_batches: int = 64) -> int:
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
            model(x[start:start + batch_size], training=True)
    finally:
        for bn, momentum in zip(layers, saved):
            bn.momentum = momentum
    return len(layers)


def predict_scores(model, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
    if not len(x):
        return np.zeros(0, np.float32)
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float32).reshape(-1)


def judge(scores: np.ndarray, labels: np.ndarray, counts: list[int], times: list[np.ndarray], step: float,
          threshold: float) -> dict[str, Any]:
    """Frame precision, recall and F1 at the decision threshold, and segment recall, per validation set."""
    truth = labels > 0.5
    predicted = scores >= threshold
    precision, recall, f1 = frame_scores(predicted, truth)
    found, total = 0.0, 0
    offset = 0
    for n, t in zip(counts, times):
        true_ranges = runs(truth[offset:offset + n], t, step)
        detected = runs(predicted[offset:offset + n], t, step)
        found += segment_recall(true_ranges, detected) * len(true_ranges)
        total += len(true_ranges)
        offset += n
    accuracy = float(np.mean(predicted == truth)) if len(truth) else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "segment_recall": round(found / total, 4) if total else 1.0, "accuracy": round(accuracy, 4),
            "empty_baseline_accuracy": round(float(np.mean(~truth)), 4) if len(truth) else 0.0,
            "frames": int(len(truth)), "positives": int(truth.sum()), "videos": len(counts),
            "threshold": threshold}


def should_promote(new: dict, current: dict | None) -> tuple[bool, str]:
    if current is None:
        if new["positives"] == 0:
            return False, "the validation videos have no frame with a player in view to judge by"
        if new["f1"] <= 0.0 or new["accuracy"] <= new["empty_baseline_accuracy"]:
            return False, (f"it does not beat predicting \"empty\" everywhere (F1 {new['f1']:.3f}, accuracy "
                           f"{new['accuracy']:.3f} vs {new['empty_baseline_accuracy']:.3f})")
        return True, f"first model: F1 {new['f1']:.3f} beats predicting \"empty\" everywhere"
    if new["f1"] >= current["f1"]:
        return True, f"F1 {new['f1']:.3f} is not lower than the current model's {current['f1']:.3f}"
    return False, f"F1 {new['f1']:.3f} is lower than the current model's {current['f1']:.3f}"


# --- the whole job -----------------------------------------------------------------------------

def _catalogue(cfg: Config, store) -> list[tuple[KnownVideo, Path]]:
    from dunkwatch.pipeline.ingest import dropped_name  # the name as dropped: inbox-relative

    found = []
    for v in store.processed():
        if v.location and v.location.is_file():
            duration = float((v.outputs or {}).get("duration") or 0.0)
            found.append((KnownVideo(dropped_name(v.path, cfg.paths.inbox), v.sha256, duration), v.location))
    return found


def read_corrections(cfg: Config, catalogue: list[KnownVideo]):
    """Parse paths.corrections against the processed videos; a missing file is no corrections."""
    path = cfg.paths.corrections
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        log.error("%s: cannot read corrections: %s", path, exc)
        return [], []
    return parse_corrections(text, catalogue)


def load_corrections(cfg: Config, store):
    """(valid rows, errors) of the corrections file against the videos processed so far."""
    return read_corrections(cfg, [k for k, _ in _catalogue(cfg, store)])


def _label_rules(cfg: Config) -> LabelRules:
    t = cfg.training
    return LabelRules(t.confident_low, t.confident_high, t.correction_weight)


def _training_fingerprint(cfg: Config) -> dict:
    t = cfg.training
    return {"input_size": t.input_size, "sample_fps": t.sample_fps, "fine_tune": t.fine_tune,
            "imagenet": t.imagenet, "epochs": t.epochs, "max_frames": t.max_frames,
            "validation_share": t.validation_share}


def run_training(cfg: Config, force: bool = False, verbose: int | str = 0) -> TrainResult:
    """The scheduled job and `dunkwatch train`: skip, or train, judge and maybe promote."""
    from dunkwatch.learn.dataset import FrameCache, LabelledVideo, assemble, cap_frames, sample_times, split_by_video
    from dunkwatch.store import Store

    t = cfg.training
    state_dir = cfg.paths.state_dir
    store = Store(state_dir)
    try:
        known = _catalogue(cfg, store)
        catalogue = [k for k, _ in known]
        rows, errors = read_corrections(cfg, catalogue)
        for error in errors:
            log.warning("%s: %s", cfg.paths.corrections, error)
        rules = _label_rules(cfg)
        scores = {k.sha256: store.load_scores(k.sha256) for k in catalogue}
        digests = {sha: s[2] for sha, s in scores.items() if s is not None}
        lhash = labels_hash(rows, digests, rules, extra=_training_fingerprint(cfg))
        current = registry.current_version(state_dir)
        current_meta = registry.metrics(state_dir, current) if current else None
        last = store.get_meta(LAST_ATTEMPT_KEY) or {}
        if not force:
            if current_meta and current_meta.get("labels_hash") == lhash:
                return _record(store, TrainResult("skipped", f"labels unchanged since model {current}",
                                                  labels_hash=lhash))
            if last.get("labels_hash") == lhash and last.get("status") in ("kept", "skipped"):
                return _record(store, TrainResult("skipped", "labels unchanged since the last training run",
                                                  labels_hash=lhash))

        by_sha: dict[str, list[Correction]] = {}
        for r in rows:
            by_sha.setdefault(r.sha256, []).append(r)
        videos = []
        for k, location in known:
            times = sample_times(k.duration, t.sample_fps)
            s = scores.get(k.sha256)
            labels, weights = frame_labels(times, by_sha.get(k.sha256, []), s[0] if s else None,
                                           s[1] if s else None, rules)
            keep = weights > 0
            if keep.any():
                videos.append(LabelledVideo(k.sha256, k.name, location, times[keep], labels[keep], weights[keep]))
        with_player = [v for v in videos if v.positives]
        if len(videos) < 2 or len(with_player) < 2:
            return _record(store, TrainResult(
                "skipped", f"need at least two labelled videos with a player in view (have {len(with_player)} "
                           f"of {len(videos)} labelled); process more videos or add corrections",
                labels_hash=lhash))
        train_videos, val_videos = split_by_video(videos, t.validation_share)
        rng = np.random.default_rng(int(lhash[:8], 16))
        per_video = max(10, t.max_frames // max(1, len(videos)))
        train_videos = [cap_frames(v, per_video, rng) for v in train_videos]
        val_videos = [cap_frames(v, per_video, rng) for v in val_videos]

        cache = FrameCache(state_dir / "dataset", t.input_size, t.sample_fps)
        log.info("extracting frames: %d training and %d validation video(s)", len(train_videos), len(val_videos))
        x_train, y_train, w_train, _, _ = assemble(train_videos, cache)
        x_val, y_val, _, val_counts, val_times = assemble(val_videos, cache)

        started = time.monotonic()
        model, plan = _train_model(cfg, x_train, y_train, w_train, verbose)
        threshold = cfg.segment.threshold_cnn
        new_metrics = judge(predict_scores(model, x_val), y_val, val_counts, val_times, 1.0 / t.sample_fps,
                            threshold)
        new_metrics["train_frames"] = int(len(x_train))
        new_metrics["train_seconds"] = round(time.monotonic() - started, 1)
        cur_metrics = None
        if current is not None:
            cur_metrics = _judge_current(cfg, current, val_videos, threshold)
        promote, reason = should_promote(new_metrics, cur_metrics)
        result = TrainResult("promoted" if promote else "kept", reason, None, new_metrics, cur_metrics, lhash)
        if promote and plan.is_chief:
            meta = {"metrics": new_metrics, "labels_hash": lhash, "f1": new_metrics["f1"],
                    "config": _config_snapshot(cfg), "trained_on": plan.description, "precision": plan.precision,
                    "replicas": plan.replicas, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "previous": current, "previous_metrics_on_same_frames": cur_metrics,
                    "train_videos": [v.name for v in train_videos], "validation_videos": [v.name for v in val_videos]}
            version = registry.add_version(state_dir, lambda p: model.save(str(p)), meta)
            registry.set_current(state_dir, version)
            registry.prune(state_dir, t.keep_versions)
            result.version = version
        return _record(store, result)
    finally:
        store.close()


def _train_model(cfg: Config, x, y, w, verbose):
    from dunkwatch.learn.distribute import plan_training
    from dunkwatch.learn.model import build_model, imagenet_weights

    t = cfg.training
    try:
        plan = plan_training(t.devices, t.precision)
    except (ValueError, RuntimeError) as exc:
        raise TrainingError(f"config key training.devices = {list(t.devices)!r}: {exc}") from None
    weights = imagenet_weights(cfg.paths.state_dir / "weights") if t.imagenet else None
    global_batch = plan.global_batch(t.batch_size)
    with plan.scope():
        model = build_model(t.input_size, weights=weights, train_backbone=(t.fine_tune == "all"))
        compile_for_training(model, t.learning_rate)
    log.info("training on %d frames (%d with a player), global batch %d, %d epoch(s)",
             len(x), int((y > 0.5).sum()), global_batch, t.epochs)
    fit(model, x, y, balanced_weights(y, w), global_batch, t.epochs, verbose=verbose, plan=plan)
    if t.fine_tune == "all":
        recalibrate_batchnorm(model, x, global_batch)
    return model, plan


def _judge_current(cfg: Config, version: str, val_videos, threshold) -> dict | None:
    """The current model on the same validation frames, at its own input size."""
    from dunkwatch.learn.dataset import FrameCache, assemble
    from dunkwatch.learn.model import load_model

    try:
        model = load_model(registry.model_path(cfg.paths.state_dir, version))
    except ModelError as exc:
        log.warning("current model %s cannot be loaded (%s); judging the new one on its own", version, exc)
        return None
    size = int(model.input_shape[1])
    cache = FrameCache(cfg.paths.state_dir / "dataset", size, cfg.training.sample_fps)
    x, y, _, counts, times = assemble(val_videos, cache)
    return judge(predict_scores(model, x), y, counts, times, 1.0 / cfg.training.sample_fps, threshold)


def _config_snapshot(cfg: Config) -> dict:
    return {section: {k: (list(v) if isinstance(v, tuple) else str(v) if isinstance(v, Path) else v)
                      for k, v in asdict(getattr(cfg, section)).items()}
            for section in ("training", "segment", "decode")}


def _record(store, result: TrainResult) -> TrainResult:
    """The outcome goes to the journal, for `dunkwatch status` and the next run's skip check."""
    entry = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "status": result.status, "reason": result.reason,
             "version": result.version, "f1": result.metrics.get("f1") if result.metrics else None,
             "labels_hash": result.labels_hash}
    store.set_meta(LAST_ATTEMPT_KEY, entry)
    log.info("training %s: %s", result.status, result.reason)
    return result
