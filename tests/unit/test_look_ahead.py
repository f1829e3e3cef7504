"""Looking ahead: the confirming looks made on an idle-priority thread while frames still come.
Nothing may change but when the work is done: the looks, and what they saw, are those made
without it. A fake detector, as in test_person_looks; the real one runs inline in
tests/integration/test_person_cache.py."""

from __future__ import annotations

import os
import threading
import time
from typing import cast

import cv2
import numpy as np

from dunkwatch.pipeline.scoring.person import Box, PersonDetector
from dunkwatch.pipeline.scoring.person_looks import PersonLooks

SOMEONE = (Box(0.4, 0.2, 0.6, 0.9),)
MOVED = 0.01  # share of the picture a frame must change by to be taken as in view


class FakeDetector:
    """Sees a person on frames whose first pixel is red; notes the frames it looked at (by the
    number in the first pixel's green), and the scheduling policy of the thread that looked."""

    def __init__(self) -> None:
        self.looked: list[int] = []
        self.policies: set[int] = set()
        self.twin: FakeDetector | None = None
        self.gate: threading.Event | None = None  # set: its looks wait for it
        self.entered = threading.Event()  # a look has begun

    @staticmethod
    def prepare(frame: np.ndarray) -> bytes:
        return cv2.imencode(".png", frame)[1].tobytes()  # lossless: the first pixel stays exact

    def find(self, kept: bytes) -> tuple[Box, ...]:
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(30)
        image = cv2.imdecode(np.frombuffer(kept, np.uint8), cv2.IMREAD_UNCHANGED)
        assert image is not None
        first = image[0, 0]
        self.looked.append(int(first[1]))
        self.policies.add(os.sched_getscheduler(0))  # 0: the calling thread
        return SOMEONE if first[0] == 255 else ()

    def ready(self) -> None:
        pass

    def inline_twin(self) -> FakeDetector:
        self.twin = self.twin or FakeDetector()
        return self.twin


def frame(number: int, seen: bool, moving: bool = True) -> np.ndarray:
    """A grey court; moving: a block that jumps from side to side, so each kept frame differs."""
    image = np.full((27, 48, 3), 100, np.uint8)
    if moving:
        x = 6 + (number % 4) * 10
        image[10:20, x : x + 6] = 200
    image[0, 0] = (255 if seen else 0, number, 0)
    return image


def confirmed(
    scores: list[float], frames: list[np.ndarray], look_ahead: bool, made_ahead: int = 0
) -> tuple[list[tuple[float, bool]], FakeDetector]:
    """The looks (time, anyone seen) over frames 0.1 s apart, all offered first (a short video:
    its scores come after its last frame), then, once `made_ahead` looks are made ahead, scored."""
    detector = FakeDetector()
    looks = PersonLooks(
        cast(PersonDetector, detector), threshold=0.3, merge_gap=0.5, moved_share=MOVED if look_ahead else None
    )
    for i, image in enumerate(frames):
        looks.offer(i, i / 10, image)
    deadline = time.monotonic() + 60
    while looks.ahead is not None and looks.ahead.looked < made_ahead and time.monotonic() < deadline:
        time.sleep(0.005)
    looks.close()
    for i, score in enumerate(scores):
        looks.scored(i, score)
    return [(look.time, bool(look.people)) for look in looks.looks], detector


def test_looks_made_ahead_are_the_looks_the_scores_ask_for_made_on_the_lowest_priority_thread():
    own = os.sched_getscheduler(0)
    frames = [frame(i, seen=i >= 20) for i in range(60)]  # nobody for 2 s, then someone, on the move
    scores = [0.9] * 60
    without, alone = confirmed(scores, frames, look_ahead=False)
    # Kept every 0.5 s; nobody at 0, 0.5 and 1.5 s (the gap doubling), someone at 3.5 s.
    assert without == [(0.0, False), (0.5, False), (1.5, False), (3.5, True)]
    assert alone.looked == [0, 5, 15, 35]
    ahead, detector = confirmed(scores, frames, look_ahead=True, made_ahead=4)
    assert ahead == without
    assert detector.twin is not None and detector.twin.looked == [0, 5, 15, 35]
    assert detector.looked == []  # every answer was ready
    assert detector.twin.policies == {os.SCHED_IDLE}
    assert os.sched_getscheduler(0) == own != os.SCHED_IDLE  # the rest of the process keeps its own


def test_where_the_scores_start_a_new_stretch_the_looks_make_their_own_and_see_the_same():
    frames = [frame(i, seen=True) for i in range(60)]
    scores = [0.1 if 10 <= i < 20 else 0.9 for i in range(60)]  # out of view 1-2 s: a new stretch at 2 s
    without, _ = confirmed(scores, frames, look_ahead=False)
    assert without == [(0.0, True), (2.0, True), (5.0, True)]
    ahead, detector = confirmed(scores, frames, look_ahead=True, made_ahead=2)
    assert ahead == without
    assert detector.twin is not None and detector.twin.looked == [0, 30]  # as if in view throughout
    assert detector.looked == [20, 50]  # not looked at ahead: looked at when scored


def test_frames_that_do_not_move_are_not_looked_at_ahead():
    """An empty court, or a player standing still: taken as out of view, and left to the looks."""
    frames = [frame(i, seen=20 <= i < 40, moving=20 <= i < 30) for i in range(60)]
    scores = [0.9 if 20 <= i < 40 else 0.1 for i in range(60)]
    without, _ = confirmed(scores, frames, look_ahead=False)
    assert without == [(2.0, True)]
    ahead, detector = confirmed(scores, frames, look_ahead=True, made_ahead=2)
    assert ahead == without
    # The first frame, not knowing better, and the player arriving at 2 s: seen, so the next look
    # would be at 5 s, when nothing moves any more.
    assert detector.twin is not None and detector.twin.looked == [0, 20]
    assert detector.looked == []


def test_looks_scored_before_looking_ahead_gets_there_are_the_same():
    """Nobody waits for the look-ahead: whatever it has done when the scores come, the looks agree."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        frames = [frame(i, seen=rng.random() < 0.5, moving=rng.random() < 0.7) for i in range(80)]
        scores = list(np.where(rng.random(80) < 0.8, 0.9, 0.1))
        assert confirmed(scores, frames, look_ahead=True)[0] == confirmed(scores, frames, look_ahead=False)[0]


def test_frames_already_scored_are_not_looked_at_ahead():
    """A long video's scores come while it still decodes: looking ahead behind them is no use."""
    detector = FakeDetector()
    twin = detector.inline_twin()
    twin.gate = threading.Event()  # its first look waits until the scores have passed 4.4 s
    looks = PersonLooks(cast(PersonDetector, detector), threshold=0.3, moved_share=MOVED)
    looks.offer(0, 0.0, frame(0, True))
    assert twin.entered.wait(30)
    for i in range(1, 60):
        looks.offer(i, i / 10, frame(i, True))
    for i in range(45):
        looks.scored(i, 0.9)
    twin.gate.set()
    deadline = time.monotonic() + 60
    while looks.ahead is not None and looks.ahead.looked < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert twin.looked == [0, 45]  # not 30: scored already, and looked at there
    assert detector.looked == [0, 30]
    looks.close()


def test_where_the_priority_cannot_be_lowered_nothing_is_looked_at_ahead(monkeypatch):
    """At the process's own priority the look-ahead would compete with the decoder: better none."""
    from dunkwatch.pipeline.scoring import look_ahead

    def refused(*args: object) -> None:
        raise PermissionError("not allowed")

    monkeypatch.setattr(os, "sched_setscheduler", refused)
    monkeypatch.setattr(look_ahead, "_lowered", [])
    look_ahead._lowest_priority()
    assert look_ahead._lowered == []
    frames = [frame(i, seen=True) for i in range(60)]
    detector = FakeDetector()
    looks = PersonLooks(cast(PersonDetector, detector), threshold=0.3, moved_share=MOVED)
    for i, image in enumerate(frames):
        looks.offer(i, i / 10, image)
    assert looks.ahead is not None and looks.ahead._job is not None
    looks.ahead._job.result(timeout=30)  # the look-ahead's run: over at once
    looks.close()
    for i in range(60):
        looks.scored(i, 0.9)
    assert detector.twin is not None and detector.twin.looked == []
    assert detector.looked == [0, 30]
