"""Which scorer scores the next video: motion, or the promoted cnn gated by motion, as `auto` says.

Shared by the service's video child, `dunkwatch process` and the promotion judge, so a candidate
model is judged exactly the way the service would run it.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from dunkwatch.config import MotionConfig, PipelineConfig, ScoreConfig
from dunkwatch.errors import ModelError
from dunkwatch.media import probe
from dunkwatch.models import registry
from dunkwatch.models.court_trust import ScorerPick, trusted_version
from dunkwatch.pipeline.scoring.decode import frames_at
from dunkwatch.pipeline.scoring.empty_scene import same_scene_share
from dunkwatch.pipeline.scoring.motion import MotionScorer
from dunkwatch.pipeline.scoring.person import detector_cache
from dunkwatch.pipeline.scoring.scene_memory import SceneMemory, scenes_dir
from dunkwatch.pipeline.scoring.scorer import Scorer

if TYPE_CHECKING:
    from dunkwatch.models.runtime import Classifier

log = logging.getLogger(__name__)

GATE_JUDGED_OVER_S = 30.0  # the gate's cost and savings are weighed over this much footage: one visit does not flip it


def scene_memory(state_dir: Path, motion: MotionConfig) -> SceneMemory:
    """The service's memory of empty courts, in the state dir: `process` and the judge share it."""
    return SceneMemory(scenes_dir(state_dir), same_scene_share(motion))


def motion_scorer(cfg: PipelineConfig, memory: SceneMemory | None, person_prior: bool = True) -> MotionScorer:
    motion = cfg.motion if person_prior else dataclasses.replace(cfg.motion, person_prior=False)
    return MotionScorer(motion, cfg.decode.sample_fps, memory.scenes if memory else None, detector_cache(cfg.state_dir))


def cnn_pipeline(
    cfg: PipelineConfig, classifier: Classifier, version: str | None, memory: SceneMemory | None
) -> Scorer:
    """A classifier (dunkwatch.models.runtime) as the service runs it: gated by the motion model
    unless the gate is off."""
    from dunkwatch.pipeline.scoring.cnn import CnnScorer
    from dunkwatch.pipeline.scoring.gate import GatedScorer

    cnn = CnnScorer(classifier, version, batch_size(cfg.score, classifier))
    if cfg.score.motion_gate <= 0:
        return cnn
    margin = round(cfg.score.gate_margin * cfg.decode.sample_fps)
    window = round(GATE_JUDGED_OVER_S * cfg.decode.sample_fps)
    # The gate's motion model goes without the person prior: the prior needs frames decoded larger
    # than the cnn's, and the cnn must see frames made exactly as its training frames were.
    return GatedScorer(motion_scorer(cfg, memory, person_prior=False), cnn, cfg.score.motion_gate, margin, window)


def current_model_version(state_dir: Path, choice: str) -> str | None:
    """The promoted version `choice` would use; None for motion. `cnn` without a usable model is
    an error; `auto` then scores with motion, saying why."""
    used = registry.model_in_use(state_dir, choice)
    if used.error is not None:
        if choice == "cnn":
            raise used.error
        log.error("%s; scoring with the motion model instead", used.error)  # auto keeps clips coming
        return None
    if used.version is None and choice == "cnn":
        raise ModelError(
            f"--scorer cnn: no model has been promoted yet in "
            f"{registry.models_dir(state_dir)}; use --scorer motion, "
            "or train one from corrections first"
        )
    return used.version


def court_of_video(path: Path, cfg: PipelineConfig, memory: SceneMemory | None) -> str | None:
    """The remembered court a video's first frame shows (SceneMemory.court_of), None when none."""
    if memory is None:
        return None
    info = probe(path)
    frame = frames_at(path, info, [0.0], cfg.motion.analysis_size)[0]
    return memory.court_of(frame) if frame is not None else None


def pick_scorer(
    cfg: PipelineConfig, choice: str | None, memory: SceneMemory | None, path: Path | None = None
) -> ScorerPick:
    """auto: the promoted model trusted on the video's court (trusted_version), else motion;
    cnn: the promoted model everywhere; motion: motion. Without a path, auto trusts the current model."""
    choice = choice or cfg.score.scorer
    current = current_model_version(cfg.state_dir, choice)
    if choice != "auto" or current is None or path is None:
        return ScorerPick(current)
    return trusted_version(cfg.state_dir, current, lambda: court_of_video(path, cfg, memory))


def make_scorer(cfg: PipelineConfig, choice: str | None = None, memory: SceneMemory | None = None) -> Scorer:
    """The scorer `choice` picks when no video is in sight (auto: the current model, else motion)."""
    return scorer_for(cfg, pick_scorer(cfg, choice, memory).version, memory)


def scorer_for(cfg: PipelineConfig, version: str | None, memory: SceneMemory | None) -> Scorer:
    """A promoted version's pipeline (gated by motion), or motion for None."""
    if version is None:
        return motion_scorer(cfg, memory)
    from dunkwatch.models.runtime import load_classifier

    classifier = load_classifier(registry.version_dir(cfg.state_dir, version), cfg.score.runtime)
    log.info("cnn model %s runs through %s", version, classifier.runtime)
    return cnn_pipeline(cfg, classifier, version, memory)


class ScorerPerVideo:
    """Each video's scorer as pick_scorer picks it for its court; the last one is kept while the
    pick stays the same (a model takes seconds to load; a session's videos share a court)."""

    def __init__(self, cfg: PipelineConfig, choice: str | None, memory: SceneMemory | None) -> None:
        self.cfg, self.choice, self.memory = cfg, choice, memory
        self._scorer: Scorer | None = None
        self._version: str | None = None

    def for_video(self, path: Path) -> Scorer:
        version = pick_scorer(self.cfg, self.choice, self.memory, path).version
        if self._scorer is None or version != self._version:
            self._scorer, self._version = scorer_for(self.cfg, version, self.memory), version
            log.info("scoring with %s%s", self._scorer.kind, f" model {version}" if version else "")
        return self._scorer

    def close(self) -> None:
        self._scorer = None


def batch_size(score: ScoreConfig, classifier: Classifier) -> int:
    """score.gpu_batch_size when Keras runs on a GPU, else score.batch_size."""
    from dunkwatch.models.runtime import gpu_present, keras_sees_gpu

    on_gpu = classifier.runtime == "keras" and gpu_present() and keras_sees_gpu()
    return score.gpu_batch_size if on_gpu else score.batch_size
