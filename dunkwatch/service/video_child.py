"""Who runs one video's processing: a child process (the service), or the calling thread (tests'
stand-ins).

In a child, a decoder's segfault on a crafted file, a stage stuck on a hung mount, or TensorFlow's
memory never reach the long-lived service. The service sends one job at a time over a pipe; the
child answers with log records, progress (its heartbeat) and then the result or the error. The
child lives on between videos, so TensorFlow and the model load once; it is replaced when the
model in use changes, when it dies, and when it stalls. The messages both ways are the
dataclasses below, never tuples tagged with strings.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Callable, Protocol

from dunkwatch.config import Config, PipelineConfig
from dunkwatch.media import describe_exit, dies_with_parent
from dunkwatch.models import registry
from dunkwatch.pipeline.cancel import Cancelled, CancelToken
from dunkwatch.pipeline.process import Processed, Progress, process_video
from dunkwatch.pipeline.scoring.scene_memory import SceneMemory
from dunkwatch.pipeline.scoring.scorer import Scorer
from dunkwatch.pipeline.scoring.scorer_choice import ScorerPerVideo, scene_memory
from dunkwatch.service.heap import child_environment, give_back_freed_memory

log = logging.getLogger(__name__)


class ProcessFn(Protocol):
    """process_video's signature as the service calls it (a stand-in in tests)."""

    def __call__(
        self,
        path: Path,
        cfg: PipelineConfig,
        scorer: Scorer,
        outbox: Path,
        *,
        progress: Progress | None = None,
        memory: SceneMemory | None = None,
        sha256: str | None = None,
        cancel: CancelToken | None = None,
    ) -> Processed: ...


BEAT_SECONDS = 1.0  # the child reports progress at most this often
CANCEL_GRACE_SECONDS = 30.0  # a cancelled child that has not answered by then is killed
QUIT_SECONDS = 10.0  # a retiring child that has not exited by then is killed


class ChildDied(Exception):
    """The child died while processing a video: a native crash (segfault, abort) or a kill."""


class Stalled(Exception):
    """The child made no progress for `daemon.stall_seconds` and was killed."""


class VideoRunner(Protocol):
    def process(self, path: Path, out_dir: Path, sha256: str | None, stopping: threading.Event) -> Processed: ...

    def close(self) -> None: ...


class InlineRunner:
    """Processes in the calling thread; a newly promoted model is picked up between videos."""

    def __init__(
        self, cfg: Config, choice: str | None, memory: SceneMemory, process: ProcessFn = process_video
    ) -> None:
        self.cfg, self.choice, self.memory, self.run = cfg, choice, memory, process
        self.scorers = ScorerPerVideo(cfg.pipeline, choice, memory)

    def process(self, path: Path, out_dir: Path, sha256: str | None, stopping: threading.Event) -> Processed:
        scorer = self.scorers.for_video(path)  # trust per court: the model judged on this video's court
        return self.run(
            path,
            self.cfg.pipeline,
            scorer,
            out_dir,
            memory=self.memory,
            sha256=sha256,
            cancel=CancelToken(stopping.is_set),
        )

    def close(self) -> None:
        self.scorers.close()


# --- the messages ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildSetup:
    """The first message to a new child, after its sys.path."""

    cfg: Config
    choice: str | None
    target: ProcessFn
    log_level: int


@dataclass(frozen=True)
class Job:
    path: Path
    out_dir: Path
    sha256: str | None


@dataclass(frozen=True)
class Cancel:
    """The service is stopping: give the current video up."""


@dataclass(frozen=True)
class Quit:
    """No more videos: exit."""


@dataclass(frozen=True)
class LogLine:
    record: logging.LogRecord


@dataclass(frozen=True)
class Beat:
    fraction: float  # of the video analysed


@dataclass(frozen=True)
class Done:
    result: Processed


@dataclass(frozen=True)
class Failed:
    error: BaseException


@dataclass(frozen=True)
class GaveUp:
    """Cancelled: the video goes back to the queue."""


ToService = LogLine | Beat | Done | Failed | GaveUp


@dataclass(frozen=True)
class _Worker:
    """A running child: its process, the service's end of the pipe, and the scorer it loaded."""

    proc: subprocess.Popen[bytes]
    conn: Connection
    key: str


class ChildProcessRunner:
    """Processes each video in a child process: a fresh interpreter, never a fork of the threaded
    service, and never a re-run of the caller's main script (as multiprocessing's spawn would)."""

    def __init__(self, cfg: Config, choice: str | None, process: ProcessFn = process_video) -> None:
        self.cfg, self.choice, self.target = cfg, choice, process
        self.stall_seconds = cfg.daemon.stall_seconds
        self._worker: _Worker | None = None

    def process(self, path: Path, out_dir: Path, sha256: str | None, stopping: threading.Event) -> Processed:
        key = registry.model_in_use(self.cfg.paths.state_dir, self.choice or self.cfg.score.scorer).key()
        if self._worker is not None and (key != self._worker.key or self._worker.proc.poll() is not None):
            self.close()  # a newly promoted model: a fresh child loads it, and the old one's memory goes
        worker = self._worker if self._worker is not None else self._start(key)
        try:
            worker.conn.send(Job(Path(path), Path(out_dir), sha256))
        except OSError:
            self._forget(kill=True)
            raise ChildDied(f"{path}: the video worker process ended before it took the video")
        return self._await(worker, Path(path), stopping)

    def _start(self, key: str) -> _Worker:
        ours, theirs = socket.socketpair()
        fd = theirs.fileno()
        proc = subprocess.Popen(
            [sys.executable, "-c", f"from dunkwatch.service.video_child import child_main; child_main({fd})"],
            pass_fds=(fd,),
            start_new_session=True,
            env=child_environment(),  # few malloc arenas: see heap.py
        )  # its own group: killed with its ffmpeg children
        theirs.close()
        worker = self._worker = _Worker(proc, Connection(ours.detach()), key)
        # sys.path first, so the child can unpickle a target that lives outside the package (tests).
        worker.conn.send(list(sys.path))
        worker.conn.send(ChildSetup(self.cfg, self.choice, self.target, logging.getLogger().getEffectiveLevel()))
        return worker

    def _await(self, worker: _Worker, path: Path, stopping: threading.Event) -> Processed:
        last_heard = time.monotonic()
        cancel_deadline: float | None = None
        while True:
            now = time.monotonic()
            if stopping.is_set() and cancel_deadline is None:
                try:
                    worker.conn.send(Cancel())
                except OSError:
                    pass
                cancel_deadline = now + CANCEL_GRACE_SECONDS
            if cancel_deadline is not None and now > cancel_deadline:
                self._forget(kill=True)
                raise Cancelled()
            try:
                ready = worker.conn.poll(0.5)
                message = worker.conn.recv() if ready else None
            except (EOFError, OSError):
                ready, message = True, None
            if ready and message is None:  # the pipe closed: the child is gone
                raise self._death(worker, path)
            if message is None:
                if worker.proc.poll() is not None:
                    raise self._death(worker, path)
                if now - last_heard > self.stall_seconds:
                    self._forget(kill=True)
                    raise Stalled(
                        f"{path}: no progress for {self.stall_seconds:.0f} s (daemon.stall_seconds); "
                        "the video worker process was stopped"
                    )
                continue
            last_heard = time.monotonic()
            if isinstance(message, LogLine):
                logger = logging.getLogger(message.record.name)
                if logger.isEnabledFor(message.record.levelno):
                    logger.handle(message.record)
            elif isinstance(message, Done):
                return message.result
            elif isinstance(message, Failed):
                raise message.error
            elif isinstance(message, GaveUp):
                raise Cancelled()

    def _death(self, worker: _Worker, path: Path) -> ChildDied:
        try:
            code = worker.proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            code = None
        self._forget(kill=True)
        return ChildDied(f"{path}: the video worker process {describe_exit(code)} while processing it")

    def _forget(self, kill: bool) -> None:
        worker, self._worker = self._worker, None
        if worker is None:
            return
        proc = worker.proc
        if kill and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # its ffmpeg children too
            except OSError:
                proc.kill()
        try:
            proc.wait(timeout=QUIT_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        worker.conn.close()

    def close(self) -> None:
        worker = self._worker
        if worker is None:
            return
        try:
            worker.conn.send(Quit())
            worker.proc.wait(timeout=QUIT_SECONDS)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self._forget(kill=True)


# --- the child side -------------------------------------------------------------------------


class _PipeLogHandler(logging.Handler):
    """Sends the child's log records to the service, which logs them as its own."""

    def __init__(self, send: Callable[[ToService], None]) -> None:
        super().__init__()
        self.send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            record.msg = record.getMessage()
            record.args = None
            if record.exc_info:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
                record.exc_info = None
            self.send(LogLine(record))
        except Exception:  # a log line must never fail a video
            pass


def _portable(exc: BaseException) -> BaseException:
    """The exception itself when it survives pickling; else a RuntimeError naming it."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def child_main(fd: int) -> None:
    """The child's entry: `python -c "...child_main(fd)"` with one end of a socket pair."""
    dies_with_parent()  # if the service is killed (kill -9, OOM), the child goes too, even in a read
    conn = Connection(fd)
    try:
        sys.path[:] = conn.recv()
        setup: ChildSetup = conn.recv()
    except (EOFError, OSError):
        return
    # The service decides when to stop: SIGTERM or Ctrl-C reach it, and it cancels the video here.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    faulthandler.enable()  # a native crash's traceback goes to the service's log (stderr)
    _ChildLoop(conn, setup).run()


class _ChildLoop:
    """The child's side: one job at a time, its log and heartbeat sent back as it goes."""

    def __init__(self, conn: Connection, setup: ChildSetup) -> None:
        self.conn, self.setup = conn, setup
        self.lock = threading.Lock()  # the decode prefetch thread logs too
        root = logging.getLogger()
        root.handlers[:] = [_PipeLogHandler(self.send)]
        root.setLevel(setup.log_level)
        self.memory = scene_memory(setup.cfg.paths.state_dir, setup.cfg.motion)
        self.scorers = ScorerPerVideo(setup.cfg.pipeline, setup.choice, self.memory)
        self.last_beat = 0.0
        self.cancel_asked = False  # a Cancel (or Quit) came for the current video

    def send(self, message: ToService) -> None:
        with self.lock:
            self.conn.send(message)

    def cancelled(self) -> bool:
        """Whether the service asked to give the current video up (read from the pipe, without waiting)."""
        while not self.cancel_asked and self.conn.poll():
            self.cancel_asked = isinstance(self.conn.recv(), (Cancel, Quit))
        return self.cancel_asked

    def progress(self, fraction: float) -> None:
        now = time.monotonic()
        if now - self.last_beat >= BEAT_SECONDS:
            self.last_beat = now
            self.send(Beat(fraction))

    def run(self) -> None:
        cfg = self.setup.cfg
        while True:
            try:
                job = self.conn.recv()
            except (EOFError, OSError):
                return
            if isinstance(job, Quit):
                return
            if isinstance(job, Cancel):
                continue  # crossed a video that had already finished
            self.last_beat, self.cancel_asked = 0.0, False
            try:
                scorer = self.scorers.for_video(job.path)  # trust per court: the model judged on its court
                result = self.setup.target(
                    job.path,
                    cfg.pipeline,
                    scorer,
                    job.out_dir,
                    progress=self.progress,
                    memory=self.memory,
                    sha256=job.sha256,
                    cancel=CancelToken(self.cancelled),
                )
                self.send(Done(result))
            except Cancelled:
                self.send(GaveUp())
            except Exception as exc:
                log.debug("details", exc_info=True)
                self.send(Failed(_portable(exc)))
            # A video's frames, buffers and clips' work, freed now, go back to the system while the
            # child waits for the next one: otherwise it keeps the longest video's peak.
            give_back_freed_memory()
