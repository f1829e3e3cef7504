"""Composition root of the service: builds the journal, the intake, the job runner, the originals'
mover and the scheduler, and runs them.

The main thread owns watching: it drains watcher events and rescans into the intake, which
queues complete, hashed files in the journal. One thread (the job runner) takes queued
videos one at a time: decode -> score -> segment -> export, then the original moves to the
archive (or the quarantine, with a one-line reason). A user's original is never deleted or modified.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import TYPE_CHECKING, Callable

from dunkwatch.config import Config
from dunkwatch.pipeline.scoring.person import require_detector
from dunkwatch.pipeline.scoring.scorer_choice import scene_memory
from dunkwatch.service import sdnotify
from dunkwatch.service.heap import HeapReport, limit_malloc_arenas
from dunkwatch.service.intake import Intake
from dunkwatch.service.jobs import JobRunner
from dunkwatch.service.notifier import Notifier
from dunkwatch.service.originals import Originals
from dunkwatch.service.video_child import ChildProcessRunner, InlineRunner, ProcessFn, VideoRunner
from dunkwatch.store import NEXT_TRAINING_KEY, Store

if TYPE_CHECKING:
    from dunkwatch.service.watch import InboxWatch

log = logging.getLogger(__name__)

TICK_SECONDS = 0.5  # how often pending files are re-examined; also bounds shutdown latency


class Daemon:
    """`dunkwatch run`: watch the inbox until SIGTERM (or, with once=True, until it is empty)."""

    def __init__(
        self,
        cfg: Config,
        scorer_choice: str | None = None,
        once: bool = False,
        process: ProcessFn | None = None,
        videos: VideoRunner | None = None,
        page: Callable[[threading.Event], None] | None = None,
    ) -> None:
        """By default each video is processed in a child process. `process` stands in for
        process_video in this process, `videos` for the whole runner (both for tests). `page`
        serves the review page until the event is set; the command line hands it in, since the
        page sits above the service (it reads the service's status and retries through it)."""
        require_detector(cfg.motion, cfg.segment)  # a missing detector stops the service at start, not video by video
        self.cfg = cfg
        self.paths = cfg.paths
        self.page = page
        self.once = once
        for folder in (
            self.paths.inbox,
            self.paths.outbox,
            self.paths.archive,
            self.paths.quarantine,
            self.paths.state_dir,
        ):
            folder.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.paths.state_dir)
        self.stopping = threading.Event()
        self.notifier = Notifier(cfg.notify, cfg.review, self.store, cfg.paths.state_dir)
        self.originals = Originals(cfg, self.store, self.notifier.quarantined)
        if videos is None:
            videos = (
                ChildProcessRunner(cfg, scorer_choice)
                if process is None
                else InlineRunner(cfg, scorer_choice, scene_memory(cfg.paths.state_dir, cfg.motion), process)
            )
        self.jobs = JobRunner(cfg, self.store, self.originals, videos, self.stopping, self.notifier)
        self.intake = Intake(
            cfg, self.store, self.originals, once, queued=self.jobs.work.set, keepalive=self._keepalive
        )
        self._worker: threading.Thread | None = None
        self._watchdog = sdnotify.watchdog_seconds()
        self._next_ping = 0.0
        self._corrections_stamp: tuple[int, float] | None = None

    def request_stop(self, *_args: object) -> None:
        if not self.stopping.is_set():
            log.info("stopping: the current video finishes or is put back to be redone")
            sdnotify.notify("STOPPING=1")
        self.stopping.set()
        self.jobs.work.set()

    def run(self) -> int:
        limit_malloc_arenas()  # before any thread of ours: see heap.py
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.request_stop)
        HeapReport(self.paths.state_dir).install()  # PYTHONTRACEMALLOC set: SIGUSR2 reports growth
        self.originals.recover()
        watch = schedule = notify = None
        if not self.once:
            from dunkwatch.service.schedule import RetrainingSchedule
            from dunkwatch.service.watch import InboxWatch

            watch = InboxWatch(self.paths.inbox, self.intake.events, self.cfg.watch.polling)
            schedule = RetrainingSchedule(self.cfg, lambda when: self.store.set_meta(NEXT_TRAINING_KEY, when))
            schedule.start()
            notify = threading.Thread(target=self.notifier.run, args=(self.stopping,), name="notify", daemon=True)
            notify.start()
            if self.page is not None:
                self._start_review_page(self.page)
        self.intake.rescan()
        worker = self._worker = threading.Thread(target=self.jobs.loop, name="jobs", daemon=True)
        worker.start()
        log.info(
            "watching %s (%s); clips go to %s",
            self.paths.inbox,
            "one pass" if self.once else ("polling" if self.cfg.watch.polling else "inotify"),
            self.paths.outbox,
        )
        sdnotify.notify("READY=1\nSTATUS=watching the inbox")
        try:
            self._watch_until_stopped(watch, worker)
        finally:
            self.stopping.set()
            self.jobs.work.set()
            if watch is not None:
                watch.stop()
            if schedule is not None:
                schedule.shutdown()
            worker.join()
            if notify is not None:
                notify.join(timeout=10.0)  # a send in flight may finish; what is left waits in the journal
            if self.once and self.jobs.error is None:
                self.jobs.refresh_sessions(stoppable=False)  # one pass: the practice sessions of what it processed
                if self.jobs.retention.enabled:
                    self.jobs.apply_retention()
                self.notifier.check_training()
                self.notifier.send_due()  # what is due now; the rest waits in the journal for the next run
            self.store.close()
            self.originals.close()
        return 1 if self.jobs.error else 0

    def _watch_until_stopped(self, watch: InboxWatch | None, worker: threading.Thread) -> None:
        """The main thread's loop: events, stability, rescans, the watchdog; until a stop or a dead worker."""
        next_rescan = time.monotonic() + self.cfg.watch.rescan_seconds
        while not self.stopping.is_set():
            self.intake.drain_events(TICK_SECONDS)
            self.intake.check_pending()
            self._check_corrections()
            now = time.monotonic()
            if now >= next_rescan or (watch is not None and watch.replaced()):
                self.intake.rescan()
                next_rescan = now + self.cfg.watch.rescan_seconds
            if not worker.is_alive():
                return  # the job runner died of a bug: exit non-zero so systemd restarts us
            self._keepalive()
            if self.once and self.intake.idle():
                self.request_stop()

    def _start_review_page(self, page: Callable[[threading.Event], None]) -> None:
        """`[review] enabled = true`: the page in a thread of the service; a failure to bind is logged,
        and the service goes on without it."""

        def run() -> None:
            try:
                page(self.stopping)
            except Exception as exc:
                log.error(
                    "review page: cannot serve on %s (%s); the service goes on without it", self.cfg.review.listen, exc
                )

        threading.Thread(target=run, name="review", daemon=True).start()

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
        from dunkwatch.learn.catalogue import load_corrections

        rows, errors = load_corrections(self.cfg.paths, self.store)
        for error in errors:
            log.warning("%s: %s", path, error)
        log.info("%s: %d valid row(s), %d error(s)", path, len(rows), len(errors))

    def _keepalive(self) -> None:
        """WATCHDOG=1 every WatchdogSec/3, only while both threads are alive."""
        now = time.monotonic()
        if self._watchdog and now >= self._next_ping and self._worker is not None and self._worker.is_alive():
            sdnotify.notify("WATCHDOG=1")
            self._next_ping = now + self._watchdog / 3
