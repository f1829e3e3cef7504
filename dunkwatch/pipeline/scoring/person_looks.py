"""Every clip confirmed: the person detector looks at the frames a scorer calls "in view", and a
stretch in which it sees nobody is no clip. Pure: frames and scores handed in, no I/O.

Motion cannot tell a person from a ball, a door or a change of light; the detector can. It looks
only where the scorer already says "in view": at once when a stretch starts, then every LOOK_AGAIN_S
once it has seen someone; while it sees nobody, the gap starts at LOOK_EVERY_S and doubles up to
LOOK_AGAIN_S (a ball bouncing for a minute costs about twenty looks, and a person who walks into
it is seen within a few seconds). A stretch ends as a segment does: the scores stay under the
threshold for the merge gap; a shorter dip, which the segmenter bridges, starts nothing new.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from dunkwatch.pipeline.scoring.person import Box, PersonDetector
from dunkwatch.pipeline.scoring.segment import Segment

LOOK_EVERY_S = 0.5  # frames kept for a look: a stretch of motion shorter than min_segment still gets one
LOOK_AGAIN_S = 3.0  # once a person is seen in a stretch, the next look is this much later


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
    ) -> None:
        self.detector = detector
        self.threshold = threshold
        self.merge_gap = merge_gap
        self.every, self.again = every, again
        self.looks: list[Look] = []
        self._kept: dict[int, tuple[float, bytes]] = {}  # frame index -> (time, prepared copy)
        self._times: dict[int, float] = {}  # frame index -> time, until its score comes
        self._under_since: float | None = None  # when the scores went under the threshold
        self._next_keep = float("-inf")
        self._next_look = float("-inf")
        self._gap = every  # the wait after a look that saw nobody

    def offer(self, index: int, time: float, frame: np.ndarray) -> None:
        """A decoded frame, before its score is known (the motion model gives it up to 90 s later)."""
        self._times[index] = time
        if time >= self._next_keep:
            self._kept[index] = (time, self.detector.prepare(frame))
            self._next_keep = time + self.every

    def scored(self, index: int, score: float) -> None:
        """Frame `index`'s score; scores arrive in frame order."""
        kept = self._kept.pop(index, None)
        time = self._times.pop(index, None)
        if score < self.threshold:
            if self._under_since is None:
                self._under_since = time
            if time is None or self._under_since is None or time - self._under_since >= self.merge_gap:
                # The stretch ended: the next one is looked at at once.
                self._next_look, self._gap = float("-inf"), self.every
            return
        self._under_since = None
        if kept is None or kept[0] < self._next_look:
            return
        time, copy = kept
        people = self.detector.find(copy)
        self.looks.append(Look(time, people))
        if people:
            self._next_look, self._gap = time + self.again, self.every
        else:
            self._next_look, self._gap = time + self._gap, min(self.again, 2 * self._gap)

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
