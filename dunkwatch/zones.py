"""PURE: ignore zones, polygons in relative coordinates of the upright frame (0..1 each way).

A zone's pixels are greyed out of every frame before any scorer sees it: the motion model finds
nothing there, the cnn's gate passes nothing from there, and the cnn sees the frame greyed the
same way in training as in scoring, so the two cannot drift. A road behind the fence, a path, a
neighbouring court.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Sequence

import numpy as np

Point = tuple[float, float]
Zone = tuple[Point, ...]
Zones = tuple[Zone, ...]
GREY = 128  # mid-grey: no edge or colour a scorer could take for a player


class ZoneError(ValueError):
    pass


def parse_zone(text: str) -> Zone:
    """ "x1,y1 x2,y2 x3,y3 ..." (relative coordinates) -> a zone of three or more points."""
    points = []
    for pair in text.split():
        try:
            x, y = (float(v) for v in pair.split(","))
        except ValueError:
            raise ZoneError(f"{pair!r} is not x,y (e.g. 0.1,0.2)") from None
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ZoneError(f"{pair!r}: coordinates are relative to the frame, between 0 and 1")
        points.append((x, y))
    if len(points) < 3:
        raise ZoneError(f"{text!r}: a zone needs at least three points")
    return tuple(points)


def format_zone(zone: Zone) -> str:
    return " ".join(f"{x:.4g},{y:.4g}" for x, y in zone)


def as_zones(data: Iterable[Sequence[Sequence[float]]]) -> Zones:
    """Zones from JSON lists ([[[x, y], ...], ...]), checked like parsed ones."""
    return tuple(parse_zone(" ".join(f"{float(x)},{float(y)}" for x, y in zone)) for zone in data)


def zone_mask(zones: Zones, height: int, width: int) -> np.ndarray:
    """True where a pixel lies in a zone."""
    import cv2

    mask = np.zeros((height, width), np.uint8)
    for zone in zones:
        pts = np.round(np.asarray(zone, np.float64) * [width, height]).astype(np.int32)
        cv2.fillPoly(mask, [pts], 1)
    return mask.astype(bool)


class ZoneFilter:
    """Greys the zones out of each frame; the mask is made once per frame size."""

    def __init__(self, zones: Zones) -> None:
        self.zones = zones
        self._masks: dict[tuple[int, int], np.ndarray] = {}

    def apply(self, frame: np.ndarray) -> np.ndarray:
        if not self.zones:
            return frame
        key = frame.shape[:2]
        mask = self._masks.get(key)
        if mask is None:
            mask = self._masks[key] = zone_mask(self.zones, *key)
        out = frame.copy()
        out[mask] = GREY
        return out

    def frames(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        return (self.apply(f) for f in frames)
