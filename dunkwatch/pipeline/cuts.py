"""PURE: the clips of one video, from its presence segments and its shot attempts.

A stretch with a player in view that holds attempts becomes one clip per attempt, from the
gather to the settled ball, with the pre- and post-roll; a stretch with none keeps its presence
clip, so nothing the player did is lost. An attempt outside every stretch (a shooter out of
frame) is still a clip. Neighbours that overlap meet halfway, as presence clips do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from dunkwatch.pipeline.attempts import Attempt
from dunkwatch.pipeline.segment import Segment, SegmentParams


@dataclass(frozen=True)
class Cut:
    segment: Segment  # the action and its clip's bounds
    attempt: int | None = None  # index into the video's attempts; None: a presence clip
    label: str = ""  # what the clip's name adds: "shot03-make"


def _holds(segment: Segment, attempt: Attempt) -> bool:
    return segment.clip_start <= attempt.rim <= segment.clip_end


def plan_cuts(segments: Sequence[Segment], attempts: Sequence[Attempt], duration: float,
              params: SegmentParams) -> list[Cut]:
    """The clips in time order."""
    actions: list[tuple[float, float, float, int | None, str]] = []  # start, end, peak, attempt, label
    for seg in segments:
        if not any(_holds(seg, a) for a in attempts):
            actions.append((seg.start, seg.end, seg.peak, None, ""))
    for n, attempt in enumerate(attempts):
        peak = max((s.peak for s in segments if _holds(s, attempt)), default=0.0)
        actions.append((attempt.start, attempt.end, peak, n, f"shot{n + 1:02d}-{attempt.result}"))
    actions.sort(key=lambda a: (a[0], a[1]))
    bounds = [[max(0.0, a[0] - params.pre_roll), min(duration, a[1] + params.post_roll)] for a in actions]
    for left, right, before, after in zip(bounds, bounds[1:], actions, actions[1:]):
        if left[1] > right[0]:  # overlapping clips meet halfway between the two actions
            left[1] = right[0] = min(max((before[1] + after[0]) / 2.0, right[0]), left[1])
    return [Cut(Segment(start, end, max(lo, 0.0), hi, peak), n, label)
            for (lo, hi), (start, end, peak, n, label) in zip(bounds, actions)]
