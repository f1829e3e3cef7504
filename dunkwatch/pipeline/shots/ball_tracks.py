"""PURE: small moving things in a video's frames, and the balls among them as tracks.

Fed every decoded frame as a small grey image, `MovingBlobs` keeps, per frame, the connected
regions that differ from both the frame before and the frame after (a double difference: it
outlines where a thing *is*, not where it was). That is all the later stages need, so the frames
themselves are never kept. `ball_tracks` links the round, ball-sized regions from frame to frame.
Pure numpy and OpenCV; no files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

MAX_BLOBS = 48  # per frame, largest first: a ball is rarely among the 48 largest moving things by accident
# Columns of FrameBlobs.blobs.
CX, CY, AREA, BW, BH = range(5)


@dataclass(frozen=True)
class FrameBlobs:
    time: float  # seconds, the frame's presentation time
    blobs: np.ndarray  # n x 5 float32: centre x, centre y, area, box width, box height (tap pixels)


class MovingBlobs:
    """Fed (time, grey frame) in order; `feed` returns the blobs of the frame before, once it has
    the frames around it."""

    def __init__(self, min_area: int = 4) -> None:
        self.min_area = min_area
        self._prev: list[tuple[float, np.ndarray]] = []

    def feed(self, time: float, grey: np.ndarray) -> FrameBlobs | None:
        grey = cv2.GaussianBlur(grey, (3, 3), 0)
        self._prev.append((time, grey))
        if len(self._prev) < 3:
            return None
        (_, before), (t_mid, mid), (_, after) = self._prev[-3:]
        del self._prev[0]
        if before.shape != mid.shape or mid.shape != after.shape:
            return FrameBlobs(t_mid, np.zeros((0, 5), np.float32))
        d_before = cv2.absdiff(mid, before)
        d_after: np.ndarray = cv2.absdiff(mid, after)
        both = cv2.min(d_before, d_after)
        # Sensor and compression noise set the bar: a changed pixel stands well clear of the typical one.
        noise = float(np.median(d_after[::4, ::4]))  # a sixteenth of the pixels tells the typical change
        mask = cv2.threshold(both, max(10.0, 3.0 * noise + 6.0), 1, cv2.THRESH_BINARY)[1]
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
        stats = _components(mask)
        if len(stats) == 0:
            return FrameBlobs(t_mid, np.zeros((0, 5), np.float32))
        stats = stats[stats[:, cv2.CC_STAT_AREA] >= self.min_area]
        order = np.argsort(-stats[:, cv2.CC_STAT_AREA])[:MAX_BLOBS]
        # The box's centre, not the centroid: the box's edges (centre -+ half its size) say how high
        # a moving thing reaches and where its feet are; a tall blob's mass is rarely at its middle.
        left, top = stats[order, cv2.CC_STAT_LEFT], stats[order, cv2.CC_STAT_TOP]
        w, h = stats[order, cv2.CC_STAT_WIDTH], stats[order, cv2.CC_STAT_HEIGHT]
        blobs = np.column_stack([left + (w - 1) / 2.0, top + (h - 1) / 2.0, stats[order, cv2.CC_STAT_AREA], w, h])
        return FrameBlobs(t_mid, blobs.astype(np.float32))


def _components(mask: np.ndarray) -> np.ndarray:
    """connectedComponentsWithStats' rows (background left out) for the part of the mask where
    anything is: labelling every pixel of a frame in which one player moves costs most of the tap.
    The part starts on even rows and columns, so OpenCV scans the same 2 x 2 blocks in the same
    order and numbers the components as it would on the whole mask."""
    x, y, w, h = cv2.boundingRect(mask)
    if w == 0:
        return np.zeros((0, 5), np.int32)
    x0, y0 = x - x % 2, y - y % 2
    found = cv2.connectedComponentsWithStats(mask[y0 : y + h, x0 : x + w], connectivity=8)[2]
    stats = np.asarray(found[1:], np.int32)  # int32 already: no copy
    stats[:, cv2.CC_STAT_LEFT] += x0
    stats[:, cv2.CC_STAT_TOP] += y0
    return stats


def ball_like(blobs: np.ndarray, d_min: float, d_max: float) -> np.ndarray:
    """Which blobs are round and ball-sized: diameter (from the area) in [d_min, d_max], filling
    their box, not much longer one way than the other (motion blur stretches a fast ball a little)."""
    if len(blobs) == 0:
        return np.zeros(0, bool)
    area, bw, bh = blobs[:, AREA], blobs[:, BW], blobs[:, BH]
    d = 2.0 * np.sqrt(area / np.pi)
    fill = area / np.maximum(bw * bh, 1.0)
    aspect = np.maximum(bw, bh) / np.maximum(np.minimum(bw, bh), 1.0)
    return (d >= d_min) & (d <= d_max) & (fill >= 0.35) & (aspect <= 2.5)


@dataclass
class Track:
    """One ball, frame by frame: times and centres (tap pixels) and its diameter there."""

    times: list[float] = field(default_factory=list)
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    ds: list[float] = field(default_factory=list)
    missed: int = 0  # frames since it was last seen

    def add(self, t: float, x: float, y: float, d: float) -> None:
        self.times.append(t)
        self.xs.append(x)
        self.ys.append(y)
        self.ds.append(d)
        self.missed = 0

    def predict(self, t: float) -> tuple[float, float]:
        if len(self.times) < 2 or self.times[-1] == self.times[-2]:
            return self.xs[-1], self.ys[-1]
        k = (t - self.times[-1]) / (self.times[-1] - self.times[-2])
        return self.xs[-1] + k * (self.xs[-1] - self.xs[-2]), self.ys[-1] + k * (self.ys[-1] - self.ys[-2])

    @property
    def diameter(self) -> float:
        return float(np.median(self.ds))

    def __len__(self) -> int:
        return len(self.times)


def ball_tracks(
    frames: list[FrameBlobs], d_min: float, d_max: float, max_missed: int = 2, min_points: int = 3
) -> list[Track]:
    """Ball-like blobs linked frame to frame, nearest to each track's predicted place first; a
    track ends when its ball is unseen for more than `max_missed` frames."""
    active: list[Track] = []
    done: list[Track] = []
    for frame in frames:
        balls = frame.blobs[ball_like(frame.blobs, d_min, d_max)]
        ds = 2.0 * np.sqrt(balls[:, AREA] / np.pi) if len(balls) else np.zeros(0)
        pairs = []
        for ti, track in enumerate(active):
            px, py = track.predict(frame.time)
            step = 0.0 if len(track) < 2 else float(np.hypot(track.xs[-1] - track.xs[-2], track.ys[-1] - track.ys[-2]))
            gate = (5.0 if len(track) < 2 else 2.5) * track.diameter + 0.5 * step
            for bi in range(len(balls)):
                dist = float(np.hypot(balls[bi, CX] - px, balls[bi, CY] - py))
                if dist <= gate:
                    pairs.append((dist, ti, bi))
        used_t, used_b = set(), set()
        for _, ti, bi in sorted(pairs):
            if ti in used_t or bi in used_b:
                continue
            used_t.add(ti)
            used_b.add(bi)
            active[ti].add(frame.time, float(balls[bi, CX]), float(balls[bi, CY]), float(ds[bi]))
        still: list[Track] = []
        for ti, track in enumerate(active):
            if ti not in used_t:
                track.missed += 1
            (done if track.missed > max_missed else still).append(track)
        active = still
        for bi in range(len(balls)):
            if bi not in used_b:
                t = Track()
                t.add(frame.time, float(balls[bi, CX]), float(balls[bi, CY]), float(ds[bi]))
                active.append(t)
    done.extend(active)
    return [t for t in done if len(t) >= min_points]


class BlobCollector:
    """A decoder tap (decode.GreyTap): every frame's moving blobs, in order, for the hoop search
    and the attempts. Keeps about 1 kB a frame, never a frame."""

    def __init__(self, side: int, fps: float = 28.0) -> None:
        self.side = side  # the longer side of the grey frames it is fed
        # At most this many a second: thinning a faster video to it never leaves fewer than half (14,
        # pyav_decoder.GREY_MIN_FPS), a dozen points of a second's arc; more add cost, not arcs.
        self.fps = fps
        self.size: tuple[int, int] | None = None  # (width, height) of those frames
        self.frames: list[FrameBlobs] = []
        self._blobs = MovingBlobs()

    def feed(self, time: float, grey: np.ndarray) -> None:
        self.size = (grey.shape[1], grey.shape[0])
        found = self._blobs.feed(time, grey)
        if found is not None:
            self.frames.append(found)
