"""Whether a training run trains, and on which frames: a pure decision over what the coordinator
read (corrections, stored scores, the model in use, the last run); and, when several workers
train together, how every worker comes to take the chief's decision."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dunkwatch.config import TrainingConfig
from dunkwatch.learn.catalogue import ArchivedVideo
from dunkwatch.learn.corrections import Correction, LabelRules, frame_labels, labels_hash
from dunkwatch.learn.dataset import LabelledVideo, cap_frames, sample_times, split_by_video
from dunkwatch.learn.promotion import Figures
from dunkwatch.zones import as_zones

if TYPE_CHECKING:  # distribute imports Keras: only training itself loads it
    from dunkwatch.learn.distribute import TrainingPlan

log = logging.getLogger(__name__)

StoredScores = tuple[np.ndarray, np.ndarray, str]  # the journal's (times, scores, digest) of one video


class TrainStatus(str, Enum):
    PROMOTED = "promoted"
    KEPT = "kept"  # trained and judged, not better than what is in use
    SKIPPED = "skipped"
    TRAINED = "trained"  # a follower of a multi-worker run: the chief judges

    def __str__(self) -> str:  # the value in logs and f-strings, not ScorerKind.CNN
        return self.value


@dataclass
class TrainResult:
    status: TrainStatus
    reason: str
    version: str | None = None
    metrics: Figures | None = None  # the candidate's pipeline on the validation videos
    baseline_metrics: Figures | None = None  # the scoring in use, on the same videos
    baseline: str | None = None  # "motion" or "model vNNNN"
    labels_hash: str | None = None
    hoop: str | None = None  # the hoop model's outcome, when its training ran or was skipped

    def summary(self) -> str:
        parts = [f"{self.status.value}: {self.reason}"]
        if self.metrics:
            parts.append(
                f"new model:  {self.metrics.line()} on {self.metrics.videos} validation "
                f"video(s), as the service would run it"
            )
        if self.baseline_metrics:
            assert self.baseline is not None  # named whenever its figures are there
            parts.append(f"{self.baseline + ':':11} {self.baseline_metrics.line()} on the same videos")
        if self.hoop:
            parts.append(f"hoop model: {self.hoop}")
        return "\n".join(parts)


@dataclass(frozen=True)
class TrainingRecord:
    """The journal's note of the last run: for `dunkwatch status` and the next run's skip check."""

    when: str
    status: TrainStatus
    reason: str
    version: str | None
    f1: float | None
    baseline: str | None
    baseline_f1: float | None
    labels_hash: str | None
    summary: str | None = None  # the figures beside the baseline's, for a notification

    @classmethod
    def of(cls, result: TrainResult, when: str) -> "TrainingRecord":
        return cls(
            when,
            result.status,
            result.reason,
            result.version,
            result.metrics.f1 if result.metrics else None,
            result.baseline,
            result.baseline_metrics.f1 if result.baseline_metrics else None,
            result.labels_hash,
            result.summary() if result.metrics else None,
        )

    def as_dict(self) -> dict:
        return {
            "when": self.when,
            "status": self.status.value,
            "reason": self.reason,
            "version": self.version,
            "f1": self.f1,
            "baseline": self.baseline,
            "baseline_f1": self.baseline_f1,
            "labels_hash": self.labels_hash,
            "summary": self.summary,
        }

    @classmethod
    def from_dict(cls, data: dict | None) -> "TrainingRecord | None":
        if data is None:
            return None  # none yet
        try:
            return cls(
                data["when"],
                TrainStatus(data["status"]),
                data["reason"],
                data.get("version"),
                data.get("f1"),
                data.get("baseline"),
                data.get("baseline_f1"),
                data.get("labels_hash"),
                data.get("summary"),
            )
        except (KeyError, TypeError, ValueError):
            return None  # none yet, or written by a dunkwatch that recorded less


@dataclass(frozen=True)
class TrainingInputs:
    """What the coordinator read for one run's decision."""

    corrections: list[Correction]
    videos: list[ArchivedVideo]
    scores: dict[str, StoredScores | None]  # sha256 -> the stored scores, the pseudo-labels
    current: str | None  # the model in use
    current_labels_hash: str | None  # the labels it was trained on
    last: TrainingRecord | None


@dataclass
class TrainingDecision:
    """What one training run does: skip (and why), or train on which frames with which settings.
    When several workers train together, the chief's decision is everyone's."""

    skip: TrainResult | None = None
    labels_hash: str = ""
    train: list[LabelledVideo] = field(default_factory=list)  # capped to training.max_frames
    validation: list[LabelledVideo] = field(default_factory=list)  # judged by the chief only
    corrections: dict[str, list[Correction]] = field(default_factory=dict)  # sha256 -> rows, for the judge
    input_size: int = 0
    imagenet: bool = False  # the chief starts the backbone from ImageNet weights
    precision: str = ""  # the chief's dtype policy
    settings: dict = field(default_factory=dict)  # the training.* values every worker uses

    def portable(self) -> bytes:
        """What a follower needs, as JSON: the frames to train on and how; not the judging."""
        videos = [
            {
                "sha256": v.sha256,
                "name": v.name,
                "times": v.times.tolist(),
                "labels": v.labels.tolist(),
                "weights": v.weights.tolist(),
                "zones": v.zones,
            }
            for v in self.train
        ]
        skip = (
            {"status": self.skip.status.value, "reason": self.skip.reason, "labels_hash": self.skip.labels_hash}
            if self.skip
            else None
        )
        return json.dumps(
            {
                "skip": skip,
                "labels_hash": self.labels_hash,
                "train": videos,
                "input_size": self.input_size,
                "imagenet": self.imagenet,
                "precision": self.precision,
                "settings": self.settings,
            }
        ).encode()

    @classmethod
    def follow(cls, payload: bytes, locations: dict[str, Path]) -> tuple["TrainingDecision", list[str]]:
        """The chief's decision with this worker's own copies of the videos; and the names it lacks."""
        data = json.loads(payload.decode())
        if data["skip"]:
            skip = data["skip"]
            return cls(
                skip=TrainResult(TrainStatus(skip["status"]), skip["reason"], labels_hash=skip["labels_hash"])
            ), []
        videos, missing = [], []
        for v in data["train"]:
            if v["sha256"] not in locations:
                missing.append(v["name"])
                continue
            videos.append(
                LabelledVideo(
                    v["sha256"],
                    v["name"],
                    locations[v["sha256"]],
                    np.asarray(v["times"]),
                    np.asarray(v["labels"]),
                    np.asarray(v["weights"]),
                    zones=as_zones(v.get("zones") or ()),
                )
            )
        return cls(
            labels_hash=data["labels_hash"],
            train=videos,
            input_size=data["input_size"],
            imagenet=data["imagenet"],
            precision=data["precision"],
            settings=data["settings"],
        ), missing


FOLLOWED_SETTINGS = ("epochs", "batch_size", "learning_rate", "fine_tune", "sample_fps")


def label_rules(t: TrainingConfig) -> LabelRules:
    return LabelRules(t.confident_low, t.confident_high, t.correction_weight)


MIN_FRAMES_PER_VIDEO = 10  # a video that gives fewer frames than this teaches little of itself


def within_frame_cap(videos: list[LabelledVideo], most: int) -> list[LabelledVideo]:
    """At most `most` training videos (each gives MIN_FRAMES_PER_VIDEO or more frames, so the frames
    stay within training.max_frames): every corrected video, then the uncorrected ones in the
    split's stable order, and one with a player among them. Only a large archive reaches the cap."""
    if len(videos) <= most:
        return videos
    keep = {id(v) for v in videos if v.corrected}
    for v in videos:
        if len(keep) >= most:
            break
        keep.add(id(v))
    if not any(v.positives for v in videos if id(v) in keep):
        keep.add(id(next(v for v in videos if v.positives)))  # split_by_video left training one
    return [v for v in videos if id(v) in keep]


def training_fingerprint(t: TrainingConfig) -> dict:
    """The settings that change what a run would train: a change trains again with the same labels."""
    return {
        "input_size": t.input_size,
        "sample_fps": t.sample_fps,
        "fine_tune": t.fine_tune,
        "imagenet": t.imagenet,
        "epochs": t.epochs,
        "max_frames": t.max_frames,
        "validation_share": t.validation_share,
        "max_validation_videos": t.max_validation_videos,
        "cpu_input_size": t.cpu_input_size,
    }


def _skip(reason: str, lhash: str) -> TrainingDecision:
    return TrainingDecision(TrainResult(TrainStatus.SKIPPED, reason, labels_hash=lhash))


def decide(inputs: TrainingInputs, t: TrainingConfig, force: bool) -> TrainingDecision:
    """Skip, or which frames to train on: from the corrections, the stored scores and the last run."""
    rules = label_rules(t)
    digests = {sha: s[2] for sha, s in inputs.scores.items() if s is not None}
    lhash = labels_hash(inputs.corrections, digests, rules, extra=training_fingerprint(t))
    if not force:
        if inputs.current and inputs.current_labels_hash == lhash:
            return _skip(f"labels unchanged since model {inputs.current}", lhash)
        last = inputs.last
        if last and last.labels_hash == lhash and last.status in (TrainStatus.KEPT, TrainStatus.SKIPPED):
            return _skip("labels unchanged since the last training run", lhash)
    by_sha: dict[str, list[Correction]] = {}
    for r in inputs.corrections:
        by_sha.setdefault(r.sha256, []).append(r)
    videos = []
    for archived in inputs.videos:
        k = archived.known
        times = sample_times(k.duration, t.sample_fps)
        s = inputs.scores.get(k.sha256)
        labels, weights = frame_labels(times, by_sha.get(k.sha256, []), s[0] if s else None, s[1] if s else None, rules)
        keep = weights > 0
        if keep.any():
            videos.append(
                LabelledVideo(
                    k.sha256,
                    k.name,
                    archived.location,
                    times[keep],
                    labels[keep],
                    weights[keep],
                    corrected=k.sha256 in by_sha,
                    zones=archived.zones,
                )
            )
    with_player = [v for v in videos if v.positives]
    if len(videos) < 2 or len(with_player) < 2:
        return _skip(
            f"need at least two labelled videos with a player in view (have {len(with_player)} "
            f"of {len(videos)} labelled); process more videos or add corrections",
            lhash,
        )
    train_videos, val_videos = split_by_video(videos, t.validation_share, t.max_validation_videos)
    if not any(v.corrected for v in val_videos):
        # Uncorrected labels are the scoring in use's own predictions: no model can beat it on them.
        return _skip(
            "no corrections to learn from and judge by: the labels are the current scoring's own "
            "predictions, which no new model can beat; correct what it gets wrong in at least two "
            "videos (see outbox/predictions.csv)",
            lhash,
        )
    rng = np.random.default_rng(int(lhash[:8], 16))
    per_video = max(MIN_FRAMES_PER_VIDEO, t.max_frames // max(1, len(videos)))
    return TrainingDecision(
        None,
        lhash,
        [cap_frames(v, per_video, rng) for v in within_frame_cap(train_videos, t.max_frames // per_video)],
        val_videos,
        by_sha,
        settings={k: getattr(t, k) for k in FOLLOWED_SETTINGS},
    )


def agree_with_chief(
    t: TrainingConfig, weights_dir: Path, plan: TrainingPlan, decision: TrainingDecision, known: list[ArchivedVideo]
) -> TrainingDecision:
    """Multi-worker training: every worker takes the chief's decision, or all skip together.

    Each worker reads its own corrections and journal; had each decided for itself, one skipping
    while another trains would hang the collectives for good."""
    from dunkwatch.learn.distribute import all_workers_can, broadcast_from_chief
    from dunkwatch.learn.fit import training_input_size
    from dunkwatch.models.resnet import IMAGENET_NOTOP_NAME, imagenet_weights

    if plan.is_chief and decision.skip is None:
        decision.input_size = training_input_size(t, plan.accelerated)
        decision.imagenet = t.imagenet and imagenet_weights(weights_dir) is not None
        decision.precision = plan.precision
    payload = broadcast_from_chief(plan, decision.portable())
    if plan.is_chief:
        chosen, problem = decision, ""
    else:
        chosen, missing = TrainingDecision.follow(payload, {a.known.sha256: a.location for a in known})
        problem = (
            f"this worker lacks {len(missing)} of the chief's videos ({', '.join(missing[:3])})" if missing else ""
        )
        weights = weights_dir / IMAGENET_NOTOP_NAME
        if not problem and chosen.imagenet and not weights.is_file():
            problem = f"the chief starts from ImageNet weights and this worker has none in {weights.parent}"
        if problem:
            log.error("multi-worker training: %s", problem)
    if not all_workers_can(plan, not problem):
        return _skip(
            problem or "a worker cannot follow this run's data (see that worker's log); nothing trained",
            chosen.labels_hash,
        )
    if chosen.precision and chosen.precision != plan.precision:
        import keras

        keras.mixed_precision.set_dtype_policy(chosen.precision)  # the same dtypes in every collective
        plan.precision = chosen.precision
    return chosen
