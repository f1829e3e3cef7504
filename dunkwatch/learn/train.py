"""Retraining: labels -> frames -> fit on every device -> judge as the service runs it -> promote or keep.

The fitting pieces (`compile_for_training`, `fit`, `recalibrate_batchnorm`, `predict_scores`)
use the Keras 3 API only, on uint8 numpy inputs, so the same code runs under TensorFlow here
and under JAX on a GPU machine without TensorFlow (bench/train_gpu.sh).
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Iterator

import numpy as np

from dunkwatch.config import Config
from dunkwatch.errors import DunkwatchError, ModelError
from dunkwatch.learn import registry
from dunkwatch.learn.corrections import (
    Correction, KnownVideo, LabelRules, decode_csv, frame_labels, labels_hash, parse_corrections)
from dunkwatch.learn.promotion import Figures, JudgedVideo, decide, figures, truth_ranges

log = logging.getLogger(__name__)

LAST_ATTEMPT_KEY = "last_training"


class TrainingError(DunkwatchError):
    """Training could not run (no data, bad devices); the current model stays."""


@dataclass
class TrainResult:
    status: str  # promoted, kept, skipped
    reason: str
    version: str | None = None
    metrics: dict = field(default_factory=dict)  # the candidate's pipeline on the validation videos
    baseline_metrics: dict | None = None  # the scoring in use, on the same videos
    baseline: str | None = None  # "motion" or "model vNNNN"
    labels_hash: str | None = None

    def summary(self) -> str:
        parts = [f"{self.status}: {self.reason}"]
        if self.metrics:
            parts.append(f"new model:  {Figures(**self.metrics).line()} on {self.metrics['videos']} validation "
                         f"video(s), as the service would run it")
        if self.baseline_metrics:
            parts.append(f"{self.baseline + ':':11} {Figures(**self.baseline_metrics).line()} on the same videos")
        return "\n".join(parts)


# --- Keras-only fitting pieces ---------------------------------------------------------------

def compile_for_training(model, learning_rate: float) -> None:
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


# --- the whole job -----------------------------------------------------------------------------

def _catalogue(cfg: Config, store) -> list[tuple[KnownVideo, Path]]:
    from dunkwatch.pipeline.ingest import dropped_name, listed_name

    found = []
    for v in store.processed():
        if v.location and v.location.is_file():
            outputs = v.outputs or {}
            duration = float(outputs.get("duration") or 0.0)
            # Named as dropped, or as predictions.csv names it when another video had that name first.
            listed = (listed_name(v.path, Path(outputs["outbox"]), cfg.paths.outbox),) if outputs.get("outbox") else ()
            found.append((KnownVideo(dropped_name(v.path, cfg.paths.inbox), v.sha256, duration, listed), v.location))
    return found


def read_corrections(cfg: Config, catalogue: list[KnownVideo]):
    """Parse paths.corrections against the processed videos; a missing file is no corrections."""
    path = cfg.paths.corrections
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        log.error("%s: cannot read corrections: %s", path, exc)
        return [], []
    text, encoding_error = decode_csv(data)
    rows, errors = parse_corrections(text, catalogue)
    return rows, ([encoding_error] if encoding_error else []) + errors


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
            "validation_share": t.validation_share, "cpu_input_size": t.cpu_input_size}


LOCK_NAME = "training.lock"


@contextmanager
def _one_run_at_a_time(state_dir: Path) -> Iterator[bool]:
    """True when this run holds the state dir's training lock; False when another run does.

    A manual `train` and the scheduled one would otherwise write the same vNNNN.part. Workers of
    one multi-worker run (TF_CONFIG) train together by design, so they do not take it."""
    if os.environ.get("TF_CONFIG"):
        yield True
        return
    Path(state_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(state_dir) / LOCK_NAME, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released by the kernel if this process dies
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def run_training(cfg: Config, force: bool = False, verbose: int | str = 0) -> TrainResult:
    """The scheduled job and `dunkwatch train`: skip, or train, judge and maybe promote."""
    with _one_run_at_a_time(cfg.paths.state_dir) as alone:
        if not alone:
            result = TrainResult("skipped", f"another training run is in progress "
                                            f"({cfg.paths.state_dir / LOCK_NAME}); this one does nothing")
            log.info("training %s: %s", result.status, result.reason)
            return result
        return _run_training(cfg, force, verbose)


@dataclass
class TrainingDecision:
    """What one training run does: skip (and why), or train on which frames with which settings.
    When several workers train together, the chief's decision is everyone's."""

    skip: TrainResult | None = None
    labels_hash: str = ""
    train: list = field(default_factory=list)  # LabelledVideo, capped to training.max_frames
    validation: list = field(default_factory=list)  # LabelledVideo, judged by the chief only
    corrections: dict = field(default_factory=dict)  # sha256 -> [Correction], for the judge
    input_size: int = 0
    imagenet: bool = False  # the chief starts the backbone from ImageNet weights
    precision: str = ""  # the chief's dtype policy
    settings: dict = field(default_factory=dict)  # the training.* values every worker uses

    def portable(self) -> bytes:
        """What a follower needs, as JSON: the frames to train on and how; not the judging."""
        import json

        videos = [{"sha256": v.sha256, "name": v.name, "times": v.times.tolist(), "labels": v.labels.tolist(),
                   "weights": v.weights.tolist()} for v in self.train]
        return json.dumps({"skip": asdict(self.skip) if self.skip else None, "labels_hash": self.labels_hash,
                           "train": videos, "input_size": self.input_size, "imagenet": self.imagenet, "precision": self.precision,
                           "settings": self.settings}).encode()

    @classmethod
    def follow(cls, payload: bytes, locations: dict[str, Path]) -> tuple["TrainingDecision", list[str]]:
        """The chief's decision with this worker's own copies of the videos; and the names it lacks."""
        import json

        from dunkwatch.learn.dataset import LabelledVideo

        data = json.loads(payload.decode())
        if data["skip"]:
            return cls(skip=TrainResult(**data["skip"])), []
        videos, missing = [], []
        for v in data["train"]:
            if v["sha256"] not in locations:
                missing.append(v["name"])
                continue
            videos.append(LabelledVideo(v["sha256"], v["name"], locations[v["sha256"]], np.asarray(v["times"]),
                                        np.asarray(v["labels"]), np.asarray(v["weights"])))
        return cls(labels_hash=data["labels_hash"], train=videos, input_size=data["input_size"],
                   imagenet=data["imagenet"], precision=data["precision"], settings=data["settings"]), missing


FOLLOWED_SETTINGS = ("epochs", "batch_size", "learning_rate", "fine_tune", "sample_fps")


def _decide(cfg: Config, store, known: list, force: bool) -> TrainingDecision:
    """Skip, or which frames to train on: from the corrections, the stored scores and the last run."""
    from dunkwatch.learn.dataset import LabelledVideo, cap_frames, sample_times, split_by_video

    t = cfg.training
    state_dir = cfg.paths.state_dir
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
            return TrainingDecision(TrainResult("skipped", f"labels unchanged since model {current}",
                                                labels_hash=lhash))
        if last.get("labels_hash") == lhash and last.get("status") in ("kept", "skipped"):
            return TrainingDecision(TrainResult("skipped", "labels unchanged since the last training run",
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
            videos.append(LabelledVideo(k.sha256, k.name, location, times[keep], labels[keep], weights[keep],
                                        corrected=k.sha256 in by_sha))
    with_player = [v for v in videos if v.positives]
    if len(videos) < 2 or len(with_player) < 2:
        return TrainingDecision(TrainResult(
            "skipped", f"need at least two labelled videos with a player in view (have {len(with_player)} "
                       f"of {len(videos)} labelled); process more videos or add corrections", labels_hash=lhash))
    train_videos, val_videos = split_by_video(videos, t.validation_share)
    if not any(v.corrected for v in val_videos):
        # Uncorrected labels are the scoring in use's own predictions: no model can beat it on them.
        return TrainingDecision(TrainResult(
            "skipped", "no corrections to learn from and judge by: the labels are the current scoring's own "
                       "predictions, which no new model can beat; correct what it gets wrong in at least two "
                       "videos (see outbox/predictions.csv)", labels_hash=lhash))
    rng = np.random.default_rng(int(lhash[:8], 16))
    per_video = max(10, t.max_frames // max(1, len(videos)))
    return TrainingDecision(None, lhash, [cap_frames(v, per_video, rng) for v in train_videos], val_videos,
                            by_sha, settings={k: getattr(t, k) for k in FOLLOWED_SETTINGS})


def _agree_with_chief(cfg: Config, plan, decision: TrainingDecision, known: list) -> TrainingDecision:
    """Multi-worker training: every worker takes the chief's decision, or all skip together.

    Each worker reads its own corrections and journal; had each decided for itself, one skipping
    while another trains would hang the collectives for good."""
    from dunkwatch.learn.distribute import all_workers_can, broadcast_from_chief
    from dunkwatch.learn.model import IMAGENET_NOTOP_NAME, imagenet_weights

    if plan.is_chief and decision.skip is None:
        decision.input_size = training_input_size(cfg.training, plan.accelerated)
        decision.imagenet = cfg.training.imagenet and imagenet_weights(cfg.paths.state_dir / "weights") is not None
        decision.precision = plan.precision
    payload = broadcast_from_chief(plan, decision.portable())
    if plan.is_chief:
        chosen, problem = decision, ""
    else:
        chosen, missing = TrainingDecision.follow(payload, {k.sha256: location for k, location in known})
        problem = f"this worker lacks {len(missing)} of the chief's videos ({', '.join(missing[:3])})" if missing \
            else ""
        weights = cfg.paths.state_dir / "weights" / IMAGENET_NOTOP_NAME
        if not problem and chosen.imagenet and not weights.is_file():
            problem = f"the chief starts from ImageNet weights and this worker has none in {weights.parent}"
        if problem:
            log.error("multi-worker training: %s", problem)
    if not all_workers_can(plan, not problem):
        return TrainingDecision(TrainResult("skipped", problem or "a worker cannot follow this run's data (see "
                                            "that worker's log); nothing trained", labels_hash=chosen.labels_hash))
    if chosen.precision and chosen.precision != plan.precision:
        import keras

        keras.mixed_precision.set_dtype_policy(chosen.precision)  # the same dtypes in every collective
        plan.precision = chosen.precision
    return chosen


def _run_training(cfg: Config, force: bool, verbose: int | str) -> TrainResult:
    from dunkwatch.learn.dataset import FrameCache, assemble
    from dunkwatch.store import Store

    state_dir = cfg.paths.state_dir
    store = Store(state_dir)
    try:
        known = _catalogue(cfg, store)
        decision = _decide(cfg, store, known, force)
        plan = None
        if os.environ.get("TF_CONFIG"):
            plan = _plan(cfg)  # every worker joins before anything may end the run
            decision = _agree_with_chief(cfg, plan, decision, known)
        if decision.skip is not None:
            return _record(store, decision.skip)
        plan = plan or _plan(cfg)
        t = replace(cfg.training, **decision.settings)
        size = decision.input_size or training_input_size(t, plan.accelerated)
        lhash, train_videos, val_videos = decision.labels_hash, decision.train, decision.validation
        cache = FrameCache(state_dir / "dataset", size, t.sample_fps, cfg.decode.reader)
        log.info("extracting frames: %d training video(s)%s", len(train_videos),
                 f"; validating on {len(val_videos)}: " + ", ".join(v.name for v in val_videos) if val_videos else "")
        x_train, y_train, w_train, _, _ = assemble(train_videos, cache)

        started = time.monotonic()
        multi_worker = plan.description.startswith("MultiWorker")
        model, backbone = _train_model(t, plan, size, x_train, y_train, w_train, verbose, seed=int(lhash[:8], 16),
                                       imagenet=(decision.imagenet if multi_worker else t.imagenet),
                                       weights_dir=state_dir / "weights")
        train_seconds = round(time.monotonic() - started, 1)
        if not plan.is_chief:
            return _record(store, TrainResult("trained", f"a worker of {plan.description}: the chief judges the "
                                              "model and promotes it or not", labels_hash=lhash))
        if multi_worker:
            model = _local_copy(model, size, backbone)  # judging must not wait on the other workers
        current = registry.current_version(state_dir)
        judged = [_ValidationVideo(v.name, v.path, decision.corrections.get(v.sha256, []),
                                   _predicted(cfg, store, v.sha256)) for v in val_videos]
        baseline_name, baseline_scorer = _scoring_in_use(cfg, current)
        baseline = judge_in_service(cfg, baseline_scorer, judged)
        with _candidate_folder(state_dir) as scratch:
            candidate, runtime = _judge_candidate(cfg, model, scratch, judged)
            promote, reason = decide(candidate, baseline, baseline_name, any(v.corrections for v in judged))
            log.info("new model:  %s", candidate.line())
            log.info("%-11s %s", baseline_name + ":", baseline.line())
            result = TrainResult("promoted" if promote else "kept", reason, None, candidate.as_dict(),
                                 baseline.as_dict(), baseline_name, lhash)
            if promote:
                meta = {"metrics": {**candidate.as_dict(), "train_frames": int(len(x_train)),
                                    "train_seconds": train_seconds},
                        "labels_hash": lhash, "f1": candidate.f1, "runtime": runtime,
                        "baseline": {"name": baseline_name, "metrics": baseline.as_dict()},
                        "config": _config_snapshot(cfg), "trained_on": plan.description, "precision": plan.precision,
                        "replicas": plan.replicas, "input_size": size, "backbone": backbone,
                        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "previous": current,
                        "train_videos": [v.name for v in train_videos],
                        "validation_videos": [v.name for v in val_videos]}
                version = registry.add_version(state_dir, lambda p: _keep(model, p, scratch), meta)
                registry.set_current(state_dir, version)
                registry.prune(state_dir, t.keep_versions)
                result.version = version
        return _record(store, result)
    finally:
        store.close()


@contextmanager
def _candidate_folder(state_dir: Path) -> Iterator[Path]:
    """A private folder for the candidate's runtime export; a promoted version takes its files."""
    root = registry.models_dir(state_dir)
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".candidate-", dir=root))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _judge_candidate(cfg: Config, model, scratch: Path, judged: list) -> tuple[Figures, str]:
    """The candidate judged exactly as it will run once promoted: through score.runtime."""
    from dunkwatch.inference import candidate_classifier
    from dunkwatch.scoring import cnn_pipeline, scene_memory

    classifier = candidate_classifier(model, cfg.score.runtime, scratch)
    log.info("judging the new model through %s", classifier.runtime)
    return judge_in_service(cfg, cnn_pipeline(cfg, classifier, None, scene_memory(cfg)), judged), classifier.runtime


def _keep(model, path: Path, scratch: Path) -> None:
    """The registry version: the Keras model (to train on and to fall back to) and the export that was judged."""
    from dunkwatch.inference import has_openvino, move_openvino

    model.save(str(path))
    if has_openvino(scratch):
        move_openvino(scratch, path.parent)


def _local_copy(model, size: int, backbone: str):
    """The same weights in a model outside the multi-worker strategy: its predict would otherwise
    gather results from every worker, and only the chief judges."""
    from dunkwatch.learn.model import build_model

    copy = build_model(size, weights=None, train_backbone=True)
    copy.set_weights(model.get_weights())
    return copy


def training_input_size(t, accelerated: bool) -> int:
    """training.input_size on a GPU; on the CPU the smaller of it and training.cpu_input_size, said in the log."""
    size = t.input_size if accelerated else min(t.input_size, t.cpu_input_size)
    if size != t.input_size:
        log.info("no GPU: training at %dx%d (training.cpu_input_size), not %d: ResNet50 at %d trains at a few "
                 "frames/s on a CPU", size, size, t.input_size, t.input_size)
    return size


def _plan(cfg: Config):
    from dunkwatch.learn.distribute import plan_training

    t = cfg.training
    try:
        return plan_training(t.devices, t.precision)
    except (ValueError, RuntimeError) as exc:
        raise TrainingError(f"config key training.devices = {list(t.devices)!r}: {exc}") from None


def backbone_plan(fine_tune: str, have_imagenet: bool) -> tuple[bool, str]:
    """(train the backbone?, how it started, for the version's metadata)."""
    if have_imagenet:
        return fine_tune == "all", "imagenet"
    if fine_tune != "all":
        # A frozen backbone of random weights computes noise features: the head cannot learn from them.
        log.warning("no ImageNet weights: training the whole network, not only the head (training.fine_tune)")
    return True, "random, whole network trained"


def _train_model(t, plan, size: int, x, y, w, verbose, seed: int, imagenet: bool, weights_dir: Path):
    """The fitted model, and how its backbone started ("imagenet" or "random, whole network trained").
    `t` is the training section; ImageNet weights are cached in (or downloaded once into) `weights_dir`."""
    import keras

    from dunkwatch.learn.model import build_model, imagenet_weights

    weights = imagenet_weights(weights_dir) if imagenet else None
    keras.utils.set_random_seed(seed)  # the same labels train the same model, as far as the device allows
    train_backbone, backbone = backbone_plan(t.fine_tune, weights is not None)
    global_batch = plan.global_batch(t.batch_size)
    with plan.scope():
        model = build_model(size, weights=weights, train_backbone=train_backbone)
        compile_for_training(model, t.learning_rate)
    log.info("training on %d frames (%d with a player) at %dx%d, global batch %d, %d epoch(s)",
             len(x), int((y > 0.5).sum()), size, size, global_batch, t.epochs)
    fit(model, x, y, balanced_weights(y, w), global_batch, t.epochs, verbose=verbose, plan=plan, seed=seed)
    if train_backbone:
        recalibrate_batchnorm(model, x, global_batch)
    return model, backbone


@dataclass(frozen=True)
class _ValidationVideo:
    name: str
    path: Path  # the archived original
    corrections: list[Correction]
    predicted: list[tuple[float, float]]  # the segments the service cut when it processed the video


def _predicted(cfg: Config, store, sha256: str) -> list[tuple[float, float]]:
    """The segments the stored scores give with today's segment settings: the pseudo-labels."""
    from dunkwatch.pipeline.segment import find_segments
    from dunkwatch.pipeline.worker import segment_params

    stored = store.load_scores(sha256)
    if stored is None:
        return []
    times, scores, _ = stored
    params = segment_params(cfg.segment, store.scored_by(sha256) or "motion")
    duration = float(times[-1]) + 1.0 / cfg.decode.sample_fps if len(times) else 0.0
    return [(s.start, s.end) for s in find_segments(np.asarray(times, float), np.asarray(scores, float),
                                                    duration, params)]


def _scoring_in_use(cfg: Config, current: str | None):
    """(name, scorer) of what `auto` scores with now: the current model's pipeline, or motion."""
    from dunkwatch.scoring import make_scorer, scene_memory

    memory = scene_memory(cfg)  # read, never written, while judging
    if current is not None:
        try:
            return f"model {current}", make_scorer(cfg, "auto", memory)
        except ModelError as exc:
            log.warning("current model %s cannot be loaded (%s); judging against motion", current, exc)
    return "motion", make_scorer(cfg, "motion", memory)


def judge_in_service(cfg: Config, scorer, videos: list[_ValidationVideo]) -> Figures:
    """Run `scorer` over each validation video as the service would, and score its segments
    against the corrections, or where there are none, the predictions."""
    from dunkwatch.pipeline.worker import analyse

    judged = []
    for v in videos:
        result = analyse(v.path, cfg, scorer)
        duration = result.info.duration
        judged.append(JudgedVideo(v.name, duration, truth_ranges(duration, v.predicted, v.corrections),
                                  tuple((s.start, s.end) for s in result.segments), bool(v.corrections)))
    return figures(judged)


def _config_snapshot(cfg: Config) -> dict:
    return {section: {k: (list(v) if isinstance(v, tuple) else str(v) if isinstance(v, Path) else v)
                      for k, v in asdict(getattr(cfg, section)).items()}
            for section in ("training", "segment", "decode")}


def _record(store, result: TrainResult) -> TrainResult:
    """The outcome goes to the journal, for `dunkwatch status` and the next run's skip check."""
    entry = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "status": result.status, "reason": result.reason,
             "version": result.version, "f1": result.metrics.get("f1") if result.metrics else None,
             "baseline": result.baseline,
             "baseline_f1": result.baseline_metrics.get("f1") if result.baseline_metrics else None,
             "labels_hash": result.labels_hash}
    store.set_meta(LAST_ATTEMPT_KEY, entry)
    log.info("training %s: %s", result.status, result.reason)
    return result
