"""The users' originals after ingest: moved to the archive or the quarantine (never deleted,
never changed), and what a crash left half done, finished at the next start."""

from __future__ import annotations

import faulthandler
import logging
import os
from pathlib import Path
from typing import Callable, TextIO

from dunkwatch.config import Config
from dunkwatch.errors import one_line
from dunkwatch.fsutil import atomic_write_text, leftovers, move_without_overwrite, remove_leftover
from dunkwatch.store import State, Store, Video

log = logging.getLogger(__name__)

FATAL_SIGNALS = "fatal-signals.log"  # faulthandler's report of a segfault or abort, in the state dir
# Deaths from outside (kill, OOM killer, reboot) allowed per attempt before a video is given up:
# not its fault as such, but a video the OOM killer stops every time must not loop for ever.
OUTSIDE_DEATHS_PER_ATTEMPT = 3


REASON_SUFFIX = ".error.txt"  # beside each quarantined original: why it is there


def reason_file(quarantined: Path) -> Path:
    return quarantined.with_name(quarantined.name + REASON_SUFFIX)


def quarantine(path: Path, quarantine_dir: Path, reason: str) -> Path:
    moved = move_without_overwrite(path, quarantine_dir)
    atomic_write_text(reason_file(moved), one_line(reason) + "\n")
    return moved


class Originals:
    """Moves originals out of the inbox, and recovers from a crash before anything new starts."""

    def __init__(self, cfg: Config, store: Store, quarantined: Callable[[str, str], None] | None = None) -> None:
        self.cfg, self.paths, self.store = cfg, cfg.paths, store
        self.quarantined = quarantined or (lambda name, reason: None)  # told of each video quarantined
        self.unmovable_links: set[Path] = set()  # logged once each
        self._fatal_log: TextIO | None = None  # faulthandler's file while running

    def close(self) -> None:
        if self._fatal_log is not None:
            faulthandler.disable()
            self._fatal_log.close()
            self._fatal_log = None

    def recover(self) -> None:
        """Finish what a crash (kill -9, power cut) left half done, before anything new starts."""
        for folder in (self.paths.outbox, self.paths.archive, self.paths.quarantine):
            for leftover in leftovers(folder, recursive=True):
                # Only dunkwatch writes these names; the original of a half-copied move is still in the inbox.
                if leftover.exists() or leftover.is_symlink():  # not inside a folder removed just before
                    log.info("removing %s, left by an interrupted write", leftover)
                    remove_leftover(leftover)
        for video in self.store.unfinished_moves():
            self.move(video)
        fault = self._last_fatal_signal()
        limit = self.cfg.daemon.max_attempts
        for video in self.store.interrupted():
            if fault:
                # A fatal signal inside the service itself, recorded by faulthandler: the video's
                # doing, so it counts as one of its attempts. (A crash in the video child is no
                # service death: the job runner records it at once as ChildDied, "died of SIGSEGV".)
                if video.attempts >= limit:
                    self.fail(
                        video,
                        f"{video.path}: crashed the service {video.attempts} times ({fault}); see the service log",
                    )
                    continue
                log.warning(
                    "%s: the service crashed while processing it (%s); try %d of %d",
                    video.name,
                    fault,
                    video.attempts + 1,
                    limit,
                )
                self.store.requeue(video.id, 0.0, f"crashed the service: {fault}")
            elif video.interruptions + 1 >= OUTSIDE_DEATHS_PER_ATTEMPT * limit:
                # Killed from outside this often on one video: most likely out of memory on it.
                self.fail(
                    video,
                    f"{video.path}: the service was stopped {video.interruptions + 1} times while "
                    "processing it (killed or out of memory); see the service log",
                )
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

    def quarantine_link(self, path: Path) -> None:
        """A symlink is never followed: anyone who shares the synced folder could point it at any
        video the service may read and get its frames in the outbox. The link itself moves."""
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        reason = f"{path}: a symbolic link (to {target!r}); links are never followed. Put the video itself in the inbox"
        dest_dir = self.paths.quarantine / self.relative_parent(path)
        try:
            moved = quarantine(path, dest_dir, reason)
        except OSError as exc:
            if path not in self.unmovable_links:
                self.unmovable_links.add(path)
                log.error("%s: a symbolic link, not followed; cannot move it to %s (%s)", path, dest_dir, exc)
            return
        log.error("%s -> quarantine: %s", path.name, reason)
        log.debug("moved to %s", moved)
        self.quarantined(path.name, reason)

    def relative_parent(self, path: Path) -> Path:
        try:
            return path.parent.relative_to(self.paths.inbox)
        except ValueError:
            return Path()

    def retry(self, video: Video) -> Path:
        """A quarantined original back to the inbox folder it came from, queued again with fresh
        attempts; our reason file goes. Moved first: a crash between leaves the file in the inbox,
        where the intake takes it as new, never a queued row without its file."""
        assert video.location is not None  # a quarantined video's row says where it went
        location = Path(video.location)
        try:
            back_to = self.paths.inbox / location.parent.relative_to(self.paths.quarantine)
        except ValueError:
            back_to = self.paths.inbox
        moved = move_without_overwrite(location, back_to)
        reason_file(location).unlink(missing_ok=True)
        self.store.queue_again(video.id, moved)
        log.info("%s moved back to %s to be tried again", location.name, moved)
        return moved

    def fail(self, video: Video, reason: str) -> None:
        self.store.finish(video.id, State.FAILED, error=one_line(reason))
        self.move(self.store.known(video.id))

    def move(self, video: Video) -> None:
        """Done: to the archive; failed: to the quarantine with its reason. The row says so after."""
        dest_dir = (self.paths.archive if video.state is State.DONE else self.paths.quarantine) / self.relative_parent(
            video.path
        )
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
        if video.state is State.FAILED:
            self.quarantined(video.name, video.error or "failed")
