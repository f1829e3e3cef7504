"""PURE: per-frame (times, scores) -> action segments. No video, no I/O, no TensorFlow."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class SegmentParams:
    threshold: float  # a score at or above this starts a segment
    hysteresis: float = 0.2  # a segment ends only below threshold - hysteresis
    smooth: float = 0.6  # seconds of running median applied before thresholding
    merge_gap: float = 1.5  # gaps shorter than this (s) are bridged
    min_segment: float = 0.8  # shorter segments are dropped
    pre_roll: float = 1.0
    post_roll: float = 1.5


@dataclass(frozen=True)
class Segment:
    start: float  # detected action, seconds
    end: float
    clip_start: float  # with padding, clamped to the video
    clip_end: float
    peak: float  # highest raw score inside the action

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in asdict(self).items()}


def smooth_scores(times: np.ndarray, scores: np.ndarray, window: float) -> np.ndarray:
    """Running median over a window in seconds, so variable frame rates smooth the same."""
    if window <= 0 or len(scores) < 3:
        return scores.astype(float)
    half = window / 2.0
    lo = np.searchsorted(times, times - half, side="left")
    hi = np.searchsorted(times, times + half, side="right")
    values = np.asarray(scores, dtype=float)
    out = np.empty(len(values))
    # Windows of one length at a time, as rows of one array: the same medians as one np.median per
    # frame, some hundred times faster (steady frame rates give one length, and a few at the ends).
    lengths = hi - lo
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        out[rows] = np.median(np.lib.stride_tricks.sliding_window_view(values, int(length))[lo[rows]], axis=1)
    return out


def _frame_ends(times: np.ndarray, duration: float) -> np.ndarray:
    """Each frame stands for the time until the next one; the last for a typical step."""
    if len(times) == 1:
        return np.array([min(duration, times[0] + 1.0)])
    steps = np.diff(times)
    last = times[-1] + float(np.median(steps))
    return np.minimum(np.append(times[1:], last), duration)


def _hysteresis_runs(values: np.ndarray, on: float, off: float) -> list[tuple[int, int]]:
    """Index ranges [first, last] that reach `on` and stay at or above `off`."""
    runs, start, active = [], 0, False
    for i, v in enumerate(values):
        if not active and v >= on:
            start, active = i, True
        elif active and v < off:
            runs.append((start, i - 1))
            active = False
    if active:
        runs.append((start, len(values) - 1))
    return runs


def _merge(ranges: list[list[float]], gap: float) -> list[list[float]]:
    merged: list[list[float]] = []
    for r in ranges:
        if merged and r[0] - merged[-1][1] < gap:
            merged[-1][1] = max(merged[-1][1], r[1])
        else:
            merged.append(list(r))
    return merged


def find_segments(times: ArrayLike, scores: ArrayLike, duration: float, params: SegmentParams) -> list[Segment]:
    """Sorted, disjoint segments whose padded clips lie within [0, duration]."""
    times = np.asarray(times, dtype=float)
    scores = np.asarray(scores, dtype=float)
    if times.shape != scores.shape:
        raise ValueError(f"{len(times)} times but {len(scores)} scores")
    if len(times) == 0:
        return []
    order = np.argsort(times, kind="stable")
    times, scores = times[order], scores[order]
    duration = max(float(duration), float(times[-1]))
    ends = _frame_ends(times, duration)
    smoothed = smooth_scores(times, scores, params.smooth)
    off = params.threshold - params.hysteresis
    runs = [[float(times[a]), float(ends[b])] for a, b in _hysteresis_runs(smoothed, params.threshold, off)]
    actions = [r for r in _merge(runs, params.merge_gap) if r[1] > r[0] and r[1] - r[0] >= params.min_segment]
    # Padding can make neighbours overlap: they meet halfway, so no footage lands in two clips.
    bounds = [[max(0.0, s - params.pre_roll), min(duration, e + params.post_roll)] for s, e in actions]
    for left, right, (_, end), (start, _) in zip(bounds, bounds[1:], actions, actions[1:]):
        if left[1] > right[0]:
            left[1] = right[0] = min(max((end + start) / 2.0, right[0]), left[1])
    segments = []
    for (clip_start, clip_end), (start, end) in zip(bounds, actions):
        inside = (times >= start) & (times < end)
        peak = float(scores[inside].max()) if inside.any() else float(scores.max())
        segments.append(Segment(start, end, clip_start, clip_end, peak))
    return segments
