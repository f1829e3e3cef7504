"""Composition root: picks the scorer, wires the pipeline, and runs the inbox.

Until the daemon lands, `run` processes what is already in the inbox once: each video's outputs
go to the outbox, then the original moves to the archive (or, on failure, to the quarantine with
a one-line reason), never deleted or modified.
"""

from __future__ import annotations

import logging
from pathlib import Path

from dunkwatch.config import Config
from dunkwatch.errors import DunkwatchError, ModelError
from dunkwatch.fsutil import atomic_write_text, move_without_overwrite
from dunkwatch.learn import registry
from dunkwatch.pipeline.motion import MotionScorer
from dunkwatch.pipeline.score import Scorer
from dunkwatch.pipeline.worker import Progress, process_video

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v")


def make_scorer(cfg: Config, choice: str | None = None) -> Scorer:
    """auto: the promoted cnn model when there is one, else the motion model."""
    choice = choice or cfg.score.scorer
    if choice == "motion":
        return MotionScorer(cfg.motion, cfg.decode.sample_fps)
    try:
        version = registry.current_version(cfg.paths.state_dir)
    except ModelError as exc:
        if choice == "cnn":
            raise
        log.error("%s; scoring with the motion model instead", exc)  # auto keeps clips coming
        version = None
    if version is None:
        if choice == "cnn":
            raise ModelError(f"--scorer cnn: no model has been promoted yet in "
                             f"{registry.models_dir(cfg.paths.state_dir)}; use --scorer motion, "
                             "or train one from corrections first")
        return MotionScorer(cfg.motion, cfg.decode.sample_fps)
    from dunkwatch.pipeline.score import CnnScorer  # loads Keras only when a model is used

    return CnnScorer(registry.model_path(cfg.paths.state_dir, version), version, cfg.score.batch_size)


def inbox_videos(inbox: Path) -> list[Path]:
    """Videos in the inbox, oldest first; dot files are sync clients' temporary files."""
    if not inbox.is_dir():
        return []
    found = [p for p in inbox.rglob("*")
             if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS
             and not any(part.startswith(".") for part in p.relative_to(inbox).parts)]
    return sorted(found, key=lambda p: (p.stat().st_mtime, str(p)))


def quarantine(path: Path, quarantine_dir: Path, reason: str) -> Path:
    moved = move_without_overwrite(path, quarantine_dir)
    atomic_write_text(moved.with_name(moved.name + ".error.txt"), reason.strip().replace("\n", " ") + "\n")
    return moved


def run_once(cfg: Config, scorer_choice: str | None = None, progress: Progress | None = None) -> tuple[int, int]:
    """Process every video already in the inbox; returns (done, failed)."""
    paths = cfg.paths
    for folder in (paths.inbox, paths.outbox, paths.archive, paths.quarantine, paths.state_dir):
        folder.mkdir(parents=True, exist_ok=True)
    videos = inbox_videos(paths.inbox)
    if not videos:
        log.info("inbox %s: no videos to process", paths.inbox)
        return 0, 0
    scorer = make_scorer(cfg, scorer_choice)
    done = failed = 0
    for video in videos:
        try:
            process_video(video, cfg, scorer, paths.outbox, progress=progress)
        except DunkwatchError as exc:
            failed += 1
            moved = quarantine(video, paths.quarantine, str(exc))
            log.error("%s -> quarantine (%s): %s", video.name, moved, exc)
            continue
        done += 1
        moved = move_without_overwrite(video, paths.archive)
        log.info("%s -> archive (%s)", video.name, moved)
    return done, failed
