"""From a path the watcher or a scan reported to a complete, hashed video in the journal.

The rules here are small pure pieces (`is_candidate`, `FileStabilityTracker`) plus the
filesystem helper that feeds them (`scan_inbox`; hashing is `fsutil.sha256_of`), so each is testable on its own.
"""

from __future__ import annotations

import os
import stat
from enum import Enum
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Iterable, Iterator

from dunkwatch.media import MediaInfo


def is_candidate(path: Path, inbox: Path, extensions: Iterable[str], ignore: Iterable[str]) -> bool:
    """A video by its extension, and no part of its path inside the inbox matches an ignore pattern."""
    try:
        rel = Path(path).relative_to(inbox)
    except ValueError:
        return False
    if not rel.parts:
        return False
    patterns = tuple(ignore)
    # Sync clients hide work in progress in dot folders too, so every component is checked.
    if any(fnmatchcase(part, pat) for part in rel.parts for pat in patterns):
        return False
    suffix = rel.suffix.lower().lstrip(".")
    return suffix in {e.lower().lstrip(".") for e in extensions}


class EntryKind(Enum):
    FILE = "a regular file"  # the only kind ever opened
    SYMLINK = "a symbolic link"  # never followed: it could point at any file the service can read
    OTHER = "not a regular file"  # FIFO, socket, device, a folder named like a video: opening can block
    GONE = "gone"


def entry_kind(path: Path) -> tuple[EntryKind, os.stat_result | None]:
    """What an inbox entry is, by lstat: never follows a link, never opens anything."""
    try:
        st = os.lstat(path)
    except OSError:
        return EntryKind.GONE, None
    if stat.S_ISLNK(st.st_mode):
        return EntryKind.SYMLINK, st
    return (EntryKind.FILE if stat.S_ISREG(st.st_mode) else EntryKind.OTHER), st


class FileStabilityTracker:
    """A file is stable once its (size, mtime) has not changed for `stable_seconds`.

    Pure: the caller passes each observation and the current time, so tests need no clock.
    """

    def __init__(self, stable_seconds: float) -> None:
        self.stable_seconds = stable_seconds
        self._last: dict[Path, tuple[int, float, float]] = {}  # path -> (size, mtime, unchanged since)

    def observe(self, path: Path, size: int, mtime: float, now: float) -> bool:
        previous = self._last.get(path)
        if previous is None or previous[:2] != (size, mtime):
            self._last[path] = (size, mtime, now)
            return False
        return now - previous[2] >= self.stable_seconds

    def unchanged_for(self, path: Path, now: float) -> float:
        previous = self._last.get(path)
        return 0.0 if previous is None else now - previous[2]

    def forget(self, path: Path) -> None:
        self._last.pop(path, None)

    def pending(self) -> list[Path]:
        return list(self._last)

    def __contains__(self, path: Path) -> bool:
        return path in self._last


def scan_inbox(inbox: Path, extensions: Iterable[str], ignore: Iterable[str]) -> Iterator[Path]:
    """Every candidate under the inbox; ignored folders are not even entered."""
    patterns = tuple(ignore)
    extensions = tuple(extensions)
    for root, dirs, files in os.walk(inbox):
        dirs[:] = [d for d in dirs if not any(fnmatchcase(d, p) for p in patterns)]
        for name in files:
            path = Path(root) / name
            if is_candidate(path, inbox, extensions, patterns):
                yield path


LIVE_PHOTO_MAX_SECONDS = 4.0  # an iPhone's Live Photo movie runs about 1.5 to 3 s


def skip_reason(info: MediaInfo, min_duration: float, live_photos: bool) -> str | None:
    """Why a readable video is archived without clips (phone clutter), or None to process it."""
    if info.live_photo and not live_photos and 0 < info.duration <= LIVE_PHOTO_MAX_SECONDS:
        return (
            f"a Live Photo's companion movie ({info.duration:.1f} s, with an Apple content identifier); "
            "set watch.live_photos = true to process these"
        )
    if 0 < info.duration < min_duration:
        return f"{info.duration:.1f} s long, shorter than watch.min_duration ({min_duration:g} s)"
    return None
