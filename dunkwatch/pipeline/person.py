"""A person prior: does this frame show a person? Pure OpenCV on frames handed in; no I/O.

The motion model learns the empty court from the footage itself, so it can take a person who
stays still, or who fills a short clip, for the court. A detector that knows what a person
looks like settles that where it matters: on the few candidate frames the motion model is about
to call the empty scene. OpenCV's HOG people detector ships inside the opencv wheel, so nothing
is downloaded. It misses many people (a back view, someone sitting, a high camera) but almost
never fires on an empty scene, so it is used one way only: a detection says "not empty"; no
detection says nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dunkwatch.imageops import shrink_to_side

# HOG's window is 64x128 and finds bodies about 100 pixels tall and up (it only shrinks the image
# from there). Looking at frames scaled to 960 pixels on the longer side (540 on the shorter) finds
# a person from a fifth of the frame's height up: a player across a half court from a tripod.
DETECT_SIDE = 960
KEEP_SIDE = 480  # kept at half that and scaled up to look: HOG's 8-pixel cells see no finer detail
# SVM margin a window must clear. 0.5 fired on no empty frame of seven held-out court and room
# videos (issue 19) nor of the shared video; lower finds more people and risks clutter.
HIT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Box:
    """A detected person, in fractions of the frame's width and height (0..1)."""

    x0: float
    y0: float
    x1: float
    y1: float

    def mask(self, height: int, width: int) -> np.ndarray:
        """The box on a height x width grid, at least one cell whatever its size."""
        x0, y0 = int(self.x0 * width), int(self.y0 * height)
        inside = np.zeros((height, width), bool)
        inside[y0:max(y0 + 1, int(np.ceil(self.y1 * height))), x0:max(x0 + 1, int(np.ceil(self.x1 * width)))] = True
        return inside


class PersonDetector:
    """HOG people detector on a grey copy of a frame, looked at DETECT_SIDE pixels wide."""

    side = KEEP_SIDE  # frames must reach the scorer at least this large

    def __init__(self, hit_threshold: float = HIT_THRESHOLD):
        self.hit_threshold = hit_threshold
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    @staticmethod
    def prepare(frame: np.ndarray) -> bytes:
        """What to keep of a frame for a later look: grey, KEEP_SIDE, as JPEG (about 20 kB)."""
        grey = cv2.cvtColor(shrink_to_side(frame, KEEP_SIDE), cv2.COLOR_RGB2GRAY)
        return cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()

    def find(self, kept: bytes) -> tuple[Box, ...]:
        """People in a frame kept by prepare()."""
        grey = cv2.imdecode(np.frombuffer(kept, np.uint8), cv2.IMREAD_GRAYSCALE)
        h, w = grey.shape[:2]
        scale = DETECT_SIDE / max(h, w)
        grey = cv2.resize(grey, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LINEAR)
        h, w = grey.shape[:2]
        if min(h, w) < 128:
            return ()  # smaller than one detection window
        rects, _ = self._hog.detectMultiScale(grey, hitThreshold=self.hit_threshold, winStride=(8, 8),
                                              padding=(8, 8), scale=1.05)
        return tuple(Box(x / w, y / h, (x + bw) / w, (y + bh) / h) for x, y, bw, bh in rects)
