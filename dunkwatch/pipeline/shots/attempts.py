"""PURE: shot attempts and their results, from the moving blobs of every frame and the hoop.

An attempt is a ball in free flight (pipeline/shots/hoop_search.py finds the arcs) that rose above the
rim and came down at the hoop: on the rim, the backboard by it, through the net, or past it (an
airball). A ball bounced under the hoop never rises above the rim, and a player hanging on the
net is no ball in flight: neither is an attempt. A dunk carries the ball: a large moving thing
reaching over the rim, then the ball out through the net.

The result is what the ball does next: seen inside the net or dropping out of its bottom, a make;
seen beside the hoop at or below the rim, a miss; not seen again, unknown. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from dunkwatch.pipeline.shots.ball_tracks import AREA, BH, BW, CX, CY, FrameBlobs, Track, ball_like, ball_tracks
from dunkwatch.pipeline.shots.hoop_search import free_flight

BALL_PER_RIM = 0.5  # a ball is about half a rim's box wide
SAME_SHOT = 1.2  # seconds: a second rim contact within this is the same shot (a bounce on the rim)
OUTCOME_WINDOW = 1.2  # seconds after the rim in which the ball's path decides the result
GATHER = 0.5  # seconds before release the shooter gathers the ball
UNSEEN_LEAD = 1.5  # seconds before the rim an attempt starts at the latest (release and gather, unseen)
SETTLE = 0.7  # seconds after the rim the ball is through the net or bouncing away


class Result(str, Enum):
    MAKE = "make"
    MISS = "miss"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


class Kind(str, Enum):
    SHOT = "shot"  # a jump shot, set shot, layup, free throw or tip: the ball flew to the rim
    DUNK = "dunk"  # the ball was carried over the rim

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class HoopBox:
    """The hoop in tap pixels: (x, y) the rim's left end, w the rim's width, h down to the net's bottom."""

    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def ball(self) -> float:
        return BALL_PER_RIM * self.w


@dataclass(frozen=True)
class Attempt:
    start: float  # the gather, seconds
    release: float | None  # when the ball was first seen in free flight: the release, when it was in view
    rim: float  # when the ball reached the rim (or passed it)
    end: float  # settled: through the net or bouncing away
    result: Result
    kind: Kind
    shooter: tuple[float, float] | None  # where it was shot from (tap pixels: the feet, else the ball at release)


@dataclass(frozen=True)
class _Shot:
    rim: float
    release: float | None
    kind: Kind
    release_at: tuple[float, float] | None


def _near_hoop(x: float, y: float, hoop: HoopBox) -> bool:
    """Within reach of the rim: over it, on the backboard beside it, at the net, or just past it."""
    d = hoop.ball
    return abs(x - hoop.cx) <= 1.5 * hoop.w + d and hoop.y - 3.0 * d <= y <= hoop.y + hoop.h + d


def _flight_shot(track: Track, hoop: HoopBox) -> _Shot | None:
    flight = free_flight(track)
    if flight is None:
        return None
    d = hoop.ball
    if track.ys[flight.apex] > hoop.y - 1.0 * d:
        return None  # never over the rim: a bounce, a pass, a rebound tapped along
    # The rim time: the first point after the apex at the hoop; else where the arc comes down to it.
    for i in range(flight.apex, flight.last + 1):
        if _near_hoop(track.xs[i], track.ys[i], hoop) and track.ys[i] >= hoop.y - 1.5 * d:
            rim = track.times[i]
            break
    else:
        i = flight.last
        if not _near_hoop(track.xs[i], track.ys[i], hoop):
            return None  # the arc came down far from the hoop: a pass, or a ball thrown away
        rim = track.times[i]
    # The first point of free flight: the release, unless the ball flew in from out of view.
    return _Shot(rim, track.times[flight.first], Kind.SHOT, (track.xs[flight.first], track.ys[flight.first]))


def _dunks(frames: list[FrameBlobs], hoop: HoopBox) -> list[_Shot]:
    """A large moving thing over the rim (arms with the ball), then the ball below the rim inside the net."""
    d = hoop.ball
    big_area = 2.5 * np.pi * (d / 2) ** 2  # a lone ball, blurred, stays under 1.5 balls: this is arms with it
    shots: list[_Shot] = []
    over: float | None = None
    for frame in frames:
        b = frame.blobs
        if len(b):
            top = b[:, CY] - b[:, BH] / 2
            left, right = b[:, CX] - b[:, BW] / 2, b[:, CX] + b[:, BW] / 2
            reach = (
                (b[:, AREA] >= big_area)
                & (top <= hoop.y - d)
                & (right >= hoop.x)
                & (left <= hoop.x + hoop.w)
                & (b[:, CY] + b[:, BH] / 2 >= hoop.y)
            )
            if reach.any():
                over = frame.time
        if over is not None and frame.time - over > OUTCOME_WINDOW / 2:
            over = None
        if over is not None and _through(frame, hoop) and not (shots and frame.time - shots[-1].rim < SAME_SHOT):
            shots.append(_Shot(over, None, Kind.DUNK, None))
    return shots


def _balls(frame: FrameBlobs, hoop: HoopBox) -> np.ndarray:
    d = hoop.ball
    return frame.blobs[ball_like(frame.blobs, 0.5 * d, 1.6 * d)]


def _through(frame: FrameBlobs, hoop: HoopBox) -> bool:
    """A ball inside the net, below the rim, or just out of the net's bottom."""
    d, b = hoop.ball, _balls(frame, hoop)
    if not len(b):
        return False
    inside = (b[:, CX] >= hoop.x + 0.1 * hoop.w) & (b[:, CX] <= hoop.x + 0.9 * hoop.w)
    below_rim = (b[:, CY] >= hoop.y + 0.5 * d) & (b[:, CY] <= hoop.y + hoop.h + 2.0 * d)
    return bool((inside & below_rim).any())


def _beside(frame: FrameBlobs, hoop: HoopBox) -> bool:
    """A ball at or below the rim's height, clear of the rim on either side."""
    d, b = hoop.ball, _balls(frame, hoop)
    if not len(b):
        return False
    low = (b[:, CY] >= hoop.y - 0.5 * d) & (b[:, CY] <= hoop.y + hoop.h + 3.0 * d)
    clear = (b[:, CX] < hoop.x - 0.5 * d) | (b[:, CX] > hoop.x + hoop.w + 0.5 * d)
    near = np.abs(b[:, CX] - hoop.cx) <= 2.5 * hoop.w
    return bool((low & clear & near).any())


def judge(frames: list[FrameBlobs], times: np.ndarray, rim: float, hoop: HoopBox) -> Result:
    """The first place the ball is seen after the rim decides: in or out of the net. Twice inside
    makes a make, so a ball passing once in front of the net is not one."""
    lo, hi = np.searchsorted(times, rim, side="left"), np.searchsorted(times, rim + OUTCOME_WINDOW, side="right")
    inside = 0
    for frame in frames[lo:hi]:
        if _through(frame, hoop):
            inside += 1
            if inside >= 2:
                return Result.MAKE
        elif _beside(frame, hoop):
            return Result.MISS
    return Result.MAKE if inside else Result.UNKNOWN


def _shooter(frames: list[FrameBlobs], times: np.ndarray, shot: _Shot, hoop: HoopBox) -> tuple[float, float] | None:
    """The shooter's feet at release: the lowest reach of what moved under the ball in the second
    before it (the steps into the shot, the dribble, the jump move the legs; the ball itself and
    specks are too small to count); the ball's own place when nothing did."""
    if shot.release is None or shot.release_at is None:
        return None
    x, y = shot.release_at
    body = 2.0 * np.pi * (hoop.ball / 2) ** 2
    lo, hi = np.searchsorted(times, shot.release - 1.0), np.searchsorted(times, shot.release + 0.1, side="right")
    best: tuple[float, float] | None = None
    for frame in frames[lo:hi]:
        b = frame.blobs
        if not len(b):
            continue
        bottom = b[:, CY] + b[:, BH] / 2
        under = (np.abs(b[:, CX] - x) <= b[:, BW] / 2 + 2 * hoop.ball) & (bottom > y) & (b[:, AREA] >= body)
        if under.any():
            j = int(np.argmax(np.where(under, bottom, -1.0)))
            if best is None or bottom[j] > best[1]:
                best = (float(b[j, CX]), float(bottom[j]))
    return best or (float(x), float(y))


def find_attempts(frames: list[FrameBlobs], hoop: HoopBox) -> list[Attempt]:
    """Every attempt at this hoop, in time order."""
    if not frames:
        return []
    times = np.array([f.time for f in frames])
    d = hoop.ball
    tracks = ball_tracks(frames, 0.5 * d, 1.6 * d)
    shots = [s for s in (_flight_shot(t, hoop) for t in tracks) if s is not None] + _dunks(frames, hoop)
    shots.sort(key=lambda s: s.rim)
    kept: list[_Shot] = []
    for shot in shots:
        if kept and shot.rim - kept[-1].rim < SAME_SHOT:
            continue  # a bounce on the rim, or the same dunk seen twice
        kept.append(shot)
    attempts = []
    for shot in kept:
        result = Result.MAKE if shot.kind is Kind.DUNK else judge(frames, times, shot.rim, hoop)
        # Never less than UNSEEN_LEAD before the rim: a ball first seen late in its flight had a gather too.
        start = (
            min(shot.release - GATHER, shot.rim - UNSEEN_LEAD) if shot.release is not None else shot.rim - UNSEEN_LEAD
        )
        attempts.append(
            Attempt(
                max(0.0, start),
                shot.release,
                shot.rim,
                shot.rim + SETTLE,
                result,
                shot.kind,
                _shooter(frames, times, shot, hoop),
            )
        )
    return attempts
