"""What the page offers first: the stretches where motion, the person detector and the cnn
disagreed, or where the score sat near the threshold, each with why. A stretch a correction
already covers has had its look and is left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Iterable, Mapping, Sequence

import numpy as np

from dunkwatch.outputs import Sidecar
from dunkwatch.pipeline.scoring.segment import smooth_scores


class Doubt(Enum):
    """Why a stretch is offered; the order is the page's: two scorers at odds before one unsure."""

    MOTION_NOT_MODEL = "motion saw a player here, the model did not"
    MODEL_NOT_MOTION = "the model saw a player here, motion did not"
    NOBODY_SEEN = "motion saw movement here, the person detector saw nobody: no clip was made"
    NEAR_THRESHOLD = "the score stayed near the threshold"

    @property
    def rank(self) -> int:
        return 2 if self is Doubt.NEAR_THRESHOLD else 1 if self is Doubt.NOBODY_SEEN else 0


@dataclass(frozen=True)
class LookItem:
    """One stretch of one video worth a look."""

    video_id: int
    name: str  # as the corrections CSV names the video
    start: float
    end: float
    doubt: Doubt

    @property
    def why(self) -> str:
        return self.doubt.value

    @property
    def seconds(self) -> float:
        return self.end - self.start


def near_threshold(
    times: np.ndarray, scores: np.ndarray, threshold: float, band: float, smooth: float, min_seconds: float
) -> list[tuple[float, float]]:
    """Stretches of at least `min_seconds` (long enough to have been a clip) whose smoothed score,
    as segments see it, stayed within `band` (the hysteresis) of the threshold."""
    if len(times) < 2:
        return []
    near = np.abs(smooth_scores(times, scores, smooth) - threshold) < band
    step = float(np.median(np.diff(times)))
    edges = np.diff(np.concatenate([[0], near.astype(np.int8), [0]]))
    found = []
    for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
        start, end = float(times[a]), float(times[b - 1]) + step
        if end - start >= min_seconds:
            found.append((round(start, 3), round(end, 3)))
    return found


def doubts_of(
    video_id: int,
    name: str,
    sidecar: Sidecar,
    scores: tuple[np.ndarray, np.ndarray] | None,
    band: float,
    smooth: float,
    min_seconds: float,
) -> list[LookItem]:
    """A processed video's stretches worth a look: from its sidecar (disputes, nobody seen) and its
    stored scores (near the threshold)."""
    items = [
        LookItem(video_id, name, d.start, d.end, Doubt.MODEL_NOT_MOTION if d.model_in_view else Doubt.MOTION_NOT_MODEL)
        for d in sidecar.disputed
    ]
    items += [LookItem(video_id, name, s.start, s.end, Doubt.NOBODY_SEEN) for s in sidecar.nobody_seen]
    if scores is not None:
        times, values = scores
        items += [
            LookItem(video_id, name, a, b, Doubt.NEAR_THRESHOLD)
            for a, b in near_threshold(
                np.asarray(times, float), np.asarray(values, float), sidecar.threshold, band, smooth, min_seconds
            )
        ]
    return items


def worth_a_look(
    items: Iterable[LookItem], corrected: Mapping[str, Sequence[tuple[float, float]]], limit: int
) -> list[LookItem]:
    """The items no correction overlaps, scorers at odds first, then the longest, then the newest video."""
    open_ = [i for i in items if not any(a < i.end and b > i.start for a, b in corrected.get(i.name, ()))]
    return sorted(open_, key=lambda i: (i.doubt.rank, -i.seconds, -i.video_id))[:limit]
