"""The ingest side of the service: watcher events and rescans -> stability -> probe -> hash -> queue.

The rules it applies are pure pieces in pipeline/ingest.py; this class keeps their state (the
stability tracker, when to probe again) and writes what it decides to the journal.
"""

from __future__ import annotations

import logging
import os
import queue
import time
from pathlib import Path
from typing import Callable

from dunkwatch.config import Config
from dunkwatch.errors import UnreadableError, VideoError, one_line
from dunkwatch.fsutil import sha256_of
from dunkwatch.media import probe_apart as probe
from dunkwatch.service.inbox_rules import (
    EntryKind,
    FileStabilityTracker,
    entry_kind,
    is_candidate,
    scan_inbox,
    skip_reason,
)
from dunkwatch.service.originals import Originals
from dunkwatch.store import State, Store

log = logging.getLogger(__name__)


class Intake:
    def __init__(
        self,
        cfg: Config,
        store: Store,
        originals: Originals,
        once: bool,
        queued: Callable[[], None],
        keepalive: Callable[[], None],
    ) -> None:
        self.cfg, self.paths, self.store, self.originals, self.once = cfg, cfg.paths, store, originals, once
        self.queued = queued  # wakes the job runner
        self.keepalive = keepalive  # hashing a large file on a slow disk takes a while
        self.events: queue.Queue[Path] = queue.Queue()  # the watcher's paths
        self.tracker = FileStabilityTracker(cfg.watch.stable_seconds)
        self._next_probe: dict[Path, float] = {}  # unreadable files are probed again only now and then
        self._ignored: set[Path] = set()  # non-regular entries already logged once

    def idle(self) -> bool:
        return not self.tracker.pending() and self.store.nothing_due()

    def rescan(self) -> None:
        """Every candidate in the inbox, so a missed event (or a restart) never strands a file."""
        for path in scan_inbox(self.paths.inbox, self.cfg.watch.extensions, self.cfg.watch.ignore):
            self._consider(path)

    def drain_events(self, timeout: float) -> None:
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
                self.originals.quarantine_link(path)
            elif kind is EntryKind.OTHER and path not in self._ignored:
                self._ignored.add(path)  # once: a rescan finds it again every few minutes
                log.warning(
                    "%s: ignored: %s (a FIFO, socket, device or folder); only regular files are opened",
                    path,
                    kind.value,
                )
            return
        assert st is not None  # entry_kind stats every FILE
        row = self.store.active(path)
        if row is not None and row.state is not State.SEEN:
            return  # queued or being processed already
        if row is None and self.store.move_pending(path):
            return  # finished; its move failed and is retried at the next start, not re-ingested
        self.store.note_seen(path, st.st_size, st.st_mtime)
        self.tracker.observe(path, st.st_size, st.st_mtime, time.monotonic())

    def check_pending(self) -> None:
        now = time.monotonic()
        for path in self.tracker.pending():
            kind, st = entry_kind(path)
            if kind is not EntryKind.FILE:
                self._consider(path)  # gone, or swapped for a link or a FIFO since it was seen
                continue
            assert st is not None  # entry_kind stats every FILE
            if not self.tracker.observe(path, st.st_size, st.st_mtime, now):
                continue
            if self._next_probe.get(path, 0.0) > now:
                continue
            try:
                info = probe(path)
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
            self._take(path, st, skip=skip_reason(info, self.cfg.watch.min_duration, self.cfg.watch.live_photos))

    def _take(self, path: Path, st: os.stat_result, failure: str | None = None, skip: str | None = None) -> None:
        """A complete file: hash it and queue it, or send it straight to the quarantine."""
        self.tracker.forget(path)
        self._next_probe.pop(path, None)
        try:
            digest = sha256_of(path, on_chunk=self.keepalive)  # a large file on a slow disk takes a while
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
            self.originals.move(self.store.known(row.id))
            return
        if skip:
            # Kept, like every original, but not worth clips: one line, then the archive.
            log.info("%s: skipped, archived without clips: %s", path.name, skip)
            self.store.mark_stable(row.id, st.st_size, st.st_mtime, digest, skipped=skip)
            self.originals.move(self.store.known(row.id))
            return
        self.store.mark_stable(row.id, st.st_size, st.st_mtime, digest)
        log.info("%s: complete (%d bytes, sha256 %s), queued", path.name, st.st_size, digest[:12])
        self.queued()
