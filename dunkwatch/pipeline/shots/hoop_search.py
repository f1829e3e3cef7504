"""PURE: the hoop, found where the ball's arcs stop being free flight.

A shot is a ball in free flight: its height a parabola in time, its width a straight line. Where
the flight ends early (the rim, the backboard at the rim, the net) the track leaves its parabola.
Over a practice those ends gather at one place: the hoop. A court whose videos show no arcs, or
arcs that end everywhere (a ball bounced in a hallway), has no hoop, and dunkwatch cuts presence
as before. The box is sized by the balls seen in flight: a rim is about two balls wide.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dunkwatch.pipeline.shots.ball_tracks import FrameBlobs, Track, ball_tracks

MIN_FLIGHT_POINTS = 6  # a track this long can show a parabola and where it ends
RIM_PER_BALL = 2.0  # a rim's inner diameter is 1.9 balls (45 cm over 24 cm); its box a little more
NET_PER_BALL = 1.6  # the box below the rim holds the net, about 1.6 balls deep as a camera sees it


@dataclass(frozen=True)
class FlightEnd:
    time: float
    x: float  # the ball's centre where its flight ended (tap pixels)
    y: float
    diameter: float
    rise: float  # how far the ball rose above that end (pixels): an arc, not a roll


def _fits(t: np.ndarray, x: np.ndarray, y: np.ndarray, d: float) -> bool:
    """Whether a parabola in height and a line in width explain every point to three quarters of a
    ball: drag, blur and perspective bend a real flight by less; a rim or backboard by more."""
    ty, tx = np.polyfit(t - t[0], y, 2), np.polyfit(t - t[0], x, 1)
    if ty[0] <= 0:
        return False  # y grows downwards: gravity makes the squared term positive
    miss = np.hypot(np.polyval(ty, t - t[0]) - y, np.polyval(tx, t - t[0]) - x)
    return bool(miss.max() <= 0.75 * d + 1.0)


@dataclass(frozen=True)
class Flight:
    first: int  # index of the track's first point in free flight (the release, when it was seen)
    last: int  # index of its last: where the flight ended
    apex: int


def free_flight(track: Track) -> Flight | None:
    """The stretch of a track that is free flight around its highest point, grown from the apex
    both ways while a parabola explains it; None when the track holds no arc."""
    if len(track) < MIN_FLIGHT_POINTS:
        return None
    t, x, y = np.asarray(track.times), np.asarray(track.xs), np.asarray(track.ys)
    d = track.diameter
    apex = int(np.argmin(y))
    lo, hi = max(0, apex - 2), min(len(t), apex + 3)
    if hi - lo < 4 or not _fits(t[lo:hi], x[lo:hi], y[lo:hi], d):
        return None
    # Each way on its own, from the apex: the hands before the release would bend the fit of the
    # descent, and the rim or net after the impact the fit of the ascent.
    start, end = lo, hi
    while end < len(t) and _fits(t[lo : end + 1], x[lo : end + 1], y[lo : end + 1], d):
        end += 1
    while start > 0 and _fits(t[start - 1 : hi], x[start - 1 : hi], y[start - 1 : hi], d):
        start -= 1
    lo, hi = start, end
    if hi - lo < MIN_FLIGHT_POINTS or hi - 1 <= apex or apex <= lo:
        return None  # it never rose, or never came down
    return Flight(lo, hi - 1, apex)


def flight_end(track: Track) -> FlightEnd | None:
    """Where a track leaves free flight after its highest point, or None when it is no arc."""
    flight = free_flight(track)
    if flight is None:
        return None
    i, d = flight.last, track.diameter
    rise = float(track.ys[i] - track.ys[flight.apex])
    if rise < 1.5 * d:
        return None
    return FlightEnd(float(track.times[i]), float(track.xs[i]), float(track.ys[i]), d, rise)


def find_hoop_box(
    frames: list[FrameBlobs], width: int, height: int, min_shots: int = 2
) -> tuple[float, float, float, float] | None:
    """(x, y, w, h) in tap pixels of the hoop, or None: the place where most arcs end, when at
    least `min_shots` of them end within a rim's width across and a net's depth down of it."""
    tracks = ball_tracks(frames, d_min=max(3.0, 0.005 * max(width, height)), d_max=0.08 * max(width, height))
    ends = [e for e in (flight_end(tr) for tr in tracks) if e is not None and e.y < 0.8 * height]
    if len(ends) < min_shots:
        return None
    pts = np.array([(e.x, e.y) for e in ends])
    ds = np.array([e.diameter for e in ends])
    ball = float(np.median(ds))
    # Arcs end anywhere across the rim (a rim's width), and from the board just over it down to the
    # net's bottom where a swish is lost (a ball over the rim, the net below it).
    near = (np.abs(pts[:, None, 0] - pts[None, :, 0]) <= RIM_PER_BALL * ball) & (
        np.abs(pts[:, None, 1] - pts[None, :, 1]) <= (1.0 + NET_PER_BALL) * ball
    )
    votes = near.sum(axis=1)
    best = int(np.argmax(votes))
    if votes[best] < min_shots:
        return None
    members = pts[near[best]]
    cx, cy = np.median(members[:, 0]), np.median(members[:, 1])
    ball = float(np.median(ds[near[best]]))
    w, h = RIM_PER_BALL * ball, NET_PER_BALL * ball
    # A flight ends with the ball's centre half a ball above the rim it meets.
    return float(cx - w / 2), float(cy + 0.3 * ball), float(w), float(h)
