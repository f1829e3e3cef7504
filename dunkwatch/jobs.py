"""The job runner: one worker thread takes queued videos one at a time, processes each, records
the outcome and hands the original to `Originals`. A newly promoted model is picked up between
videos, never in the middle of one."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from dunkwatch.config import Config
from dunkwatch.errors import DunkwatchError, ExportError, ModelError
from dunkwatch.fsutil import atomic_write_text
from dunkwatch.learn import registry
from dunkwatch.originals import Originals, one_line
from dunkwatch.pipeline.ingest import listed_name
from dunkwatch.pipeline.score import Scorer
from dunkwatch.pipeline.worker import process_video
from dunkwatch.scene_memory import SceneMemory
from dunkwatch.scoring import make_scorer
from dunkwatch.store import State, Store, Video

log = logging.getLogger(__name__)

PREDICTIONS_CSV = "predictions.csv"

def update_predictions_csv(csv_path: Path, video: str, sidecar: dict) -> None:
    """Replace this video's rows in outbox/predictions.csv: rows in the corrections format to copy."""
    import csv
    import io

    from dunkwatch.learn.corrections import prediction_rows, render_csv

    kept: list[list[str]] = []
    if csv_path.exists():
        reader = csv.reader(io.StringIO(csv_path.read_text(encoding="utf-8"), newline=""))
        kept = [row for i, row in enumerate(reader) if i > 0 and row and row[0] != video]
    note = f"predicted by {sidecar.get('scorer')}" + (f" {sidecar['model']}" if sidecar.get("model") else "")
    segments = [(s["start"], s["end"]) for s in sidecar.get("segments", [])]
    kept += prediction_rows(video, segments, float(sidecar.get("duration") or 0.0), note)
    atomic_write_text(csv_path, render_csv(kept))


class Cancelled(Exception):
    """The service is stopping: the current video is put back to be redone cleanly."""


_TRANSIENT_FFMPEG = ("No space left on device", "Disk quota exceeded", "Input/output error",
                     "Cannot allocate memory")


def is_transient(exc: BaseException) -> bool:
    """Errors worth a retry later (disk full, I/O, memory); a bad video is never retried."""
    if isinstance(exc, (OSError, MemoryError)):
        return True
    if isinstance(exc, ExportError):
        return any(marker in str(exc) for marker in _TRANSIENT_FFMPEG)
    if isinstance(exc, DunkwatchError):
        return False
    return True  # an unexpected bug: bounded retries, then the quarantine says what happened


ProcessFn = Callable[..., object]  # process_video, or a stand-in in tests


class JobRunner:
    def __init__(self, cfg: Config, store: Store, originals: Originals, memory: SceneMemory,
                 scorer_choice: str | None, stopping: threading.Event, process: ProcessFn = process_video):
        self.cfg, self.paths, self.store, self.originals = cfg, cfg.paths, store, originals
        self.memory, self.scorer_choice, self.stopping, self.process = memory, scorer_choice, stopping, process
        self.work = threading.Event()  # set when a video is queued, or to stop
        self.error: BaseException | None = None  # a bug that stopped the loop
        self._scorer: Scorer | None = None
        self._scorer_key: object = object()

    def loop(self) -> None:
        try:
            while not self.stopping.is_set():
                job = self.store.next_job()
                if job is None:
                    wait = self.store.seconds_to_next_job()
                    self.work.wait(timeout=min(wait if wait is not None else 5.0, 5.0))
                    self.work.clear()
                    continue
                self._run_job(job)
        except BaseException as exc:  # a bug in the loop itself: let systemd restart the service
            self.error = exc
            log.exception("worker stopped")

    def _current_scorer(self) -> Scorer:
        """The scorer for the next video; a newly promoted model is picked up here, between videos."""
        choice = self.scorer_choice or self.cfg.score.scorer
        key: object = "motion"
        if choice != "motion":
            try:
                key = registry.current_version(self.paths.state_dir)
            except ModelError:
                key = "broken"
        if self._scorer is None or key != self._scorer_key:
            self._scorer = make_scorer(self.cfg, self.scorer_choice, self.memory)
            self._scorer_key = key
            log.info("scoring with %s%s", self._scorer.name,
                     f" model {self._scorer.model_version}" if self._scorer.model_version else "")
        return self._scorer

    def _run_job(self, job: Video) -> None:
        if not job.path.exists():
            log.warning("%s: left the inbox before it was processed; forgetting it", job.path)
            self.store.drop(job.id)
            return
        original = self.store.done_with_hash(job.sha256) if job.sha256 else None
        if original is not None and original.id != job.id:
            log.info("%s: same content as %s (already processed); archived without new clips",
                     job.name, original.name)
            self.store.finish(job.id, State.DONE, outputs=original.outputs, duplicate_of=original.id)
            self.originals.move(self.store.get(job.id))
            return

        def progress(_fraction: float) -> None:
            if self.stopping.is_set():
                raise Cancelled()

        rel_parent = self.originals.relative_parent(job.path)
        try:
            scorer = self._current_scorer()
            result = self.process(job.path, self.cfg, scorer, self.paths.outbox / rel_parent, progress=progress,
                                  memory=self.memory, sha256=job.sha256)
        except Cancelled:
            self.store.requeue(job.id, 0.0, None, count_attempt=False)
            return
        except Exception as exc:
            self._handle_failure(job, exc)
            return
        sidecar = result.sidecar
        self.store.save_scores(job.sha256, scorer.name, scorer.model_version, result.times, result.scores)
        outputs = {"outbox": str(result.out_dir),
                   "segments": len(sidecar.get("segments", [])), "clips": sidecar.get("clips", []),
                   "highlights": sidecar.get("highlights"), "scorer": sidecar.get("scorer"),
                   "model": sidecar.get("model"), "duration": sidecar.get("duration")}
        try:
            update_predictions_csv(self.paths.outbox / PREDICTIONS_CSV,
                                   listed_name(job.path, result.out_dir, self.paths.outbox), sidecar)
        except OSError as exc:  # a convenience file: never fail a processed video over it
            log.warning("%s: cannot update %s: %s", job.name, PREDICTIONS_CSV, exc)
        self.store.finish(job.id, State.DONE, outputs=outputs)
        self.originals.move(self.store.get(job.id))

    def _handle_failure(self, job: Video, exc: Exception) -> None:
        message = one_line(str(exc) or type(exc).__name__)
        if not is_transient(exc):
            log.error("%s -> quarantine: %s", job.name, message)
            self.originals.fail(job, message)
            return
        log.debug("details", exc_info=True)
        if job.attempts >= self.cfg.daemon.max_attempts:
            reason = f"{job.path}: gave up after {job.attempts} tries: {type(exc).__name__}: {message}"
            log.error("%s -> quarantine: %s", job.name, reason)
            self.originals.fail(job, reason)
            return
        delay = self.cfg.daemon.retry_seconds * 2 ** (job.attempts - 1)
        log.warning("%s: %s: %s; try %d of %d in %.0f s", job.name, type(exc).__name__, message,
                    job.attempts + 1, self.cfg.daemon.max_attempts, delay)
        self.store.requeue(job.id, delay, f"{type(exc).__name__}: {message}")
