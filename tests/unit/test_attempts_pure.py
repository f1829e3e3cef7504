"""attempts and cuts are pure: hand-built moving blobs, no video.

The hoop is 40 px wide with its rim at y = 105 (a ball is then 20 px); gravity 707 px/s^2 (y grows
downwards), frames at 30 fps, as tests/helpers/shot_scene.py draws a half court."""

import math

import numpy as np
import pytest

from dunkwatch.pipeline.scoring.segment import Segment, SegmentParams
from dunkwatch.pipeline.shots.attempts import Attempt, HoopBox, Kind, Result, find_attempts
from dunkwatch.pipeline.shots.ball_tracks import FrameBlobs
from dunkwatch.pipeline.shots.cuts import plan_cuts

FPS = 30.0
G = 707.0
HOOP = HoopBox(400.0, 105.0, 40.0, 40.0)
CX = HOOP.x + HOOP.w / 2
D = 20.0  # the ball's diameter
FLOOR = 315.0  # the ball's centre on the floor


def ball(x: float, y: float, d: float = D) -> list[float]:
    return [x, y, math.pi * (d / 2) ** 2, d, d]


def frames(duration: float, where, others=lambda t: []) -> list[FrameBlobs]:
    """One FrameBlobs per frame: the ball where `where(t)` says (None: not seen) and any other blobs."""
    out = []
    for i in range(int(round(duration * FPS))):
        t = i / FPS
        rows = list(others(t))
        at = where(t)
        if at is not None:
            rows.append(ball(*at))
        out.append(FrameBlobs(t, np.array(rows, np.float32).reshape(-1, 5)))
    return out


def arc(release: tuple[float, float], target: tuple[float, float], t0: float, flight: float):
    """A free flight from `release` at t0 to `target` at t0 + flight: (x(t), y(t), vx, vy at the end)."""
    vx = (target[0] - release[0]) / flight
    vy = (target[1] - release[1] - 0.5 * G * flight**2) / flight

    def at(t: float) -> tuple[float, float]:
        s = t - t0
        return release[0] + vx * s, release[1] + vy * s + 0.5 * G * s * s

    return at, vx, vy + G * flight


def fall(x0: float, y0: float, vx: float, vy: float, t0: float):
    """Falling from (x0, y0) at t0 to the floor, where it lies still: no moving blob any more."""

    def at(t: float) -> tuple[float, float] | None:
        s = t - t0
        y = y0 + vy * s + 0.5 * G * s * s
        return (x0 + vx * s, y) if y < FLOOR else None

    return at


RELEASE, RIM = 0.5, 1.6  # s: a 1.1 s flight


def shot_to(target: tuple[float, float], after) -> list[FrameBlobs]:
    flight, _, _ = arc((140.0, 170.0), target, RELEASE, RIM - RELEASE)

    def where(t: float):
        if t < RELEASE:
            return None  # in the shooter's hands: part of the shooter's blob
        return flight(t) if t < RIM else after(t)

    return frames(3.5, where)


def through_the_net(t: float) -> tuple[float, float] | None:
    """The net takes the ball's speed: it sinks through the net at 150 px/s, then drops out of it."""
    s = t - RIM
    if s < 0.3:
        return CX, HOOP.y + 150.0 * s
    return fall(CX, HOOP.y + 45.0, 0.0, 150.0, RIM + 0.3)(t)


def test_a_parabola_that_ends_in_the_net_is_a_make():

    (attempt,) = find_attempts(shot_to((CX, HOOP.y), through_the_net), HOOP)
    assert attempt.kind is Kind.SHOT and attempt.result is Result.MAKE
    assert attempt.rim == pytest.approx(RIM, abs=0.2)
    assert attempt.release is not None and attempt.start < attempt.release < attempt.rim < attempt.end


def test_a_parabola_that_comes_down_beside_the_rim_is_a_miss():
    short = (CX - 1.5 * HOOP.w, HOOP.y)  # an airball: 1.5 rims short, at the rim's height
    _, vx, vy = arc((140.0, 170.0), short, RELEASE, RIM - RELEASE)
    (attempt,) = find_attempts(shot_to(short, fall(*short, vx, vy, RIM)), HOOP)
    assert attempt.kind is Kind.SHOT and attempt.result is Result.MISS
    assert attempt.rim == pytest.approx(RIM, abs=0.2)


def test_a_ball_off_the_rim_and_away_is_a_miss():
    contact = (CX + 12.0, HOOP.y - 8.0)  # the far side of the rim: up and sideways, then down beside it
    _, _, vy = arc((140.0, 170.0), contact, RELEASE, RIM - RELEASE)
    (attempt,) = find_attempts(shot_to(contact, fall(*contact, 170.0, -0.4 * vy, RIM)), HOOP)
    assert attempt.result is Result.MISS
    assert attempt.rim == pytest.approx(RIM, abs=0.2)


def test_the_release_is_when_the_ball_left_the_hands():
    (attempt,) = find_attempts(shot_to((CX, HOOP.y), through_the_net), HOOP)
    assert attempt.release == pytest.approx(RELEASE, abs=0.1)


def test_the_release_is_when_the_ball_left_the_hands_when_nothing_follows_the_arc():
    (attempt,) = find_attempts(shot_to((CX, HOOP.y), lambda t: None), HOOP)
    assert attempt.release == pytest.approx(RELEASE, abs=0.05)
    assert attempt.start == pytest.approx(RELEASE - 0.5, abs=0.05)
    # Nothing but the ball moved there: the shooter is placed at the ball (its centre or its bottom).
    assert attempt.shooter == pytest.approx((140.0, 170.0), abs=D / 2 + 1)


def test_a_ball_never_seen_after_the_rim_is_unknown():
    (attempt,) = find_attempts(shot_to((CX, HOOP.y), lambda t: None), HOOP)
    assert attempt.result is Result.UNKNOWN


def test_a_ball_bounced_under_the_hoop_is_no_attempt():
    # Free bounces under the rim: each a parabola, none rising above half-way to the rim.
    apex = (HOOP.y + FLOOR) / 2 + 5
    v = math.sqrt(2 * G * (FLOOR - apex))
    period = 2 * v / G

    def where(t: float):
        s = t % period
        return CX + 20.0 * t, FLOOR - v * s + 0.5 * G * s * s

    blobs = frames(4.0, where)
    assert min(b.blobs[0, 1] for b in blobs) >= apex - 1  # the test's own ball stays low
    assert find_attempts(blobs, HOOP) == []


def test_a_big_moving_thing_over_the_rim_then_the_ball_in_the_net_is_a_dunk():
    slam = 1.0

    def arms(t: float):  # arms and ball, reaching over the rim before the slam
        if slam - 0.3 <= t < slam:
            return [[CX - 10, HOOP.y - 10, 1500.0, 40.0, 70.0]]  # top 45 px over the rim, bottom below it
        return []

    def where(t: float):
        s = t - slam
        return (CX, HOOP.y + 10 + 450 * s) if 0 <= s < 0.6 else None

    (attempt,) = find_attempts(frames(2.5, where, arms), HOOP)
    assert attempt.kind is Kind.DUNK and attempt.result is Result.MAKE
    assert attempt.rim == pytest.approx(slam, abs=0.2)


def test_a_player_hanging_on_the_rim_is_no_dunk():
    # Hands at the rim, the body below it: a big moving thing that never reaches over the rim,
    # and a head-sized blob inside the net.
    def body(t: float):
        return [[CX, HOOP.y + 80, 1400.0, 38.0, 156.0], ball(CX, HOOP.y + 25, 30.0)] if 1.0 <= t < 2.0 else []

    assert find_attempts(frames(3.0, lambda t: None, body), HOOP) == []


# --- cuts -------------------------------------------------------------------------------------

PARAMS = SegmentParams(threshold=0.5, pre_roll=1.0, post_roll=1.5)


def seg(start: float, end: float, duration: float = 60.0) -> Segment:
    return Segment(start, end, max(0.0, start - PARAMS.pre_roll), min(duration, end + PARAMS.post_roll), 0.9)


def attempt(release: float, result: Result = Result.MAKE) -> Attempt:
    rim = release + 1.0
    return Attempt(release - 0.5, release, rim, rim + 0.7, result, Kind.SHOT, (100.0, 300.0))


def test_a_stretch_with_attempts_becomes_one_clip_per_attempt_and_one_without_keeps_its_clip():
    segments = [seg(5.0, 25.0), seg(40.0, 50.0)]
    attempts = [attempt(8.0), attempt(15.0, Result.MISS)]
    cuts = plan_cuts(segments, attempts, 60.0, PARAMS)
    assert [(c.attempt, c.label) for c in cuts] == [(0, "shot01-make"), (1, "shot02-miss"), (None, "")]
    first, second, presence = (c.segment for c in cuts)
    assert (first.start, first.end) == (attempts[0].start, attempts[0].end)
    assert first.clip_start == pytest.approx(attempts[0].start - 1.0)
    assert first.clip_end == pytest.approx(attempts[0].end + 1.5)
    assert second.clip_start == pytest.approx(attempts[1].start - 1.0)
    assert second.clip_end == pytest.approx(attempts[1].end + 1.5)
    assert presence == segments[1]  # the stretch without an attempt keeps its presence clip as it was


def test_without_attempts_every_presence_clip_is_kept():
    segments = [seg(5.0, 25.0), seg(40.0, 50.0)]
    cuts = plan_cuts(segments, [], 60.0, PARAMS)
    assert [c.segment for c in cuts] == segments and all(c.attempt is None and c.label == "" for c in cuts)


def test_neighbouring_attempt_clips_meet_halfway_and_an_attempt_outside_every_stretch_keeps_its_clip():
    segments = [seg(5.0, 12.0)]
    attempts = [attempt(7.0), attempt(9.0), attempt(30.0)]  # the last: the shooter out of frame
    cuts = plan_cuts(segments, attempts, 60.0, PARAMS)
    assert [c.attempt for c in cuts] == [0, 1, 2]
    a, b, c = (cut.segment for cut in cuts)
    assert attempts[0].release is not None and attempts[1].release is not None
    # They meet halfway between what was seen: the first one's rim and the second one's release.
    assert a.clip_end == b.clip_start == pytest.approx((attempts[0].rim + attempts[1].release) / 2)
    assert a.clip_start < attempts[0].release and b.clip_end > attempts[1].end
    assert c.clip_start == pytest.approx(attempts[2].start - 1.0) and c.clip_end == pytest.approx(attempts[2].end + 1.5)


# --- moving blobs -----------------------------------------------------------------------------


def test_a_moving_blob_is_described_by_its_box_so_its_edges_are_where_it_reaches():
    """A tall moving thing with its mass high up (arms, head and shoulders over a thin body outline):
    centre -+ half the box is its top and bottom, as the dunk and shooter tests read them."""
    from dunkwatch.pipeline.shots import ball_tracks as bt

    empty = np.full((240, 320), 100, np.uint8)
    shape = empty.copy()
    shape[40:80, 100:140] = 200  # a heavy top, 40 x 40 ...
    shape[80:200, 118:122] = 200  # ... over a thin stem down to y = 199
    blobs = bt.MovingBlobs()
    found = [blobs.feed(t, image) for t, image in ((0.0, empty), (0.1, shape), (0.2, empty))]
    assert found[:2] == [None, None]
    assert found[2] is not None
    (b,) = found[2].blobs  # the blur before the difference widens it by a pixel each way
    assert (b[bt.BW], b[bt.BH]) == pytest.approx((42, 162), abs=1)
    assert b[bt.AREA] > 40 * 40 + 120 * 4
    assert b[bt.CY] - b[bt.BH] / 2 == pytest.approx(39, abs=1.5)  # its top (the centroid is at y = 78)
    assert b[bt.CY] + b[bt.BH] / 2 == pytest.approx(201, abs=1.5)  # its bottom
    assert b[bt.CX] == pytest.approx(119.5, abs=1)


def test_components_labelled_where_anything_is_are_those_of_the_whole_mask_in_the_same_order():
    """The tap labels only the box around what moved; the rows, and their order (which breaks ties
    between blobs of one area), are those of labelling the whole mask."""
    import cv2

    from dunkwatch.pipeline.shots import ball_tracks as bt

    rng = np.random.default_rng(11)
    for trial in range(600):
        h, w = int(rng.integers(5, 90)), int(rng.integers(5, 120))
        mask = (rng.random((h, w)) < rng.uniform(0.01, 0.5)).astype(np.uint8)
        mask[: int(rng.integers(0, h)), :] = 0  # what moved starts at any row and column, odd ones too
        mask[:, : int(rng.integers(0, w))] = 0
        whole = cv2.connectedComponentsWithStats(mask, connectivity=8)[2][1:]
        np.testing.assert_array_equal(bt._components(mask), whole)
    assert len(bt._components(np.zeros((36, 64), np.uint8))) == 0
