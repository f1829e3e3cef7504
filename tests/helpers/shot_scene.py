"""Synthetic half-court footage with a hoop, a shooter and a ball in physically plausible flight.

A fixed camera looks at a wall with a backboard, a rim (a thin orange bar) and a net (a light
trapezoid of mesh lines) above a maple floor. A player (a coloured body with a head, legs and
arms that move on their own) shoots, dunks, dribbles or hangs on the rim; the ball flies on a
gravity parabola in image space (y = y0 + vy t + g t^2 / 2, y grows downwards; x linear), meets
the rim, the net and the floor, and bounces away. Every event is placed at a given time, and
`render_shots` returns the ground truth: the hoop box (relative x, y, w, h: the top edge is the
rim, the height reaches the net's bottom) and, per event, when the ball reached the rim and what
the result is.

Scale: 640 x 360 at 30 fps; the rim is 40 px wide, the ball 20 px, the rim 220 px above the floor
under it (3.05 m), so gravity is 9.81 m/s^2 at 72 px/m. Sensor noise about 3 grey levels.

Events (`Event.kind`):
- make: an arc from the shooter's hands over the rim, down through its centre; the net takes
  the ball's speed (and wiggles), the ball drops out of its bottom to the floor and bounces away.
- rim_out: an arc onto the far side of the rim, a bounce up and sideways (back out towards the
  shooter, side=-1, or on past the rim, +1), a fall to the floor clear of the rim.
- airball: an arc that comes down at rim height 1.5 rim widths short (side=-1) or long (+1).
- dunk: the player runs under the hoop and jumps; arms and ball (one moving shape) rise over the
  rim, the ball is slammed down through the net and drops to the floor.
- bounce: the player dribbles under the hoop; the ball never rises above half-way to the rim.
- hang: the player jumps and grabs the rim (hands at the rim's height), hangs shaking the net for
  `hang` seconds and drops; the ball is nowhere near.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from conftest import encode

WIDTH, HEIGHT, FPS = 640, 360, 30.0
RIM_X, RIM_Y, RIM_W = 400.0, 105.0, 40.0  # the rim's left end and its top edge, pixels
NET_H = 40.0  # from the rim down to the net's bottom
BALL_R = 10.0
FLOOR_Y = 325.0  # the floor under the hoop: where a falling ball lands (its bottom)
FEET_Y = 348.0  # where a shooter stands, nearer the camera
HORIZON = 215  # the wall meets the floor
PX_PER_M = (FLOOR_Y - RIM_Y) / 3.05
G = 9.81 * PX_PER_M  # px/s^2, down
BALL_COLOUR = np.array([178, 78, 32], np.float32)  # orange-brown, darker than the maple floor
SKIN = (150, 100, 75)
SHORTS = (30, 30, 45)
HEAD = (120, 80, 60)

KINDS = ("make", "rim_out", "airball", "dunk", "bounce", "hang")


@dataclass(frozen=True)
class Event:
    kind: str  # one of KINDS
    at: float  # s: the ball at the rim (make, rim_out, airball, dunk), the first dribble (bounce), the grab (hang)
    spot: float = 0.2  # where the shooter stands, share of the width (shots); ignored by dunk, bounce, hang
    flight: float = 1.0  # s from release to the rim (shots)
    side: int = -1  # airball: -1 short, +1 long; rim_out: -1 back towards the shooter, +1 on past the rim
    length: float = 2.5  # s of dribbling (bounce)
    hang: float = 1.0  # s on the rim (hang)
    color: tuple[int, int, int] = (40, 70, 170)  # the player's shirt


@dataclass(frozen=True)
class EventTruth:
    kind: str
    rim: float | None  # s: the ball at the rim's height at the hoop (None: bounce, hang)
    release: float | None  # s: the ball left the hands (shots; the slam for a dunk)
    settled: float | None  # s: the ball's first touch of the floor after the rim
    result: str | None  # "make", "miss", or None when no attempt
    attempt_kind: str | None  # "shot", "dunk", or None


@dataclass(frozen=True)
class ShotTruth:
    path: Path
    width: int
    height: int
    fps: float
    duration: float
    hoop: tuple[float, float, float, float]  # relative x, y, w, h
    events: tuple[EventTruth, ...]

    @property
    def hoop_arg(self) -> str:
        return ",".join(f"{v:.4f}" for v in self.hoop)

    def attempts(self) -> list[EventTruth]:
        return [e for e in self.events if e.result is not None]


def hoop_box() -> tuple[float, float, float, float]:
    return RIM_X / WIDTH, RIM_Y / HEIGHT, RIM_W / WIDTH, NET_H / HEIGHT


# --- the player ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pose:
    x: float  # body centre
    feet: float  # y of the feet (above the floor while jumping)
    hands: tuple[tuple[float, float], tuple[float, float]] | None = None  # None: arms hanging
    stride: float = 0.0  # legs apart at the feet, px (walking)
    color: tuple[int, int, int] = (40, 70, 170)


HEAD_R, TORSO_W, LEG, TORSO = 11, 30, 60, 50  # head radius, torso width, hips above feet, torso length
DUNK_ARM = 66.0  # shoulder to palm, arms stretched: a standing reach of 2.5 m


def shoulders(p: Pose) -> tuple[tuple[float, float], tuple[float, float]]:
    y = p.feet - LEG - TORSO + 4
    return (p.x - TORSO_W / 2 + 3, y), (p.x + TORSO_W / 2 - 3, y)


def draw_player(img: np.ndarray, p: Pose) -> None:
    import cv2

    hips = p.feet - LEG
    top = hips - TORSO
    for side in (-1, 1):  # legs, swinging apart while walking
        cv2.line(
            img,
            (int(p.x + side * 7), int(hips)),
            (int(p.x + side * (7 + p.stride / 2)), int(p.feet)),
            SKIN,
            9,
            cv2.LINE_AA,
        )
    cv2.rectangle(img, (int(p.x - TORSO_W / 2), int(hips - 14)), (int(p.x + TORSO_W / 2), int(hips + 6)), SHORTS, -1)
    cv2.rectangle(img, (int(p.x - TORSO_W / 2), int(top)), (int(p.x + TORSO_W / 2), int(hips - 14)), p.color, -1)
    cv2.circle(img, (int(p.x), int(top - HEAD_R - 2)), HEAD_R, HEAD, -1, cv2.LINE_AA)
    (lx, ly), (rx, ry) = shoulders(p)
    hands = p.hands or ((lx - 6, hips - 4), (rx + 6, hips - 4))
    for (sx, sy), (hx, hy) in zip(((lx, ly), (rx, ry)), hands):
        cv2.line(img, (int(sx), int(sy)), (int(hx), int(hy)), SKIN, 8, cv2.LINE_AA)
        cv2.circle(img, (int(hx), int(hy)), 5, SKIN, -1, cv2.LINE_AA)


# --- the ball -----------------------------------------------------------------------------------


def draw_ball(img: np.ndarray, path: list[tuple[float, float]]) -> None:
    """The ball at the positions it passed while the shutter was open (motion blur), shaded from
    the upper left."""
    xs, ys = [p[0] for p in path], [p[1] for p in path]
    x0, x1 = int(min(xs) - BALL_R - 2), int(max(xs) + BALL_R + 3)
    y0, y1 = int(min(ys) - BALL_R - 2), int(max(ys) + BALL_R + 3)
    x0c, y0c, x1c, y1c = max(0, x0), max(0, y0), min(img.shape[1], x1), min(img.shape[0], y1)
    if x0c >= x1c or y0c >= y1c:
        return
    yy, xx = np.mgrid[y0c:y1c, x0c:x1c].astype(np.float32)
    alpha = np.zeros(xx.shape, np.float32)
    colour = np.zeros(xx.shape + (3,), np.float32)
    for cx, cy in path:
        dx, dy = xx - cx, yy - cy
        a = np.clip(BALL_R + 0.5 - np.hypot(dx, dy), 0.0, 1.0)
        shade = 1.15 - 0.3 * np.clip((dx + dy) / (2 * BALL_R) + 0.5, 0.0, 1.0)  # lit from the upper left
        seam = np.abs(dx - 0.35 * dy) < 0.8  # one dark seam
        shade = np.where(seam, 0.55, shade)
        alpha += a
        colour += a[..., None] * BALL_COLOUR * shade[..., None]
    n = float(len(path))
    a = (alpha / n)[..., None]
    colour = colour / np.maximum(alpha, 1e-6)[..., None]
    patch = img[y0c:y1c, x0c:x1c]
    patch[:] = patch * (1 - a) + colour * a


# --- the court ----------------------------------------------------------------------------------


def background(seed: int = 3) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    img = np.zeros((HEIGHT, WIDTH, 3), np.float32)
    img[:HORIZON] = (200, 200, 194)  # wall
    rows = np.linspace(0.88, 1.0, HEIGHT - HORIZON)[:, None, None]
    img[HORIZON:] = np.array([215, 175, 125], np.float32) * rows  # maple floor
    for x in range(-200, WIDTH + 200, 36):  # boards, converging a little
        cv2.line(img, (x, HORIZON), (int(WIDTH / 2 + (x - WIDTH / 2) * 1.6), HEIGHT), (195, 155, 108), 1)
    cv2.line(img, (0, int(FLOOR_Y) + 2), (WIDTH, int(FLOOR_Y) + 2), (235, 235, 230), 3)  # the baseline
    cx = RIM_X + RIM_W / 2
    bx0, bx1, by0, by1 = int(cx - 62), int(cx + 62), 18, int(RIM_Y + 8)
    cv2.rectangle(img, (int(cx - 6), 0), (int(cx + 6), by0), (90, 90, 95), -1)  # the support
    cv2.rectangle(img, (bx0, by0), (bx1, by1), (242, 242, 242), -1)  # backboard
    cv2.rectangle(img, (bx0, by0), (bx1, by1), (60, 60, 70), 2)
    cv2.rectangle(img, (int(cx - 20), int(RIM_Y - 32)), (int(cx + 20), int(RIM_Y - 2)), (200, 50, 40), 2)
    img += rng.normal(0, 3, img.shape).astype(np.float32)  # fixed texture
    return img


def net_lines(wiggle: float, t: float) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """The net's mesh: strands from the rim to a narrower bottom, and rows across; `wiggle` px
    of sway at the bottom, less higher up."""
    top_y, bottom_y = RIM_Y + 3, RIM_Y + NET_H
    n = 7
    tops = [RIM_X + 1 + i * (RIM_W - 2) / (n - 1) for i in range(n)]
    cx = RIM_X + RIM_W / 2
    bottoms = [cx + (x - cx) * 0.6 for x in tops]

    def sway(frac: float, i: int) -> float:
        return wiggle * frac * math.sin(2 * math.pi * 6.0 * t + 1.3 * i)

    lines = []
    rows = [0.0, 0.33, 0.66, 1.0]
    pts = [
        [(a + (b - a) * r + sway(r, i), top_y + (bottom_y - top_y) * r + 0.5 * abs(sway(r, i + 3))) for r in rows]
        for i, (a, b) in enumerate(zip(tops, bottoms))
    ]
    for i in range(n):  # diagonal strands, as a net's diamonds look from afar
        for k in range(len(rows) - 1):
            lines.append((pts[i][k], pts[min(n - 1, i + 1)][k + 1]))
            lines.append((pts[i][k], pts[max(0, i - 1)][k + 1]))
    for k in range(1, len(rows)):
        lines.append((pts[0][k], pts[-1][k]))
    return lines


def draw_hoop(img: np.ndarray, wiggle: float, t: float) -> None:
    import cv2

    layer = img.copy()
    for (x0, y0), (x1, y1) in net_lines(wiggle, t):
        cv2.line(
            layer,
            (round(x0 * 4), round(y0 * 4)),
            (round(x1 * 4), round(y1 * 4)),
            (250, 250, 250),
            1,
            cv2.LINE_AA,
            shift=2,
        )
    img[:] = 0.25 * img + 0.75 * layer
    cv2.rectangle(img, (int(RIM_X), int(RIM_Y)), (int(RIM_X + RIM_W), int(RIM_Y + 2)), (235, 95, 20), -1)


# --- the ball's physics -------------------------------------------------------------------------


@dataclass
class BallPath:
    """The ball's centre from `t0` at a fine time step; None where nobody sees a free ball (held
    balls are drawn with the hands)."""

    t0: float
    dt: float
    xy: list[tuple[float, float]] = field(default_factory=list)

    def at(self, t: float) -> tuple[float, float] | None:
        k = (t - self.t0) / self.dt
        if k < 0 or k > len(self.xy) - 1:
            return None
        i = int(k)
        f = k - i
        (x0, y0), (x1, y1) = self.xy[i], self.xy[min(i + 1, len(self.xy) - 1)]
        return x0 + (x1 - x0) * f, y0 + (y1 - y0) * f


DT = 1.0 / 480.0
GROUND = FLOOR_Y - BALL_R  # the ball's centre when it touches the floor


def _bounce_away(
    path: BallPath, x: float, y: float, vx: float, vy: float, e: float = 0.6, until: float = 4.0, kept: float = 1.5
) -> float | None:
    """Free flight from (x, y), bouncing on the floor, then rolling, until the ball leaves the frame,
    `until` s pass, or `kept` s after its first touch of the floor (someone out of view picks it
    up: one ball in play at a time); returns the time of that first touch."""
    first, rolling = None, False
    t = path.t0 + len(path.xy) * path.dt
    for _ in range(int(until / path.dt)):
        if rolling:
            vx -= 0.3 * vx * path.dt
            x += vx * path.dt
        else:
            vy += G * path.dt
            x += vx * path.dt
            y += vy * path.dt
            if y >= GROUND and vy > 0:
                y = GROUND
                first = t if first is None else first
                vy, vx = -e * vy, 0.85 * vx
                rolling = abs(vy) < 60  # too small a bounce to see: it rolls on
        path.xy.append((x, y))
        t += path.dt
        if x < -2 * BALL_R or x > WIDTH + 2 * BALL_R or (first is not None and t - first > kept):
            break
    return first


def _aim(release: tuple[float, float], target: tuple[float, float], flight: float) -> tuple[float, float]:
    """Velocity that takes a free ball from `release` to `target` in `flight` s."""
    vx = (target[0] - release[0]) / flight
    vy = (target[1] - release[1] - 0.5 * G * flight**2) / flight
    return vx, vy


def _fly(path: BallPath, x: float, y: float, vx: float, vy: float, seconds: float) -> tuple[float, float, float, float]:
    for _ in range(int(round(seconds / path.dt))):
        vy += G * path.dt
        x += vx * path.dt
        y += vy * path.dt
        path.xy.append((x, y))
    return x, y, vx, vy


# --- one event: the player, the ball and the net over its time -----------------------------------


@dataclass
class Actor:
    start: float  # s: the event owns the player from here ...
    end: float  # ... to here
    pose: Callable[[float], Pose]  # the player during [start, end]
    ball: BallPath | None  # the free ball
    held: Callable[[float], tuple[float, float] | None]  # the ball in the hands
    net: Callable[[float], float]  # net sway, px
    truth: EventTruth


def _smooth(a: float, b: float, f: float) -> float:
    f = min(1.0, max(0.0, f))
    f = f * f * (3 - 2 * f)
    return a + (b - a) * f


def _shot(ev: Event) -> Actor:
    cx = RIM_X + RIM_W / 2
    x = ev.spot * WIDTH
    face = 1.0 if cx > x else -1.0
    release = ev.at - ev.flight
    jump = 16.0  # a small jump shot: up to its top at the release
    up = math.sqrt(2 * jump / G)

    def lift(t: float) -> float:
        s = t - (release - up)
        return max(0.0, G * up * s - 0.5 * G * s * s) if 0 <= s <= 2 * up else 0.0

    def hands_at(t: float) -> tuple[tuple[float, float], tuple[float, float]] | None:
        _, (_, ly) = shoulders(Pose(x, FEET_Y - lift(t)))
        chest = (x + face * 10, ly + 22)
        top = (x + face * 10, ly - 52)  # over the head, arms stretched
        if t < release - 0.6:
            c = chest
        elif t <= release:
            f = (t - (release - 0.6)) / 0.6
            c = (_smooth(chest[0], top[0], f), _smooth(chest[1], top[1], f))
        elif t <= release + 0.35:
            c = top
        elif t <= release + 0.75:
            f = (t - release - 0.35) / 0.4
            if f > 0.8:
                return None
            c = (_smooth(top[0], chest[0], f), _smooth(top[1], chest[1] + 15, f))
        else:
            return None
        return (c[0] - 8, c[1] + 4), (c[0] + 8, c[1] + 4)

    def pose(t: float) -> Pose:
        return Pose(x, FEET_Y - lift(t), hands_at(t), color=ev.color)

    def held(t: float) -> tuple[float, float] | None:
        if release - 1.0 <= t < release:
            h = hands_at(t)
            return ((h[0][0] + h[1][0]) / 2, (h[0][1] + h[1][1]) / 2 - BALL_R + 1) if h else None
        return None

    in_hands = held(release - 1e-6)
    assert in_hands is not None  # the ball is in the shooter's hands until the release
    rx, ry = in_hands
    path = BallPath(release, DT)
    path.xy.append((rx, ry))
    net_from = None
    if ev.kind == "make":
        vx, vy = _aim((rx, ry), (cx, RIM_Y), ev.flight)
        bx, by, vx, vy = _fly(path, rx, ry, vx, vy, ev.flight)
        # The net takes the ball: its sideways speed goes, its fall slows; it leaves at the bottom.
        net_from = ev.at
        vx, vy = 0.2 * vx, 0.5 * vy
        while by < RIM_Y + NET_H + BALL_R * 0.5:
            vx -= vx * path.dt / 0.05
            vy += (150.0 - vy) * path.dt / 0.08  # the net holds it to about 150 px/s
            bx += vx * path.dt + (cx - bx) * path.dt / 0.05
            by += vy * path.dt
            path.xy.append((bx, by))
        settled = _bounce_away(path, bx, by, face * 120.0, vy)  # and bounces on, away from the shooter
        result = "make"
    elif ev.kind == "rim_out":
        contact = (cx + 0.3 * RIM_W * face, RIM_Y - BALL_R * 0.8)  # the far side of the rim
        vx, vy = _aim((rx, ry), contact, ev.flight)
        bx, by, vx, vy = _fly(path, rx, ry, vx, vy, ev.flight)
        net_from = ev.at
        # Off the back of the rim: up, and sideways (back out, or on past the rim), clear of the rim.
        settled = _bounce_away(path, bx, by, ev.side * face * 160.0, -0.4 * vy)
        result = "miss"
    elif ev.kind == "airball":
        target = (cx + ev.side * face * 1.5 * RIM_W, RIM_Y)
        vx, vy = _aim((rx, ry), target, ev.flight)
        bx, by, vx, vy = _fly(path, rx, ry, vx, vy, ev.flight)
        settled = _bounce_away(path, bx, by, vx, vy)
        result = "miss"
    else:
        raise ValueError(ev.kind)

    def net(t: float) -> float:
        if net_from is None or t < net_from:
            return 0.0
        s = t - net_from
        return (3.0 if ev.kind == "make" else 1.5) * math.exp(-s / 0.35) if s < 1.2 else 0.0

    end = max(ev.at + 1.2, release + 0.9)
    return Actor(
        release - 1.1, end, pose, path, held, net, EventTruth(ev.kind, ev.at, release, settled, result, "shot")
    )


def _run(x0: float, x1: float, t0: float, t1: float, t: float) -> tuple[float, float]:
    """x and stride of a player running from x0 (at t0) to x1 (at t1)."""
    f = min(1.0, max(0.0, (t - t0) / max(t1 - t0, 1e-6)))
    moving = 0.0 < f < 1.0
    return x0 + (x1 - x0) * f, 14.0 * math.sin(2 * math.pi * 3.0 * (t - t0)) if moving else 0.0


def _dunk(ev: Event) -> Actor:
    """A two-handed dunk from beside the rim: the run, the jump with the ball overhead, the arms
    cocked back and swung forward over the rim at the top of the jump, the ball slammed down
    through the rim; the hands let go over the rim, snap back and come down with the body."""
    cx = RIM_X + RIM_W / 2
    spot = RIM_X - 150.0
    under = RIM_X - 24.0  # the body beside the rim, the arms reaching over it
    feet0 = FLOOR_Y + 8
    height = 80.0  # jump, px (about 1.1 m)
    up = math.sqrt(2 * height / G)
    slam = ev.at - 0.05  # the ball leaves the hands going down, at the top of the jump
    takeoff = slam + 0.02 - up
    swing = 0.2  # s the arms take from cocked to over the rim
    cocked = math.radians(-35)  # arm angles from straight up, towards the rim positive

    def lift(t: float) -> float:
        s = t - takeoff
        return max(0.0, G * up * s - 0.5 * G * s * s) if 0 <= s <= 2 * up else 0.0

    def body(t: float) -> Pose:
        x, stride = _run(spot, under, ev.at - 1.6, takeoff, t)
        return Pose(x, feet0 - lift(t), None, stride, ev.color)

    def shoulder(t: float) -> tuple[float, float]:
        (lx, ly), (rx, ry) = shoulders(body(t))
        return (lx + rx) / 2 + 4, ly

    # The angle that puts the hands over the rim's centre at the slam.
    sx, sy = shoulder(slam)
    over = math.asin(min(1.0, (cx - sx) / DUNK_ARM))

    def arms(t: float) -> tuple[float, float] | None:
        """The hands' centre, or None while the ball is carried low."""
        sx, sy = shoulder(t)
        if t < takeoff - 0.15:
            return None
        if t < slam - swing:  # up overhead and cocked back during the rise
            f = (t - (takeoff - 0.15)) / (slam - swing - (takeoff - 0.15))
            a = _smooth(math.radians(170), cocked, f)  # up in front, then over the head
        elif t < slam:
            a = cocked + (over - cocked) * (t - (slam - swing)) / swing
        else:  # the hands snap back off the rim, then come down with the body
            a = (
                over
                - min(1.0, (t - slam) / 0.25) * (over + math.radians(10))
                - min(1.0, max(0.0, (t - slam - 0.25) / 0.4)) * math.radians(140)
            )
        return sx + DUNK_ARM * math.sin(a), sy - DUNK_ARM * math.cos(a)

    def pose_and_ball(t: float) -> tuple[Pose, tuple[float, float] | None]:
        p = body(t)
        hand = arms(t)
        if hand is None:
            (lx, ly), (rx, ry) = shoulders(p)
            low = (p.x + 14, ly + 34)
            return Pose(p.x, p.feet, ((low[0] - 8, low[1] + 2), (low[0] + 8, low[1] + 2)), p.stride, ev.color), (
                low[0],
                low[1] - BALL_R + 4,
            ) if t < slam else None
        hands = ((hand[0] - 8, hand[1] + 2), (hand[0] + 8, hand[1] + 2))  # one each side of the ball
        ball = (hand[0], hand[1] - 3) if t < slam else None
        return Pose(p.x, p.feet, hands, p.stride, ev.color), ball

    path = BallPath(slam, DT)
    in_hand = pose_and_ball(slam - 1e-6)[1]
    assert in_hand is not None  # the ball is in the dunker's hand until the slam
    bx, by = in_hand
    path.xy.append((bx, by))
    vx, vy = 30.0, 450.0  # slammed down through the rim
    while by < RIM_Y + NET_H + BALL_R * 0.5:
        vy += G * path.dt
        bx += vx * path.dt
        by += vy * path.dt
        path.xy.append((bx, by))
    settled = _bounce_away(path, bx, by, 90.0, 0.7 * vy)
    rim = slam + next(i for i, (_, y) in enumerate(path.xy) if y >= RIM_Y) * path.dt

    def net(t: float) -> float:
        s = t - rim
        return 4.0 * math.exp(-s / 0.4) if 0 <= s < 1.4 else 0.0

    land = takeoff + 2 * up
    return Actor(
        ev.at - 1.7,
        land + 0.3,
        lambda t: pose_and_ball(t)[0],
        path,
        lambda t: pose_and_ball(t)[1],
        net,
        EventTruth("dunk", rim, slam, settled, "make", "dunk"),
    )


def _bounce(ev: Event) -> Actor:
    """Dribbling under the hoop: pushed down from the hand, up off the floor back to it."""
    cx = RIM_X + RIM_W / 2
    x = cx - 34
    feet = FLOOR_Y + 8
    hand_y = feet - LEG - 10  # the dribbling hand at the hip
    ball_x = x + 26
    v0, e = 250.0, 0.8
    drop = GROUND - hand_y
    v_floor = math.sqrt(v0**2 + 2 * G * drop)
    down = (v_floor - v0) / G
    v_up = e * v_floor
    v_top = math.sqrt(max(0.0, v_up**2 - 2 * G * drop))
    rise = (v_up - v_top) / G
    cycle = down + rise
    n = max(1, int(ev.length / cycle))

    def ball_y(t: float) -> float | None:
        s = t - ev.at
        if s < 0 or s >= n * cycle:
            return None
        s %= cycle
        if s < down:
            return hand_y + v0 * s + 0.5 * G * s * s
        s -= down
        return GROUND - v_up * s + 0.5 * G * s * s

    def held(t: float) -> tuple[float, float] | None:
        if ev.at - 0.8 <= t < ev.at or ev.at + n * cycle <= t < ev.at + n * cycle + 0.8:
            return ball_x, hand_y - 2
        return None

    path = BallPath(ev.at, DT)
    s = 0.0
    while s < n * cycle:
        y = ball_y(ev.at + s)
        assert y is not None  # the ball is in play throughout the n dribbles
        path.xy.append((ball_x, y))
        s += DT

    def pose(t: float) -> Pose:
        y = ball_y(t)
        hand = (ball_x, min(hand_y + 4, y - BALL_R + 2) if y is not None else hand_y + 4)
        return Pose(x, feet, ((x - TORSO_W / 2 - 3, feet - LEG - 4), hand), color=ev.color)

    apex = min(y for _, y in path.xy)
    assert apex >= (RIM_Y + FLOOR_Y) / 2, apex
    return Actor(
        ev.at - 0.8,
        ev.at + n * cycle + 0.8,
        pose,
        path,
        held,
        lambda t: 0.0,
        EventTruth("bounce", None, None, None, None, None),
    )


def _hang(ev: Event) -> Actor:
    """The run in, a jump to the rim, hands on it (at its height) for `ev.hang` s while the body
    swings and the net shakes, the drop to the floor; no ball."""
    cx = RIM_X + RIM_W / 2
    spot = RIM_X - 140.0
    feet0 = FLOOR_Y + 8
    arm = 52.0  # shoulder to hand, arms up
    shoulder_hang = RIM_Y + 1 + arm  # hands on the rim
    feet_hang = shoulder_hang - 4 + LEG + TORSO
    height = feet0 - feet_hang
    up = math.sqrt(2 * height / G)
    takeoff = ev.at - up
    letgo = ev.at + ev.hang
    fall = math.sqrt(2 * height / G)

    def pose(t: float) -> Pose:
        x, stride = _run(spot, cx, ev.at - 1.4, takeoff, t)
        if t < takeoff:
            return Pose(x, feet0, None, stride, ev.color)
        if t < ev.at:  # the jump: arms up, reaching
            s = t - takeoff
            feet = feet0 - (G * up * s - 0.5 * G * s * s)
        elif t < letgo:  # hanging; swinging a little
            x = cx + 3.0 * math.sin(2 * math.pi * 1.5 * (t - ev.at))
            feet = feet_hang + 1.5 * math.sin(2 * math.pi * 3.0 * (t - ev.at))
        else:
            s = t - letgo
            feet = min(feet0, feet_hang + 0.5 * G * s * s)
        p = Pose(x, feet, None, 0.0, ev.color)
        (lx, ly), (rx, ry) = shoulders(p)
        if ev.at <= t < letgo:
            hands = ((cx - 13, RIM_Y + 1), (cx + 13, RIM_Y + 1))
        elif t < takeoff + up + fall + ev.hang + 0.2:
            hands = ((lx + 2, ly - arm), (rx - 2, ly - arm))
        else:
            hands = None
        return Pose(x, feet, hands, 0.0, ev.color)

    def net(t: float) -> float:
        return 3.0 if ev.at <= t < letgo + 0.3 else 0.0

    return Actor(
        ev.at - 1.5,
        letgo + fall + 0.5,
        pose,
        None,
        lambda t: None,
        net,
        EventTruth("hang", None, None, None, None, None),
    )


def actor(ev: Event) -> Actor:
    if ev.kind in ("make", "rim_out", "airball"):
        return _shot(ev)
    if ev.kind == "dunk":
        return _dunk(ev)
    if ev.kind == "bounce":
        return _bounce(ev)
    if ev.kind == "hang":
        return _hang(ev)
    raise ValueError(f"unknown event {ev.kind!r}; one of {KINDS}")


# --- the whole video ----------------------------------------------------------------------------


@dataclass
class ShotScene:
    events: list[Event]
    duration: float
    noise: float = 3.0
    seed: int = 11
    idle_x: float = 0.15  # where the player waits before the first event (share of the width)
    enter: float = 0.0  # s: the court is empty before this and from `leave` on
    leave: float = 1e9
    color: tuple[int, int, int] = (40, 70, 170)
    actors: list[Actor] = field(init=False)

    def __post_init__(self) -> None:
        self.actors = sorted((actor(e) for e in self.events), key=lambda a: a.start)

    def pose(self, t: float) -> Pose:
        """The event's pose while an event owns the player; between events the player walks from
        where one left off to where the next begins, shifting from foot to foot."""
        for a in self.actors:
            if a.start <= t <= a.end:
                return a.pose(t)
        before = [a for a in self.actors if a.end < t]
        after = [a for a in self.actors if a.start > t]
        if before:
            p0, t0 = before[-1].pose(before[-1].end), before[-1].end
        else:
            p0, t0 = Pose(self.idle_x * WIDTH, FEET_Y, color=self.color), 0.0
        if after:
            p1, t1 = after[0].pose(after[0].start), after[0].start
        else:
            p1, t1 = p0, self.duration
        f = min(1.0, max(0.0, (t - t0) / max(t1 - t0, 1e-6)))
        x = p0.x + (p1.x - p0.x) * f
        feet = p0.feet + (p1.feet - p0.feet) * f
        sway = 4.0 * math.sin(2 * math.pi * 0.8 * t)  # nobody stands quite still
        stride = 10.0 * math.sin(2 * math.pi * 2.0 * t) if abs(p1.x - p0.x) > 20 else 0.0
        return Pose(x + sway, feet, None, stride, p0.color)

    def frame(self, t: float, base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        img = base.copy()
        if self.enter <= t < self.leave:
            draw_player(img, self.pose(t))
        half = 0.5 / FPS  # the shutter is open half a frame: a fast ball blurs a little
        for a in self.actors:
            held = a.held(t)
            if held is not None:
                draw_ball(img, [held])
            elif a.ball is not None:
                seen = [a.ball.at(t + k * half / 2) for k in (-1, 0, 1)]
                path = [p for p in seen if p is not None]
                if path:
                    draw_ball(img, path)
        draw_hoop(img, max((a.net(t) for a in self.actors), default=0.0), t)
        img += rng.standard_normal(img.shape, dtype=np.float32) * self.noise
        return np.clip(img, 0, 255).astype(np.uint8)

    def frames(self):
        rng = np.random.default_rng(self.seed)
        base = background(self.seed)
        for i in range(int(round(self.duration * FPS))):
            yield self.frame(i / FPS, base, rng)

    def truth(self, path: Path) -> ShotTruth:
        return ShotTruth(path, WIDTH, HEIGHT, FPS, self.duration, hoop_box(), tuple(a.truth for a in self.actors))


def render_shots(
    path: Path,
    events: list[Event],
    duration: float,
    noise: float = 3.0,
    seed: int = 11,
    preset: str = "veryfast",
    enter: float = 0.0,
    leave: float = 1e9,
) -> ShotTruth:
    """Render the events into an H.264 video at `path` (the player in view from `enter` until
    `leave`); returns the ground truth."""
    scene = ShotScene(list(events), duration, noise, seed, enter=enter, leave=leave)
    encode(scene.frames(), Path(path), WIDTH, HEIGHT, FPS, audio=False, preset=preset)
    return scene.truth(Path(path))
