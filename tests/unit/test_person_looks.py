"""Confirmation's rules, pure: which frames the detector looks at, and which stretches stay clips."""

from typing import cast

import numpy as np
import pytest

from dunkwatch.pipeline.scoring.person import Box, PersonDetector, squares
from dunkwatch.pipeline.scoring.person_looks import Look, PersonLooks, confirm
from dunkwatch.pipeline.scoring.segment import Segment
from dunkwatch.pipeline.shots.shooters import shooter_box

SOMEONE = (Box(0.4, 0.2, 0.6, 0.9),)


class FakeDetector:
    """Sees a person on frames whose first pixel is 255; counts its looks."""

    def __init__(self):
        self.looked: list[int] = []

    @staticmethod
    def prepare(frame: np.ndarray) -> bytes:
        return bytes([int(frame[0, 0, 0])])

    def find(self, kept: bytes) -> tuple[Box, ...]:
        self.looked.append(kept[0])
        return SOMEONE if kept[0] == 255 else ()


def as_detector(fake: FakeDetector) -> PersonDetector:
    """The fake, where PersonLooks wants a PersonDetector (it uses only prepare and find)."""
    return cast(PersonDetector, fake)


def segment(start: float, end: float) -> Segment:
    return Segment(start, end, start, end, 1.0)


def test_a_stretch_is_a_clip_when_a_look_inside_it_saw_someone():
    looks = [Look(1.0, ()), Look(2.0, SOMEONE), Look(10.0, ()), Look(11.0, ())]
    result = confirm([segment(0.5, 3.0), segment(9.0, 12.0), segment(20.0, 21.0)], looks)
    assert result.segments == [segment(0.5, 3.0), segment(20.0, 21.0)]  # the last: nothing looked at it
    assert result.nobody == [segment(9.0, 12.0)]


def test_looks_come_only_where_the_score_could_make_a_segment_and_thin_out_once_someone_is_seen():
    detector = FakeDetector()
    looks = PersonLooks(as_detector(detector), threshold=0.3, every=0.5, again=3.0)
    frames = [(i / 10, np.full((4, 4, 3), 255 if 20 <= i < 80 else 0, np.uint8)) for i in range(120)]
    scores = [0.9 if 20 <= i < 100 else 0.1 for i in range(120)]
    for i, (t, frame) in enumerate(frames):
        looks.offer(i, t, frame)
    for i, score in enumerate(scores):
        looks.scored(i, score)
    times = [look.time for look in looks.looks]
    # Kept every 0.5 s; looked at from 2.0 s; seen at once, so again 3 s later; from 8 s nobody: 0.5 s, then 1 s.
    assert times == [2.0, 5.0, 8.0, 8.5, 9.5]
    assert [bool(look.people) for look in looks.looks] == [True, True, False, False, False]
    assert not looks._kept  # every kept copy is let go once its frame is scored


def test_a_new_stretch_is_looked_at_at_once():
    detector = FakeDetector()
    looks = PersonLooks(as_detector(detector), threshold=0.3, merge_gap=0.5, every=0.5, again=60.0)
    for i in range(60):
        looks.offer(i, i / 10, np.full((4, 4, 3), 255, np.uint8))
    for i in range(60):
        looks.scored(i, 0.1 if 20 <= i < 30 else 0.9)
    assert [look.time for look in looks.looks] == [0.0, 3.0]  # the dip at 2-3 s ended the first stretch


def test_a_dip_shorter_than_the_merge_gap_does_not_start_a_stretch():
    """A score that flickers under the threshold for a frame is one segment to the segmenter; it
    must not bring the next look forward, or a flickering stretch of nobody is looked at often."""
    detector = FakeDetector()
    looks = PersonLooks(as_detector(detector), threshold=0.3, merge_gap=1.5, every=0.5, again=3.0)
    for i in range(100):
        looks.offer(i, i / 10, np.zeros((4, 4, 3), np.uint8))
    for i in range(100):
        looks.scored(i, 0.1 if i % 20 == 19 or 60 <= i < 75 else 0.9)  # a frame under every 2 s
    # Nobody: 0, 0.5, 1.5, 3.5 (gaps doubling through the one-frame dips); the 1.5 s dip at
    # 6-7.5 s ends the stretch, so 7.5 s is looked at at once, then 8.0 and 9.0.
    assert [look.time for look in looks.looks] == [0.0, 0.5, 1.5, 3.5, 7.5, 8.0, 9.0]


def test_squares_cover_the_frame_and_overlap():
    for height, width in [(270, 480), (480, 270), (300, 300), (200, 1000)]:
        covered = np.zeros((height, width), bool)
        boxes = squares(height, width)
        for x, y, side in boxes:
            assert side == min(height, width) and x + side <= width and y + side <= height
            covered[y : y + side, x : x + side] = True
        assert covered.all()
        starts = sorted(x if width >= height else y for x, y, _ in boxes)
        assert all(b - a <= min(height, width) * 2 / 3 + 1 for a, b in zip(starts, starts[1:]))


def test_the_shooter_is_the_person_nearest_the_ball_side_guess_and_only_within_reach():
    left, right = Box(0.1, 0.3, 0.2, 0.8), Box(0.6, 0.2, 0.7, 0.9)
    assert shooter_box((left, right), (0.65, 0.1)) == right  # the ball over his head at release
    assert shooter_box((left, right), (0.15, 0.85)) == left  # his feet, just under the box
    assert shooter_box((left, right), (0.4, 0.5)) == right  # between: nearer in his own heights
    assert shooter_box((Box(0.1, 0.6, 0.15, 0.8),), (0.9, 0.1)) is None  # someone else, far off
    assert shooter_box((), (0.5, 0.5)) is None
    assert right.feet == pytest.approx((0.65, 0.9))


def test_a_frame_kept_twice_is_encoded_once_and_another_frame_afresh():
    rng = np.random.default_rng(5)
    frame = rng.integers(0, 255, (270, 480, 3), dtype=np.uint8)
    kept = PersonDetector.prepare(frame)
    assert PersonDetector.prepare(frame) is kept  # the empty scene's candidate and the look's copy
    twin = frame.copy()
    again = PersonDetector.prepare(twin)
    assert again is not kept and again == kept  # an equal picture in another array: encoded anew
    other = rng.integers(0, 255, (270, 480, 3), dtype=np.uint8)
    assert PersonDetector.prepare(other) != kept


def test_the_graph_loads_from_the_first_frame_on_not_at_construction(monkeypatch):
    """Loading imports OpenVINO, whose Python holds the interpreter's lock: it must not hold up the
    decoder's start, so the motion scorer starts it once the first frame has come."""
    from concurrent.futures import Future

    from dunkwatch.config import MotionConfig
    from dunkwatch.pipeline.scoring import person
    from dunkwatch.pipeline.scoring.motion import MotionScorer

    started: list[int] = []

    def submit(fn, *args):
        started.append(frames_given)
        future: Future = Future()
        future.set_result(((), None, None))
        return future

    monkeypatch.setattr(person._LOADER, "submit", submit)
    monkeypatch.setattr(PersonDetector, "find_in", lambda self, rgb: (self.ready(), ())[1])  # nobody, no graph
    frames_given = 0
    scorer = MotionScorer(MotionConfig(), sample_fps=5.0)
    assert scorer.detector is not None and started == []

    def frames():
        nonlocal frames_given
        for _ in range(6):
            frames_given += 1
            yield np.full((54, 96, 3), 120, np.uint8)

    assert len(list(scorer.score(frames()))) == 6
    assert started == [1]  # once, when the first frame came
    scorer.detector.ready()  # a started graph is not loaded again
    assert started == [1]
    lazy = PersonDetector()
    lazy.ready()  # find() without start() loads it all the same
    assert started == [1, 6]
