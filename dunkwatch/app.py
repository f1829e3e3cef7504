"""Composition root: builds the journal, watcher, worker and (later) scheduler, and runs them.

The main thread owns watching: it drains watcher events and rescans into the stability tracker,
hashes complete files and queues them in the journal. One worker thread takes queued videos one
at a time: decode -> score -> segment -> export, then moves the original to the archive (or the
quarantine, with a one-line reason). A user's original is never deleted or modified.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import queue
import signal
import threading
import time
from pathlib import Path
from typing import Callable

from dunkwatch import sdnotify
from dunkwatch.config import Config
from dunkwatch.errors import DunkwatchError, ExportError, ModelError, UnreadableError, VideoError
from dunkwatch.fsutil import PART_SUFFIX, atomic_write_text, move_without_overwrite
from dunkwatch.learn import registry
from dunkwatch.media import probe
from dunkwatch.pipeline.ingest import (
    EntryKind, FileStabilityTracker, dropped_name, entry_kind, is_candidate, listed_name, scan_inbox, sha256_of)
from dunkwatch.pipeline.score import Scorer
from dunkwatch.pipeline.worker import process_video
from dunkwatch.scoring import make_scorer, scene_memory
from dunkwatch.store import State, Store, Video

log = logging.getLogger(__name__)

TICK_SECONDS = 0.5
FATAL_SIGNALS = "fatal-signals.log"  # faulthandler's report of a segfault or abort, in the state dir
# Deaths from outside (kill, OOM killer, reboot) allowed per attempt before a video is given up:
# not its fault as such, but a video the OOM killer stops every time must not loop for ever.
OUTSIDE_DEATHS_PER_ATTEMPT = 3  # how often pending files are re-examined; also bounds shutdown latency


def quarantine(path: Path, quarantine_dir: Path, reason: str) -> Path:
    moved = move_without_overwrite(path, quarantine_dir)
    atomic_write_text(moved.with_name(moved.name + ".error.txt"), one_line(reason) + "\n")
    return moved


def one_line(text: str) -> str:
    return " ".join(str(text).split())


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


ProcessFn = Callable[..., dict]


class Daemon:
    """`dunkwatch run`: watch the inbox until SIGTERM (or, with once=True, until it is empty)."""

    def __init__(self, cfg: Config, scorer_choice: str | None = None, once: bool = False,
                 process: ProcessFn = process_video):
        self.cfg = cfg
        self.paths = cfg.paths
        self.scorer_choice = scorer_choice
        self.once = once
        self.process = process
        for folder in (self.paths.inbox, self.paths.outbox, self.paths.archive, self.paths.quarantine,
                       self.paths.state_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.paths.state_dir)
        self.events: queue.Queue[Path] = queue.Queue()
        self.tracker = FileStabilityTracker(cfg.watch.stable_seconds)
        self._next_probe: dict[Path, float] = {}  # unreadable files are probed again only now and then
        self.stopping = threading.Event()
        self.work = threading.Event()  # wakes the worker when a video is queued
        self.memory = scene_memory(cfg)
        self._ignored: set[Path] = set()  # non-regular entries already logged once
        self._fatal_log = None  # faulthandler's file while running
        self._scorer: Scorer | None = None
        self._scorer_key: object = object()
        self.worker_error: BaseException | None = None
        self._worker: threading.Thread | None = None
        self._watchdog = sdnotify.watchdog_seconds()
        self._next_ping = 0.0
        self._corrections_stamp: tuple | None = None

    # --- the main thread -----------------------------------------------------------------

    def request_stop(self, *_args) -> None:
        if not self.stopping.is_set():
            log.info("stopping: the current video finishes or is put back to be redone")
            sdnotify.notify("STOPPING=1")
        self.stopping.set()
        self.work.set()

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.request_stop)
        self.recover()
        observer = schedule = None
        if not self.once:
            from dunkwatch.pipeline.watch import start_observer
            from dunkwatch.schedule import NEXT_RUN_KEY, RetrainingSchedule

            observer = start_observer(self.paths.inbox, self.events, self.cfg.watch.polling)
            schedule = RetrainingSchedule(self.cfg, lambda when: self.store.set_meta(NEXT_RUN_KEY, when))
            schedule.start()
        self.rescan()
        worker = self._worker = threading.Thread(target=self._worker_loop, name="worker", daemon=True)
        worker.start()
        log.info("watching %s (%s); clips go to %s", self.paths.inbox,
                 "one pass" if self.once else ("polling" if self.cfg.watch.polling else "inotify"),
                 self.paths.outbox)
        sdnotify.notify("READY=1\nSTATUS=watching the inbox")
        next_rescan = time.monotonic() + self.cfg.watch.rescan_seconds
        try:
            while not self.stopping.is_set():
                self._drain_events(TICK_SECONDS)
                self._check_pending()
                self._check_corrections()
                now = time.monotonic()
                if now >= next_rescan:
                    self.rescan()
                    next_rescan = now + self.cfg.watch.rescan_seconds
                if not worker.is_alive():
                    break  # the worker died of a bug: exit non-zero so systemd restarts us
                self._keepalive()
                if self.once and self._idle():
                    self.request_stop()
        finally:
            self.stopping.set()
            self.work.set()
            if observer is not None:
                observer.stop()
            if schedule is not None:
                schedule.shutdown()
            worker.join()
            self.store.close()
            if self._fatal_log is not None:
                faulthandler.disable()
                self._fatal_log.close()
        return 1 if self.worker_error else 0

    def _check_corrections(self) -> None:
        """Log the corrections file's errors whenever it changes; a bad row never stops anything."""
        path = self.cfg.paths.corrections
        try:
            st = path.stat()
            stamp = (st.st_size, st.st_mtime)
        except OSError:
            stamp = None
        if stamp == self._corrections_stamp:
            return
        self._corrections_stamp = stamp
        if stamp is None:
            return
        from dunkwatch.learn.train import load_corrections

        rows, errors = load_corrections(self.cfg, self.store)
        for error in errors:
            log.warning("%s: %s", path, error)
        log.info("%s: %d valid row(s), %d error(s)", path, len(rows), len(errors))

    def _keepalive(self) -> None:
        """WATCHDOG=1 every WatchdogSec/3, only while both threads are alive."""
        now = time.monotonic()
        if self._watchdog and now >= self._next_ping and self._worker is not None and self._worker.is_alive():
            sdnotify.notify("WATCHDOG=1")
            self._next_ping = now + self._watchdog / 3

    def _idle(self) -> bool:
        return not self.tracker.pending() and self.store.nothing_due()

    def recover(self) -> None:
        """Finish what a crash (kill -9, power cut) left half done, before anything new starts."""
        for folder in (self.paths.outbox, self.paths.archive, self.paths.quarantine):
            for leftover in folder.rglob(f".*{PART_SUFFIX}"):
                # Only dunkwatch writes these names; the original of a half-copied move is still in the inbox.
                log.info("removing %s, left by an interrupted write", leftover)
                leftover.unlink(missing_ok=True)
        for video in self.store.unfinished_moves():
            self._move_original(video)
        fault = self._last_fatal_signal()
        limit = self.cfg.daemon.max_attempts
        for video in self.store.interrupted():
            if fault:
                # A fatal signal inside the service (a decoder's segfault on a crafted file, say):
                # the video's doing, so it counts as one of its attempts.
                if video.attempts >= limit:
                    self._fail(video, f"{video.path}: crashed the service {video.attempts} times ({fault}); "
                                      "see the service log")
                    continue
                log.warning("%s: the service crashed while processing it (%s); try %d of %d",
                            video.name, fault, video.attempts + 1, limit)
                self.store.requeue(video.id, 0.0, f"crashed the service: {fault}")
            elif video.interruptions + 1 >= OUTSIDE_DEATHS_PER_ATTEMPT * limit:
                # Killed from outside this often on one video: most likely out of memory on it.
                self._fail(video, f"{video.path}: the service was stopped {video.interruptions + 1} times while "
                                  "processing it (killed or out of memory); see the service log")
            else:
                # systemctl restart, a reboot, the OOM killer, kill -9: not the video's fault.
                log.info("%s: was being processed when the service stopped; processing it again", video.name)
                self.store.requeue_interrupted(video.id)
        for path in self.store.seen_paths():
            if not path.exists():
                self.store.forget_seen(path)

    def _last_fatal_signal(self) -> str:
        """The first line faulthandler wrote when the last run died of a fatal signal, or "";
        then start recording for this run."""
        path = self.paths.state_dir / FATAL_SIGNALS
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        except OSError:
            lines = []
        self._fatal_log = open(path, "w", encoding="utf-8")  # kept open: written from a signal handler
        faulthandler.enable(file=self._fatal_log, all_threads=True)
        return lines[0].strip() if lines else ""

    def rescan(self) -> None:
        """Every candidate in the inbox, so a missed event (or a restart) never strands a file."""
        for path in scan_inbox(self.paths.inbox, self.cfg.watch.extensions, self.cfg.watch.ignore):
            self._consider(path)

    def _drain_events(self, timeout: float) -> None:
        try:
            path = self.events.get(timeout=timeout)
        except queue.Empty:
            return
        batch = {path}
        while True:
            try:
                batch.add(self.events.get_nowait())
            except queue.Empty:
                break
        for path in batch:
            if path.is_dir() and not path.is_symlink():
                # A folder moved in whole brings its files without an event for each.
                for inner in scan_inbox(path, self.cfg.watch.extensions, ()):
                    self._consider(inner)
            else:
                self._consider(path)

    def _consider(self, path: Path) -> None:
        if not is_candidate(path, self.paths.inbox, self.cfg.watch.extensions, self.cfg.watch.ignore):
            return
        kind, st = entry_kind(path)
        if kind is not EntryKind.FILE:
            self.tracker.forget(path)
            self.store.forget_seen(path)  # renamed away by its sync client, or replaced
            if kind is EntryKind.SYMLINK:
                self._quarantine_link(path)
            elif kind is EntryKind.OTHER and path not in self._ignored:
                self._ignored.add(path)  # once: a rescan finds it again every few minutes
                log.warning("%s: ignored: %s (a FIFO, socket, device or folder); only regular files are "
                            "opened", path, kind.value)
            return
        row = self.store.active(path)
        if row is not None and row.state is not State.SEEN:
            return  # queued or being processed already
        if row is None and self.store.move_pending(path):
            return  # finished; its move failed and is retried at the next start, not re-ingested
        self.store.note_seen(path, st.st_size, st.st_mtime)
        self.tracker.observe(path, st.st_size, st.st_mtime, time.monotonic())

    def _check_pending(self) -> None:
        now = time.monotonic()
        for path in self.tracker.pending():
            kind, st = entry_kind(path)
            if kind is not EntryKind.FILE:
                self._consider(path)  # gone, or swapped for a link or a FIFO since it was seen
                continue
            if not self.tracker.observe(path, st.st_size, st.st_mtime, now):
                continue
            if self._next_probe.get(path, 0.0) > now:
                continue
            try:
                probe(path)
            except UnreadableError as exc:
                # The journal's clock too: a restart must not start a never-opening file's wait again.
                unchanged = max(self.tracker.unchanged_for(path, now), self.store.unchanged_seconds(path))
                if not self.once and unchanged < self.cfg.watch.unreadable_after:
                    # Possibly a copy still arriving under its final name: give it time.
                    self._next_probe[path] = now + max(self.cfg.watch.stable_seconds, 2.0)
                    continue
                self._take(path, st, failure=str(exc))
                continue
            except VideoError as exc:
                self._take(path, st, failure=str(exc))
                continue
            except OSError:
                continue
            self._take(path, st)

    def _quarantine_link(self, path: Path) -> None:
        """A symlink is never followed: anyone who shares the synced folder could point it at any
        video the service may read and get its frames in the outbox. The link itself moves."""
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        reason = f"{path}: a symbolic link (to {target!r}); links are never followed. Put the video itself in the inbox"
        dest_dir = self.paths.quarantine / self._relative_parent(path)
        try:
            moved = quarantine(path, dest_dir, reason)
        except OSError as exc:
            if path not in self._ignored:
                self._ignored.add(path)
                log.error("%s: a symbolic link, not followed; cannot move it to %s (%s)", path, dest_dir, exc)
            return
        log.error("%s -> quarantine: %s", path.name, reason)
        log.debug("moved to %s", moved)

    def _take(self, path: Path, st: os.stat_result, failure: str | None = None) -> None:
        """A complete file: hash it and queue it, or send it straight to the quarantine."""
        self.tracker.forget(path)
        self._next_probe.pop(path, None)
        try:
            digest = sha256_of(path, on_chunk=self._keepalive)  # a large file on a slow disk takes a while
            after = path.stat()
        except OSError as exc:
            log.warning("%s: cannot read it yet (%s); will look again", path, exc)
            return
        if (after.st_size, after.st_mtime) != (st.st_size, st.st_mtime):
            self._consider(path)  # it changed while being hashed: start over
            return
        row = self.store.note_seen(path, st.st_size, st.st_mtime)
        if failure:
            log.error("%s -> quarantine: %s", path.name, one_line(failure))
            self.store.mark_stable(row.id, st.st_size, st.st_mtime, digest, failure=one_line(failure))
            self._move_original(self.store.get(row.id))
            return
        self.store.mark_stable(row.id, st.st_size, st.st_mtime, digest)
        log.info("%s: complete (%d bytes, sha256 %s), queued", path.name, st.st_size, digest[:12])
        self.work.set()

    # --- the worker thread ---------------------------------------------------------------

    def _worker_loop(self) -> None:
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
            self.worker_error = exc
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
            self._move_original(self.store.get(job.id))
            return

        def progress(_fraction: float) -> None:
            if self.stopping.is_set():
                raise Cancelled()

        rel_parent = self._relative_parent(job.path)
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
        self._move_original(self.store.get(job.id))

    def _handle_failure(self, job: Video, exc: Exception) -> None:
        message = one_line(str(exc) or type(exc).__name__)
        if not is_transient(exc):
            log.error("%s -> quarantine: %s", job.name, message)
            self._fail(job, message)
            return
        log.debug("details", exc_info=True)
        if job.attempts >= self.cfg.daemon.max_attempts:
            reason = f"{job.path}: gave up after {job.attempts} tries: {type(exc).__name__}: {message}"
            log.error("%s -> quarantine: %s", job.name, reason)
            self._fail(job, reason)
            return
        delay = self.cfg.daemon.retry_seconds * 2 ** (job.attempts - 1)
        log.warning("%s: %s: %s; try %d of %d in %.0f s", job.name, type(exc).__name__, message,
                    job.attempts + 1, self.cfg.daemon.max_attempts, delay)
        self.store.requeue(job.id, delay, f"{type(exc).__name__}: {message}")

    # --- moving originals ----------------------------------------------------------------

    def dropped_name(self, path: Path) -> str:
        return dropped_name(path, self.paths.inbox)

    def _relative_parent(self, path: Path) -> Path:
        try:
            return path.parent.relative_to(self.paths.inbox)
        except ValueError:
            return Path()

    def _fail(self, video: Video, reason: str) -> None:
        self.store.finish(video.id, State.FAILED, error=one_line(reason))
        self._move_original(self.store.get(video.id))

    def _move_original(self, video: Video) -> None:
        """Done: to the archive; failed: to the quarantine with its reason. The row says so after."""
        dest_dir = (self.paths.archive if video.state is State.DONE else self.paths.quarantine) / \
            self._relative_parent(video.path)
        if not video.path.exists():
            # Moved before a crash, recorded not yet: the folder is all we know.
            self.store.moved(video.id, dest_dir)
            return
        try:
            if video.state is State.DONE:
                moved = move_without_overwrite(video.path, dest_dir)
            else:
                moved = quarantine(video.path, dest_dir, video.error or "failed")
        except OSError as exc:
            log.error("%s: cannot move it to %s (%s); it stays in the inbox", video.path, dest_dir, exc)
            return
        self.store.moved(video.id, moved)
        log.info("%s -> %s", video.name, moved)
