"""Where the motion model and the cnn disagree about a video the gated cnn scored: stretches worth
a player's look, which the review page offers first. Pure numpy; no frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dunkwatch.pipeline.scoring.segment import smooth_scores


@dataclass(frozen=True)
class Dispute:
    start: float  # seconds into the video
    end: float
    model_in_view: bool  # True: the model saw a player where motion saw none; False: the other way


def find_disputes(
    times: np.ndarray,
    model: np.ndarray,
    motion: Sequence[float | None],
    model_threshold: float,
    motion_threshold: float,
    smooth: float,
    min_seconds: float,
) -> list[Dispute]:
    """Stretches of at least `min_seconds` in which each scorer's smoothed score, against its own
    threshold, says otherwise; frames where motion did not run (the gate was off) have no say."""
    if len(times) == 0 or len(motion) != len(times):
        return []
    ran = np.array([m is not None for m in motion])
    if not ran.any():
        return []
    known = np.array([m for m in motion if m is not None], dtype=float)
    filled = np.interp(np.arange(len(motion)), np.flatnonzero(ran), known)  # smoothing needs every frame
    model_in = smooth_scores(times, np.asarray(model, float), smooth) >= model_threshold
    motion_in = smooth_scores(times, filled, smooth) >= motion_threshold
    differ = ran & (model_in != motion_in)
    step = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    found: list[Dispute] = []
    i = 0
    while i < len(times):
        if not differ[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(times) and differ[j + 1] and model_in[j + 1] == model_in[i]:
            j += 1
        start, end = float(times[i]), float(times[j]) + step
        if end - start >= min_seconds:
            found.append(Dispute(round(start, 3), round(end, 3), bool(model_in[i])))
        i = j + 1
    return found
