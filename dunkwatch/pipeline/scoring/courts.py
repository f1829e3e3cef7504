"""Empty courts remembered from earlier videos, as the motion model matches a window against them.

What is remembered comes in as RememberedScene and what a video confirmed goes out as
LearnedEmpty; scene_memory.py keeps them on disk. Pure numpy and OpenCV.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from dunkwatch.pipeline.scoring.thumbnails import share_changed, thumb_logs

# A remembered court is the same court as a clip's frames when, once aligned, the tone curve
# explains all but this share of the thumbnail: a player covers well under a third of a fixed
# camera's frame, while another court, room or framing differs almost everywhere.
COURT_SHARE = 0.3
MAX_NUDGE = 0.05  # a tripod nudged by up to this share of the frame's side is still the same framing


@dataclass(frozen=True)
class RememberedScene:
    """Empty-court images of one camera framing and light, learnt from earlier videos."""

    key: str
    images: np.ndarray  # n x H x W x 3 uint8 at the motion model's analysis size


@dataclass(frozen=True)
class LearnedEmpty:
    """An empty-court image this video confirmed, for the scene memory to keep."""

    image: np.ndarray  # H x W x 3 uint8 at analysis size
    scene: str | None  # the remembered scene it was matched to, None when new


@dataclass(frozen=True)
class CourtMatch:
    key: str  # the remembered scene
    images: np.ndarray  # its images shifted onto this camera, n x H x W x 3 float32
    same: bool  # the window's look is this court, not the court plus something


class RememberedCourts:
    """The empty courts of earlier videos, as the motion model matches a window against them:
    candidate by candidate (where the window shows the court empty), or as a whole court, aligned,
    where the window's look is the court plus something that stayed."""

    def __init__(self, remembered: Sequence[RememberedScene], same_scene: float) -> None:
        self.same_scene = same_scene
        # Matching needs each image's size and thumbnail; the images only to stand in for the court.
        self.scenes = [
            (r.key, r.images.shape[1:], np.stack([thumb_logs(i) for i in r.images]), r.images)
            for r in remembered
            if len(r.images)
        ]

    def alike_candidates(self, logs: np.ndarray, shape: tuple, tolerance: np.ndarray) -> tuple[str | None, np.ndarray]:
        """(scene key, candidates alike to its images) for the remembered scene most candidates
        match; (None, []) when none does: a moved camera, another court or other light."""
        best_key, best = None, np.zeros(0, bool)
        for key, scene_shape, thumbs, _ in self.scenes:
            if scene_shape != shape or thumbs.shape[1] != logs.shape[1]:
                continue
            alike = np.zeros(len(logs), bool)
            for ref in thumbs:
                alike |= share_changed(ref, logs, tolerance) < self.same_scene
            if alike.sum() > best.sum():
                best_key, best = key, alike
        return best_key, best

    def court(self, here: np.ndarray, typical: np.ndarray, tolerance: np.ndarray) -> CourtMatch | None:
        """The remembered court whose image, shifted onto `here` (one of the window's images) by at
        most a nudge, the tone curve maps onto `typical` (the window's empty-looking thumbnail) in
        all but COURT_SHARE of the pixels; None when none does: another court, a moved camera."""
        best = None
        for key, shape, _, images in self.scenes:
            if shape != here.shape:
                continue
            aligned = [a for a in (align_to(image, here) for image in images) if a is not None]
            for shifted in aligned:
                share = float(share_changed(thumb_logs(shifted), typical[None], tolerance)[0])
                if share < COURT_SHARE and (best is None or share < best[0]):
                    best = (share, key, aligned)
        if best is None:
            return None
        share, key, aligned = best
        return CourtMatch(key, np.stack(aligned).astype(np.float32), share < self.same_scene)


def align_to(image: np.ndarray, to: np.ndarray) -> np.ndarray | None:
    """`image` shifted onto `to` (a tripod nudged by a few pixels), by phase correlation of their
    brightness; None when the shift is beyond a nudge, a framing of its own."""
    a = image.astype(np.float32).mean(axis=2)
    b = to.astype(np.float32).mean(axis=2)
    window = cv2.createHanningWindow(a.shape[::-1], cv2.CV_32F)
    (dx, dy), _ = cv2.phaseCorrelate(a, b, window)
    if max(abs(dx), abs(dy)) > MAX_NUDGE * max(a.shape):
        return None
    if abs(dx) < 0.25 and abs(dy) < 0.25:
        return image
    shift = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
    return cv2.warpAffine(image, shift, a.shape[::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
