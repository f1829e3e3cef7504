"""Free space for a video's outputs, checked before anything is written.

A full disk is not the video's fault: the video waits in the inbox, untouched, with a log line and
a `status` entry, and no attempt is counted. Checking first means no half-written outbox folder.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from dunkwatch.errors import DunkwatchError

MB = 1024 * 1024
# x264 at the default crf can take twice the bits of a phone's HEVC for the same frames.
REENCODE_GROWTH = 2.0


@dataclass(frozen=True)
class WaitingForSpace:
    """What `status` and the page show while a video waits in the inbox for room for its outputs."""

    video: str
    message: str
    since: float  # time.time()


class OutOfSpace(DunkwatchError):
    """Not enough free space for a video's outputs (or the archive's copy of it)."""


def _existing(path: Path) -> Path:
    """`path`, or its nearest existing ancestor: the file system it is (or would be) on."""
    path = Path(path)
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def free_bytes(path: Path) -> int:
    """Free space for an unprivileged writer on the file system `path` is (or would be) on."""
    return shutil.disk_usage(_existing(path)).free


def _same_file_system(a: Path, b: Path) -> bool:
    return os.stat(_existing(a)).st_dev == os.stat(_existing(b)).st_dev


def check_before_start(video: Path, outbox: Path, archive: Path, reserve_mb: float) -> None:
    """The outbox keeps its reserve; an archive on another disk also needs room for the video's copy."""
    reserve = int(reserve_mb * MB)
    _require(outbox, reserve, f"the reserve (daemon.min_free_mb = {reserve_mb:g})")
    if not _same_file_system(video.parent, archive):
        size = video.stat().st_size
        _require(archive, size + reserve, f"a copy of {video.name} ({size / MB:.0f} MB) plus the reserve")


def outputs_estimate(file_size: int, duration: float, clip_seconds: Sequence[float], reencode: bool, reel: bool) -> int:
    """Bytes the clips (and the reel) of a video will take: its own bitrate over the clipped seconds."""
    if duration <= 0:
        return file_size
    seconds = sum(clip_seconds)
    estimate = file_size / duration * seconds * (REENCODE_GROWTH if reencode else 1.0)
    return int(estimate * (2 if reel and seconds > 0 else 1))


def check_before_export(outbox: Path, needed: int, reserve_mb: float) -> None:
    _require(
        outbox,
        needed + int(reserve_mb * MB),
        f"about {needed / MB:.0f} MB of clips plus the reserve (daemon.min_free_mb = {reserve_mb:g})",
    )


def _require(folder: Path, needed: int, what: str) -> None:
    free = free_bytes(folder)
    if free < needed:
        raise OutOfSpace(f"{folder} has {free / MB:.0f} MB free; {what} needs {needed / MB:.0f} MB")
