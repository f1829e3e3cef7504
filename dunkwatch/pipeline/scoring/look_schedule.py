"""When the person detector's next confirming look is due. Pure: times and verdicts handed in.

It looks only where the scorer says "in view": at once when a stretch starts, then every `again`
seconds once it has seen someone; while it sees nobody, the gap starts at `every` and doubles up
to `again` (a ball bouncing for a minute costs about twenty looks, and a person who walks into it
is seen within a few seconds). A stretch ends as a segment does: the scores stay under the
threshold for the merge gap; a shorter dip, which the segmenter bridges, starts nothing new.
"""

from __future__ import annotations

LOOK_EVERY_S = 0.5  # frames kept for a look: a stretch of motion shorter than min_segment still gets one
LOOK_AGAIN_S = 3.0  # once a person is seen in a stretch, the next look is this much later


class LookSchedule:
    """The looks' timing, fed frame by frame in order: under(), or over() then maybe due() and looked()."""

    def __init__(self, merge_gap: float = 0.0, every: float = LOOK_EVERY_S, again: float = LOOK_AGAIN_S) -> None:
        self.merge_gap = merge_gap
        self.every, self.again = every, again
        self._under_since: float | None = None  # when the scores went under the threshold
        self._next = float("-inf")
        self._gap = every  # the wait after a look that saw nobody

    def under(self, time: float | None) -> None:
        """A frame scored under the threshold (at `time`, None if unknown)."""
        if self._under_since is None:
            self._under_since = time
        if time is None or self._under_since is None or time - self._under_since >= self.merge_gap:
            # The stretch ended: the next one is looked at at once.
            self._next, self._gap = float("-inf"), self.every

    def over(self) -> None:
        """A frame scored at or over the threshold: a dip before it is bridged."""
        self._under_since = None

    def due(self, time: float) -> bool:
        """Whether a frame kept for a look, at `time` and scored over the threshold, is looked at."""
        return time >= self._next

    def looked(self, time: float, seen: bool) -> None:
        """The look at `time` saw someone, or nobody."""
        if seen:
            self._next, self._gap = time + self.again, self.every
        else:
            self._next, self._gap = time + self._gap, min(self.again, 2 * self._gap)
