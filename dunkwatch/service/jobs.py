"""The job runner: one thread takes queued videos one at a time, processes each, records
the outcome and hands the original to `Originals`. A newly promoted model is picked up between
videos, never in the middle of one."""

from __future__ import annotations

import errno
import logging
import threading
import time
from dataclasses import asdict
from pathlib import Path

from dunkwatch.config import Config
from dunkwatch.disk_space import OutOfSpace, WaitingForSpace, check_before_start
from dunkwatch.errors import DunkwatchError, ExportError, one_line
from dunkwatch.fsutil import atomic_target
from dunkwatch.learn.catalogue import listed_name
from dunkwatch.outputs import Sidecar, VideoOutputs
from dunkwatch.pipeline.cancel import Cancelled
from dunkwatch.pipeline.cutting.editor_timelines import after_processing
from dunkwatch.service.heap import give_back_freed_memory
from dunkwatch.service.notifier import Notifier
from dunkwatch.service.originals import Originals
from dunkwatch.service.retention import ArchiveRetention
from dunkwatch.service.session_child import refresh_in_child
from dunkwatch.service.video_child import VideoRunner
from dunkwatch.store import SPACE_KEY, State, Store, Video

log = logging.getLogger(__name__)

PREDICTIONS_CSV = "predictions.csv"


def update_predictions_csv(csv_path: Path, video: str, sidecar: Sidecar) -> None:
    """Replace this video's rows in outbox/predictions.csv: rows in the corrections format to copy.
    Row by row from the old file to the new: the file grows with every video ever processed, and a
    whole copy in memory would raise the service's high-water mark with it, video after video."""
    import csv
    import itertools

    from dunkwatch.learn.corrections import prediction_rows, write_csv

    note = f"predicted by {sidecar.scorer.value}" + (f" {sidecar.model}" if sidecar.model else "")
    new_rows = prediction_rows(video, sidecar.spans(), sidecar.duration, note)
    with atomic_target(csv_path) as tmp, tmp.open("w", encoding="utf-8", newline="") as out:
        try:
            with csv_path.open(encoding="utf-8", newline="") as old:
                kept = itertools.islice(csv.reader(old), 1, None)  # past the header
                write_csv(out, itertools.chain((row for row in kept if row and row[0] != video), new_rows))
        except FileNotFoundError:
            write_csv(out, new_rows)


_DISK_FULL = ("No space left on device", "Disk quota exceeded")
_TRANSIENT_FFMPEG = (*_DISK_FULL, "Input/output error", "Cannot allocate memory")


def is_disk_full(exc: BaseException) -> bool:
    """A write that ran out of space (ours, or ffmpeg's as it says it): the disk's fault, not the
    video's, as when the space check finds too little before it starts."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return isinstance(exc, DunkwatchError) and any(marker in str(exc) for marker in _DISK_FULL)


def is_transient(exc: BaseException) -> bool:
    """Errors worth a retry later (disk full, I/O, memory); a bad video is never retried."""
    if isinstance(exc, (OSError, MemoryError)):
        return True
    if isinstance(exc, ExportError):
        return any(marker in str(exc) for marker in _TRANSIENT_FFMPEG)
    if isinstance(exc, DunkwatchError):
        return False
    return True  # an unexpected bug: bounded retries, then the quarantine says what happened


class JobRunner:
    def __init__(
        self,
        cfg: Config,
        store: Store,
        originals: Originals,
        videos: VideoRunner,
        stopping: threading.Event,
        notifier: Notifier,
    ) -> None:
        self.cfg, self.paths, self.store, self.originals = cfg, cfg.paths, store, originals
        self.videos, self.stopping, self.notifier = videos, stopping, notifier
        self.work = threading.Event()  # set when a video is queued, or to stop
        self.error: BaseException | None = None  # a bug that stopped the loop
        self.sessions_stale = True  # rewritten once the queue is empty: a synced practice, one rebuild
        self.retention = ArchiveRetention(cfg.archive, cfg.paths, store)

    def loop(self) -> None:
        try:
            while not self.stopping.is_set():
                job = self.store.next_job()
                if job is None and self.sessions_stale:
                    self.refresh_sessions()
                    continue
                if job is None and self.retention.due():
                    self.apply_retention()
                    continue
                if job is None:
                    wait = self.store.seconds_to_next_job()
                    self.work.wait(timeout=min(wait if wait is not None else 5.0, 5.0))
                    self.work.clear()
                    continue
                self._run_job(job)
                # After the job, never in its place: next_job has claimed it (processing) already.
                if self.retention.due(busy=True):
                    self.apply_retention()
        except BaseException as exc:  # a bug in the loop itself: let systemd restart the service
            self.error = exc
            log.exception("the job runner stopped")
        finally:
            self.videos.close()

    def refresh_sessions(self, stoppable: bool = True) -> None:
        """The practice sessions' folders, brought up to date; a failure is logged and tried again later.
        `stoppable`: a stopping service abandons a reel being joined (it is rebuilt at the next start)."""

        def stop() -> None:
            if stoppable and self.stopping.is_set():
                raise Cancelled()

        try:
            for session in refresh_in_child(self.cfg.paths, self.cfg.sessions, self.cfg.export.timelines, stop):
                self.notifier.session_ready(session)
            self.sessions_stale = False
            give_back_freed_memory()
        except Cancelled:
            pass
        except (OSError, DunkwatchError) as exc:
            self.sessions_stale = False  # not in a loop: the next finished video tries again
            log.warning("practice sessions: %s", one_line(str(exc)))
        except Exception:  # a bug in the sessions must never stop the videos
            self.sessions_stale = False
            log.exception("practice sessions could not be brought up to date")

    def apply_retention(self) -> None:
        """The archive's limits (archive.keep_days, archive.max_gb); a failure is logged and tried again later."""
        try:
            if self.retention.run():
                self.sessions_stale = True  # the page and sessions say which originals are gone
            give_back_freed_memory()  # its plan read every archived video's row
        except Exception:  # retention must never stop the videos
            log.exception("archive retention failed; it is tried again in an hour")

    def _run_job(self, job: Video) -> None:
        if not job.path.exists():
            log.warning("%s: left the inbox before it was processed; forgetting it", job.path)
            self.store.drop(job.id)
            return
        original = self.store.done_with_hash(job.sha256) if job.sha256 else None
        if original is not None and original.id != job.id:
            log.info("%s: same content as %s (already processed); archived without new clips", job.name, original.name)
            self.store.finish(job.id, State.DONE, outputs=original.outputs, duplicate_of=original.id)
            self.originals.move(self.store.known(job.id))
            return

        out_parent = self.paths.outbox / self.originals.relative_parent(job.path)
        try:
            check_before_start(job.path, out_parent, self.paths.archive, self.cfg.daemon.min_free_mb)
            result = self.videos.process(job.path, out_parent, job.sha256, self.stopping)
        except Cancelled:
            self.store.requeue(job.id, 0.0, None, count_attempt=False)
            return
        except OutOfSpace as exc:
            self._wait_for_space(job, exc)
            return
        except Exception as exc:
            if is_disk_full(exc):  # space taken after the check: it waits as for a full disk
                self._wait_for_space(job, exc)
            else:
                self._handle_failure(job, exc)
            return
        sidecar = result.sidecar
        self.store.set_meta(SPACE_KEY, None)
        assert job.sha256 is not None  # a queued job was hashed when it became stable
        self.store.save_scores(job.sha256, sidecar.scorer, sidecar.model, result.times, result.scores)
        outputs = VideoOutputs.of(sidecar, result.out_dir)
        try:
            update_predictions_csv(
                self.paths.outbox / PREDICTIONS_CSV, listed_name(job.path, result.out_dir, self.paths.outbox), sidecar
            )
        except OSError as exc:  # a convenience file: never fail a processed video over it
            log.warning("%s: cannot update %s: %s", job.name, PREDICTIONS_CSV, exc)
        self.store.finish(job.id, State.DONE, outputs=outputs)
        self.originals.move(self.store.known(job.id))
        moved = self.store.known(job.id)  # the timelines point at the original where it now lives
        if problem := after_processing(
            result.out_dir, sidecar, moved.location or moved.path, self.cfg.export.timelines
        ):
            log.warning("%s: %s", job.name, problem)
        self.sessions_stale = True
        self.retention.soon()  # a new original: the archive may be over max_gb

    def _wait_for_space(self, job: Video, exc: Exception) -> None:
        """Not the video's fault: it waits in the inbox, untouched, and no attempt is counted."""
        delay = max(self.cfg.daemon.retry_seconds, 1.0)
        log.warning("%s: waiting for disk space: %s; trying again in %.0f s", job.name, exc, delay)
        if self.store.get_meta(SPACE_KEY) is None:  # once per wait, not at every retry
            self.notifier.waiting_for_space(job.name, str(exc))
        self.store.set_meta(SPACE_KEY, asdict(WaitingForSpace(job.name, str(exc), time.time())))
        self.store.requeue(job.id, delay, f"waiting for disk space: {exc}", count_attempt=False)

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
        log.warning(
            "%s: %s: %s; try %d of %d in %.0f s",
            job.name,
            type(exc).__name__,
            message,
            job.attempts + 1,
            self.cfg.daemon.max_attempts,
            delay,
        )
        self.store.requeue(job.id, delay, f"{type(exc).__name__}: {message}")
