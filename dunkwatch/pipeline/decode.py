"""VideoReader: upright RGB frames with container timestamps, sampled at a given rate, streamed."""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, TypeVar

import cv2
import imutils
import numpy as np

from dunkwatch.errors import VideoError
from dunkwatch.imageops import shrink_to_side
from dunkwatch.media import MediaInfo, probe

log = logging.getLogger(__name__)

_TRUNCATION_SLACK_S = 2.0  # containers may list a little more duration than the last frame


@dataclass(frozen=True)
class Frame:
    time: float  # seconds, the frame's presentation time in the container
    image: np.ndarray  # uint8 RGB, upright, HxWx3


class VideoReader:
    """Iterate a video's frames at `sample_fps`, never holding more than one decoded frame."""

    def __init__(self, path: str | Path, sample_fps: float, max_side: int | None = None,
                 info: MediaInfo | None = None, opencv_rotates: bool = True, start: float = 0.0):
        self.path = Path(path)
        self.sample_fps = float(sample_fps)
        self.max_side = max_side
        self.info = info or probe(self.path)
        self.last_time = 0.0  # for progress reporting
        self.opencv_rotates = opencv_rotates  # False: always turn frames here (OpenCV builds without it)
        self.start = max(0.0, start)  # seconds: training extracts only the ranges it lacks

    def __iter__(self) -> Iterator[Frame]:
        cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            raise VideoError(f"{self.path}: not a readable video (OpenCV cannot open it)")
        try:
            yield from self._frames(cap)
        finally:
            cap.release()

    def _frames(self, cap: cv2.VideoCapture) -> Iterator[Frame]:
        rotation = self.info.rotation
        # OpenCV's FFmpeg backend applies rotation metadata itself when it can; else we turn the frame.
        cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1 if self.opencv_rotates else 0)
        opencv_rotates = bool(cap.get(cv2.CAP_PROP_ORIENTATION_AUTO))
        step = 1.0 / self.sample_fps
        # Accept a frame up to half a source frame early, so float timestamps never skip a sample.
        tol = min(step / 2, 0.5 / self.info.fps) if self.info.fps > 0 else 1e-3
        next_time = 0.0
        if self.start > 0:
            # Seeks to the keyframe before and decodes forward, so the first frame kept is at `start` or after.
            cap.set(cv2.CAP_PROP_POS_MSEC, self.start * 1000.0)
            next_time = self.start
        count = 0
        while cap.grab():
            t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if t < next_time - tol:
                continue
            ok, bgr = cap.retrieve()
            if not ok or bgr is None:
                continue
            while next_time <= t + tol:
                next_time += step
            bgr = shrink_to_side(bgr, self.max_side)  # shrink first: everything after is cheaper
            if rotation and not opencv_rotates:
                bgr = imutils.rotate_bound(bgr, rotation)
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            self.last_time = t
            count += 1
            yield Frame(t, rgb)
        if count == 0:
            raise VideoError(f"{self.path}: not a readable video (no frame could be decoded)")
        # A half-synced or damaged file ends early: say so rather than cut clips from half a video.
        duration = self.info.duration
        if duration > 0 and self.last_time < duration - max(_TRUNCATION_SLACK_S, 0.05 * duration):
            raise VideoError(f"{self.path}: truncated or damaged: frames stop at {self.last_time:.1f} s "
                             f"of {duration:.1f} s")


T = TypeVar("T")
_DONE = object()


def prefetched(items: Iterable[T], depth: int = 8) -> Iterator[T]:
    """Iterate `items` in a thread, `depth` ahead: decoding (which releases the GIL) overlaps
    with scoring on another core. Errors surface in the consumer; closing the consumer stops it."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it in its own thread
            buffer.put(exc)

    thread = threading.Thread(target=produce, name="decode", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full buffer
            try:
                buffer.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.1)
