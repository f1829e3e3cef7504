"""Judging a candidate exactly as the service would run it: the same pipeline (decode, gate,
score, segment) over the validation videos, against the scoring in use on the same videos."""

from __future__ import annotations

import logging
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from dunkwatch.config import PipelineConfig
from dunkwatch.errors import ModelError
from dunkwatch.learn.corrections import Correction
from dunkwatch.learn.promotion import Figures, JudgedVideo, figures, truth_ranges
from dunkwatch.models import registry
from dunkwatch.outputs import ScorerKind
from dunkwatch.pipeline.process import analyse, segment_params
from dunkwatch.pipeline.scoring.scorer import Scorer
from dunkwatch.pipeline.scoring.scorer_choice import (
    ScorerPerVideo,
    cnn_pipeline,
    court_of_video,
    scene_memory,
    scorer_for,
)
from dunkwatch.pipeline.scoring.segment import find_segments
from dunkwatch.store import Store
from dunkwatch.zones import Zones

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ValidationVideo:
    name: str
    path: Path  # the archived original
    corrections: list[Correction]
    predicted: list[tuple[float, float]]  # the segments the service cut when it processed the video
    zones: Zones = ()  # greyed out, as when the service scored it


def predicted(cfg: PipelineConfig, store: Store, sha256: str) -> list[tuple[float, float]]:
    """The segments the stored scores give with today's segment settings: the pseudo-labels."""
    stored = store.load_scores(sha256)
    if stored is None:
        return []
    times, scores, _ = stored
    params = segment_params(cfg.segment, store.scored_by(sha256) or ScorerKind.MOTION)
    duration = float(times[-1]) + 1.0 / cfg.decode.sample_fps if len(times) else 0.0
    return [
        (s.start, s.end) for s in find_segments(np.asarray(times, float), np.asarray(scores, float), duration, params)
    ]


class ScoringInUse:
    """What `auto` scores each validation video with now, court by court (trust per court): the
    baseline a candidate must beat on every video."""

    def __init__(self, cfg: PipelineConfig) -> None:
        self.memory = scene_memory(cfg.state_dir, cfg.motion)  # read, never written, while judging
        self.cfg = cfg
        self._scorers = ScorerPerVideo(cfg, "auto", self.memory)
        self._motion: Scorer | None = None
        self.used: list[str] = []  # "model vNNNN" or "motion", in the order first used

    def __call__(self, path: Path) -> Scorer:
        try:
            scorer = self._scorers.for_video(path)
        except ModelError as exc:
            log.warning("the model in use cannot be loaded (%s); judging against motion", exc)
            scorer = self._motion = self._motion or scorer_for(self.cfg, None, self.memory)
        name = f"model {scorer.model_version}" if scorer.model_version else "motion"
        if name not in self.used:
            self.used.append(name)
        return scorer

    @property
    def name(self) -> str:
        return " / ".join(self.used) or "motion"


def judged_courts(cfg: PipelineConfig, videos: list[ValidationVideo]) -> list[str | None]:
    """The courts (SceneMemory.court_of; None: none) of the validation videos, one each, sorted:
    where a promoted candidate is trusted."""
    memory = scene_memory(cfg.state_dir, cfg.motion)
    return sorted({court_of_video(v.path, cfg, memory) for v in videos}, key=lambda c: (c is not None, c or ""))


def judge_in_service(cfg: PipelineConfig, scorers: Callable[[Path], Scorer], videos: list[ValidationVideo]) -> Figures:
    """Run each video's scorer over it as the service would, and score its segments against the
    corrections, or where there are none, the predictions."""
    judged = []
    for v in videos:
        result = analyse(v.path, cfg, scorers(v.path), zones=v.zones)
        duration = result.info.duration
        judged.append(
            JudgedVideo(
                v.name,
                duration,
                truth_ranges(duration, v.predicted, v.corrections),
                tuple((s.start, s.end) for s in result.segments),
                bool(v.corrections),
                tuple((s.clip_start, s.clip_end) for s in result.segments),
            )
        )
    return figures(judged)


def judge_candidate(
    cfg: PipelineConfig,
    model: Any,  # a keras.Model: untyped
    scratch: Path,
    videos: list[ValidationVideo],
) -> tuple[Figures, str]:
    """The candidate judged exactly as it will run once promoted: through score.runtime."""
    from dunkwatch.models.runtime import candidate_classifier

    classifier = candidate_classifier(model, cfg.score.runtime, scratch)
    log.info("judging the new model through %s", classifier.runtime)
    pipeline = cnn_pipeline(cfg, classifier, None, scene_memory(cfg.state_dir, cfg.motion))
    return judge_in_service(cfg, lambda _path: pipeline, videos), classifier.runtime


@contextmanager
def candidate_folder(state_dir: Path) -> Iterator[Path]:
    """A private folder for the candidate's runtime export; a promoted version takes its files."""
    root = registry.models_dir(state_dir)
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".candidate-", dir=root))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def keep_version(model: Any, path: Path, scratch: Path) -> None:  # a keras.Model: untyped
    """The registry version: the Keras model (to train on and to fall back to) and the export that was judged."""
    from dunkwatch.models.runtime import has_openvino, move_openvino

    model.save(str(path))
    if has_openvino(scratch):
        move_openvino(scratch, path.parent)
