"""PURE: the clips of one video, from its presence segments and its shot attempts.

A stretch with a player in view that holds attempts becomes one clip per attempt, from the
gather to the settled ball, with the pre- and post-roll; a stretch with none keeps its presence
clip, so nothing the player did is lost. An attempt outside every stretch (a shooter out of
frame) is still a clip. Neighbours that overlap meet halfway, as presence clips do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from dunkwatch.pipeline.scoring.segment import Segment, SegmentParams
from dunkwatch.pipeline.shots.attempts import Attempt


@dataclass(frozen=True)
class Cut:
    segment: Segment  # the action and its clip's bounds
    attempt: int | None = None  # index into the video's attempts; None: a presence clip
    label: str = ""  # what the clip's name adds: "shot03-make"


def _holds(segment: Segment, attempt: Attempt) -> bool:
    return segment.clip_start <= attempt.rim <= segment.clip_end


def plan_cuts(
    segments: Sequence[Segment], attempts: Sequence[Attempt], duration: float, params: SegmentParams
) -> list[Cut]:
    """The clips in time order."""
    # start, end, peak, attempt, label, and the first and last moments seen (what a neighbour must not cut)
    actions: list[tuple[float, float, float, int | None, str, float, float]] = []
    for seg in segments:
        if not any(_holds(seg, a) for a in attempts):
            actions.append((seg.start, seg.end, seg.peak, None, "", seg.start, seg.end))
    for n, a in enumerate(attempts):
        peak = max((s.peak for s in segments if _holds(s, a)), default=0.0)
        seen = a.release if a.release is not None else a.start
        actions.append((a.start, a.end, peak, n, f"shot{n + 1:02d}-{a.result}", seen, a.rim))
    actions.sort(key=lambda a: (a[0], a[1]))
    bounds = [[max(0.0, a[0] - params.pre_roll), min(duration, a[1] + params.post_roll)] for a in actions]
    for left, right, before, after in zip(bounds, bounds[1:], actions, actions[1:]):
        if left[1] > right[0]:
            # Overlapping clips meet halfway between what was seen of each: one shot's rim and the
            # next one's release, not the estimates of its settling and gathering around them.
            left[1] = right[0] = min(max((before[6] + after[5]) / 2.0, right[0]), left[1])
    return [Cut(Segment(a[0], a[1], max(lo, 0.0), hi, a[2]), a[3], a[4]) for (lo, hi), a in zip(bounds, actions)]
