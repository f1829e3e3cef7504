"""Retraining, as a short coordinator: read (catalogue, corrections, stored scores) -> decide
(decision.py, pure) -> fit on every device (fit.py, distribute.py) -> judge as the service runs
it (judge.py, promotion.py) -> promote or keep (the model registry) -> record the outcome."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dunkwatch.config import DecodeConfig, LearnConfig, SegmentConfig, TrainingConfig
from dunkwatch.errors import DunkwatchError
from dunkwatch.learn.catalogue import ArchivedVideo, catalogue, read_corrections
from dunkwatch.learn.decision import (
    TrainingDecision,
    TrainingInputs,
    TrainingRecord,
    TrainResult,
    TrainStatus,
    agree_with_chief,
    decide,
)
from dunkwatch.learn.hoop_learning import HoopStatus, HoopTrainResult, train_hoop_model
from dunkwatch.learn.judge import (
    ScoringInUse,
    ValidationVideo,
    candidate_folder,
    judge_candidate,
    judge_in_service,
    judged_courts,
    keep_version,
    predicted,
)
from dunkwatch.learn.promotion import decide as promotion_decision
from dunkwatch.learn.run_lock import LOCK_NAME, one_run_at_a_time
from dunkwatch.models import registry
from dunkwatch.models.court_trust import courts_in_use
from dunkwatch.store import LAST_TRAINING_KEY, Store

if TYPE_CHECKING:  # distribute imports Keras: only training itself loads it
    from dunkwatch.learn.distribute import TrainingPlan

log = logging.getLogger(__name__)


class TrainingError(DunkwatchError):
    """Training could not run (no data, bad devices); the current model stays."""


def run_training(cfg: LearnConfig, force: bool = False, verbose: int | str = 0) -> TrainResult:
    """The scheduled job and `dunkwatch train`: skip, or train, judge and maybe promote."""
    with one_run_at_a_time(cfg.paths.state_dir) as alone:
        if not alone:
            result = TrainResult(
                TrainStatus.SKIPPED,
                f"another training run is in progress ({cfg.paths.state_dir / LOCK_NAME}); this one does nothing",
            )
            log.info("training %s: %s", result.status.value, result.reason)
            return result
        store = Store(cfg.paths.state_dir)
        try:
            failed: TrainingError | None = None
            try:
                result = _record(store, _run(cfg, store, force, verbose))
            except TrainingError as exc:  # no presence data: the hoop model may still have shots to learn
                result, failed = TrainResult(TrainStatus.SKIPPED, str(exc)), exc
            hoop = _train_hoop(cfg, store, force, verbose)
            result.hoop = hoop.line()
            if failed is not None and hoop.status not in (HoopStatus.PROMOTED, HoopStatus.KEPT):
                raise failed
            return result
        finally:
            store.close()


def _train_hoop(cfg: LearnConfig, store: Store, force: bool, verbose: int | str) -> HoopTrainResult:
    """The hoop model's turn, after the presence model's; its failure never spoils the run."""
    if os.environ.get("TF_CONFIG"):
        return HoopTrainResult(HoopStatus.SKIPPED, "trained on one machine only (not with several workers)")
    try:
        known = [a.known for a in catalogue(cfg.paths, store)]
        return train_hoop_model(cfg, store, known, lambda: training_plan(cfg.training), force, verbose)
    except Exception as exc:  # logged with its traceback; the presence model's outcome stands
        log.warning("hoop model: training failed: %s", exc, exc_info=log.isEnabledFor(logging.DEBUG))
        return HoopTrainResult(HoopStatus.FAILED, str(exc))


def _inputs(cfg: LearnConfig, store: Store, known: list[ArchivedVideo]) -> TrainingInputs:
    rows, errors = read_corrections(cfg.paths.corrections, [a.known for a in known])
    for error in errors:
        log.warning("%s: %s", cfg.paths.corrections, error)
    current = registry.current_version(cfg.paths.state_dir)
    meta = registry.metrics(cfg.paths.state_dir, current) if current else {}
    return TrainingInputs(
        rows,
        known,
        {a.known.sha256: store.load_scores(a.known.sha256) for a in known},
        current,
        meta.get("labels_hash"),
        TrainingRecord.from_dict(store.get_meta(LAST_TRAINING_KEY)),
    )


def _run(cfg: LearnConfig, store: Store, force: bool, verbose: int | str) -> TrainResult:
    from dunkwatch.learn.dataset import FrameCache, assemble
    from dunkwatch.learn.fit import local_copy, train_model, training_input_size

    state_dir = cfg.paths.state_dir
    known = catalogue(cfg.paths, store)
    decision = decide(_inputs(cfg, store, known), cfg.training, force)
    plan = None
    if os.environ.get("TF_CONFIG"):
        plan = training_plan(cfg.training)  # every worker joins before anything may end the run
        decision = agree_with_chief(cfg.training, state_dir / "weights", plan, decision, known)
    if decision.skip is not None:
        return decision.skip
    plan = plan or training_plan(cfg.training)
    t = replace(cfg.training, **decision.settings)
    size = decision.input_size or training_input_size(t, plan.accelerated)
    cache = FrameCache(state_dir / "dataset", size, t.sample_fps)
    log.info(
        "extracting frames: %d training video(s)%s",
        len(decision.train),
        f"; validating on {len(decision.validation)}: " + ", ".join(v.name for v in decision.validation)
        if decision.validation
        else "",
    )
    x_train, y_train, w_train, _, _ = assemble(decision.train, cache)
    started = time.monotonic()
    model, backbone = train_model(
        t,
        plan,
        size,
        x_train,
        y_train,
        w_train,
        verbose,
        seed=int(decision.labels_hash[:8], 16),
        imagenet=(decision.imagenet if plan.multi_worker else t.imagenet),
        weights_dir=state_dir / "weights",
    )
    facts = {
        "train_frames": int(len(x_train)),
        "train_seconds": round(time.monotonic() - started, 1),
        "trained_on": plan.description,
        "precision": plan.precision,
        "replicas": plan.replicas,
        "input_size": size,
        "backbone": backbone,
    }
    if not plan.is_chief:
        return TrainResult(
            TrainStatus.TRAINED,
            f"a worker of {plan.description}: the chief judges the model and promotes it or not",
            labels_hash=decision.labels_hash,
        )
    if plan.multi_worker:
        model = local_copy(model, size, backbone)  # judging must not wait on the other workers
    return _judge_and_promote(cfg, store, decision, model, facts)


def _judge_and_promote(
    cfg: LearnConfig,
    store: Store,
    decision: TrainingDecision,
    model: Any,  # a keras.Model: untyped
    facts: dict,
) -> TrainResult:
    state_dir, pipeline = cfg.paths.state_dir, cfg.pipeline
    current = registry.current_version(state_dir)
    judged = [
        ValidationVideo(
            v.name, v.path, decision.corrections.get(v.sha256, []), predicted(pipeline, store, v.sha256), v.zones
        )
        for v in decision.validation
    ]
    in_use = ScoringInUse(pipeline)
    baseline = judge_in_service(pipeline, in_use, judged)
    baseline_name = in_use.name
    with candidate_folder(state_dir) as scratch:
        candidate, runtime = judge_candidate(pipeline, model, scratch, judged)
        promote, reason = promotion_decision(candidate, baseline, baseline_name, any(v.corrections for v in judged))
        log.info("new model:  %s", candidate.line())
        log.info("%-11s %s", baseline_name + ":", baseline.line())
        result = TrainResult(
            TrainStatus.PROMOTED if promote else TrainStatus.KEPT,
            reason,
            None,
            candidate,
            baseline,
            baseline_name,
            decision.labels_hash,
        )
        if promote:
            meta = {
                "metrics": {
                    **candidate.as_dict(),
                    "train_frames": facts.pop("train_frames"),
                    "train_seconds": facts.pop("train_seconds"),
                },
                "labels_hash": decision.labels_hash,
                "f1": candidate.f1,
                "runtime": runtime,
                "baseline": {"name": baseline_name, "metrics": baseline.as_dict()},
                "config": _config_snapshot(cfg),
                **facts,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "previous": current,
                "train_videos": [v.name for v in decision.train],
                "validation_videos": [v.name for v in decision.validation],
                "courts": judged_courts(pipeline, judged),
            }  # trusted there only
            version = registry.add_version(state_dir, lambda p: keep_version(model, p, scratch), meta)
            registry.set_current(state_dir, version)
            trusted = {c.version for c in courts_in_use(state_dir, version, in_use.memory.keys()) if c.version}
            registry.prune(state_dir, cfg.training.keep_versions, also_keep=trusted)  # courts keep their scorer
            result.version = version
    return result


def training_plan(t: TrainingConfig) -> TrainingPlan:
    from dunkwatch.learn.distribute import plan_training

    try:
        return plan_training(t.devices, t.precision)
    except (ValueError, RuntimeError) as exc:
        raise TrainingError(f"config key training.devices = {list(t.devices)!r}: {exc}") from None


def _config_snapshot(cfg: LearnConfig) -> dict:
    sections: dict[str, TrainingConfig | SegmentConfig | DecodeConfig] = {
        "training": cfg.training,
        "segment": cfg.pipeline.segment,
        "decode": cfg.pipeline.decode,
    }
    return {
        name: {
            k: (list(v) if isinstance(v, tuple) else str(v) if isinstance(v, Path) else v)
            for k, v in asdict(section).items()
        }
        for name, section in sections.items()
    }


def _record(store: Store, result: TrainResult) -> TrainResult:
    """The outcome goes to the journal, for `dunkwatch status` and the next run's skip check."""
    store.set_meta(LAST_TRAINING_KEY, TrainingRecord.of(result, time.strftime("%Y-%m-%dT%H:%M:%S%z")).as_dict())
    log.info("training %s: %s", result.status.value, result.reason)
    return result
