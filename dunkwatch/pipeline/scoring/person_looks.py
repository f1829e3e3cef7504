"""Every clip confirmed: the person detector looks at the frames a scorer calls "in view", and a
stretch in which it sees nobody is no clip. No I/O: frames and scores handed in. When it looks:
see look_schedule; which answers it may find ready: see look_ahead.

Motion cannot tell a person from a ball, a door or a change of light; the detector can.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from dunkwatch.pipeline.scoring.look_ahead import LookAhead
from dunkwatch.pipeline.scoring.look_schedule import LOOK_AGAIN_S, LOOK_EVERY_S, LookSchedule
from dunkwatch.pipeline.scoring.person import Box, PersonDetector
from dunkwatch.pipeline.scoring.segment import Segment


@dataclass(frozen=True)
class Look:
    """What the detector saw on one frame."""

    time: float
    people: tuple[Box, ...]


@dataclass(frozen=True)
class Confirmed:
    """A video's stretches of motion, sorted by what the detector saw in them."""

    segments: list[Segment]  # a person seen in each (or none looked at): these become clips
    nobody: list[Segment]  # looked at, nobody seen: motion, nobody seen, kept in the sidecar only


class PersonLooks:
    """Keeps a small copy of a frame every LOOK_EVERY_S until the scorer gives its score, and looks
    at it when the score could belong to a segment (at or above `threshold`). Scores under it for
    less than `merge_gap` seconds do not end a stretch: find_segments joins the two sides."""

    def __init__(
        self,
        detector: PersonDetector,
        threshold: float,
        merge_gap: float = 0.0,
        every: float = LOOK_EVERY_S,
        again: float = LOOK_AGAIN_S,
        moved_share: float | None = None,
    ) -> None:
        """`moved_share`: look ahead on idle cores while the frames come, at frames that moved by
        that share of the picture since the kept frame before (see look_ahead); close() ends it."""
        self.detector = detector
        self.threshold = threshold
        self.every = every
        self.schedule = LookSchedule(merge_gap, every, again)
        ahead = LookSchedule(merge_gap, every, again)
        self.ahead = LookAhead(detector, ahead, moved_share) if moved_share is not None else None
        self.looks: list[Look] = []
        self._kept: dict[int, tuple[float, bytes]] = {}  # frame index -> (time, prepared copy)
        self._times: dict[int, float] = {}  # frame index -> time, until its score comes
        self._next_keep = float("-inf")

    def offer(self, index: int, time: float, frame: np.ndarray) -> None:
        """A decoded frame, before its score is known (the motion model gives it up to 90 s later)."""
        self._times[index] = time
        if time >= self._next_keep:
            kept = self._kept[index] = (time, self.detector.prepare(frame))
            self._next_keep = time + self.every
            if self.ahead is not None:
                self.ahead.offer(index, *kept)

    def close(self) -> None:
        """Every frame is offered: no more looking ahead."""
        if self.ahead is not None:
            self.ahead.close()

    def scored(self, index: int, score: float) -> None:
        """Frame `index`'s score; scores arrive in frame order."""
        kept = self._kept.pop(index, None)
        time = self._times.pop(index, None)
        if self.ahead is not None:
            self.ahead.passed(index)
        if score < self.threshold:
            self.schedule.under(time)
            return
        self.schedule.over()
        if kept is None or not self.schedule.due(kept[0]):
            return
        time, copy = kept
        people = self.ahead.answer(index) if self.ahead is not None else None
        if people is None:
            people = self.detector.find(copy)
        self.looks.append(Look(time, people))
        self.schedule.looked(time, bool(people))

    def follow(self, scores: Iterable[float]) -> Iterator[float]:
        """The scores, passed on as they come, each handed to scored() on the way."""
        for index, score in enumerate(scores):
            self.scored(index, score)
            yield score

    def confirm(self, segments: list[Segment]) -> Confirmed:
        return confirm(segments, self.looks)


def confirm(segments: list[Segment], looks: list[Look]) -> Confirmed:
    """A segment is confirmed when a look inside it saw a person. One nobody looked at (shorter
    than a look's spacing, or below the looking threshold after smoothing) keeps motion's word."""
    times = [look.time for look in looks]
    kept: list[Segment] = []
    nobody: list[Segment] = []
    for segment in segments:
        inside = looks[bisect_left(times, segment.start) : bisect_right(times, segment.end)]
        (kept if not inside or any(look.people for look in inside) else nobody).append(segment)
    return Confirmed(kept, nobody)
