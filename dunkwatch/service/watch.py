"""The watchdog handler: it forwards the paths events name to a queue and does nothing else.

All judgement (ignore rules, stability, hashing) happens in the daemon's loop, so a slow disk
never blocks watchdog's thread and a missed event is caught by the periodic rescan.
"""

from __future__ import annotations

import logging
import os
import queue
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

log = logging.getLogger(__name__)


class ForwardPaths(FileSystemEventHandler):
    def __init__(self, paths: "queue.Queue[Path]") -> None:
        self.paths = paths

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return  # reads, including our own, change nothing
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if raw:
                self.paths.put(Path(raw.decode() if isinstance(raw, bytes) else raw))


def start_observer(inbox: Path, paths: "queue.Queue[Path]", polling: bool, poll_seconds: float = 2.0) -> BaseObserver:
    """inotify by default; polling for network and FUSE mounts, where inotify sees nothing."""
    observer = PollingObserver(timeout=poll_seconds) if polling else Observer()
    observer.schedule(ForwardPaths(paths), str(inbox), recursive=True)
    observer.daemon = True
    observer.start()
    return observer


def _identity(folder: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class InboxWatch:
    """The observer on the inbox, started again when the inbox folder itself is replaced.

    inotify watches a folder's inode: a sync client or a user that deletes the inbox and makes
    it again (or moves another folder in under its name) leaves the old watch on a folder that
    no longer exists, and nothing would be seen until the next rescan."""

    def __init__(self, inbox: Path, paths: "queue.Queue[Path]", polling: bool) -> None:
        self.inbox, self.paths, self.polling = inbox, paths, polling
        self.identity = _identity(inbox)
        self.observer = start_observer(inbox, paths, polling)

    def replaced(self) -> bool:
        """Whether the inbox is another folder than the one watched; if so, watch the new one."""
        now = _identity(self.inbox)
        if now == self.identity or now is None:
            return False  # unchanged, or gone for now: the watch is renewed once it is back
        log.warning("%s was replaced by another folder; watching the new one", self.inbox)
        self.stop()
        self.identity = now
        self.observer = start_observer(self.inbox, self.paths, self.polling)
        return True

    def stop(self) -> None:
        self.observer.stop()
