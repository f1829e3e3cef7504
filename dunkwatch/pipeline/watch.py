"""The watchdog handler: it forwards the paths events name to a queue and does nothing else.

All judgement (ignore rules, stability, hashing) happens in the daemon's loop, so a slow disk
never blocks watchdog's thread and a missed event is caught by the periodic rescan.
"""

from __future__ import annotations

import queue
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver


class ForwardPaths(FileSystemEventHandler):
    def __init__(self, paths: "queue.Queue[Path]"):
        self.paths = paths

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return  # reads, including our own, change nothing
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if raw:
                self.paths.put(Path(raw.decode() if isinstance(raw, bytes) else raw))


def start_observer(inbox: Path, paths: "queue.Queue[Path]", polling: bool, poll_seconds: float = 2.0):
    """inotify by default; polling for network and FUSE mounts, where inotify sees nothing."""
    observer = PollingObserver(timeout=poll_seconds) if polling else Observer()
    observer.schedule(ForwardPaths(paths), str(inbox), recursive=True)
    observer.daemon = True
    observer.start()
    return observer
