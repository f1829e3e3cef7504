"""The OpenCV frame reader dunkwatch used before the one PyAV reader (issue 23), kept here only as
the reference the PyAV reader is checked against: OpenCV decodes every frame, turns it upright and
shrinks it by area, and the same sampling (VideoReader._sampled) picks the frames."""

from __future__ import annotations

from typing import Iterator

import cv2
import imutils

from dunkwatch.errors import VideoError
from dunkwatch.imageops import shrink_to_side
from dunkwatch.pipeline.scoring.decode import Frame, VideoReader


class OpenCVReader(VideoReader):
    def __iter__(self) -> Iterator[Frame]:
        cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            raise VideoError(f"{self.path}: not a readable video (OpenCV cannot open it)")
        try:
            yield from self._sampled(self._frames(cap))
        finally:
            cap.release()

    def _frames(self, cap: cv2.VideoCapture):
        cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
        turns_itself = bool(cap.get(cv2.CAP_PROP_ORIENTATION_AUTO))
        if self.start > 0:
            cap.set(cv2.CAP_PROP_POS_MSEC, self.start * 1000.0)

        def fetch():
            ok, bgr = cap.retrieve()
            if not ok or bgr is None:
                return None
            bgr = shrink_to_side(bgr, self.max_side)
            if self.info.rotation and not turns_itself:
                bgr = imutils.rotate_bound(bgr, self.info.rotation)
            return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

        while cap.grab():
            yield cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0, fetch
