"""PURE: how well detected segments match ground-truth ranges, frame by frame and visit by visit.

Used by the accuracy benchmarks, the tests and model promotion (`learn/promotion.py`), so that
every F1 the project reports is computed by the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np


@dataclass(frozen=True)
class Match:
    precision: float
    recall: float
    f1: float
    found: int  # ground-truth ranges overlapped by at least one detection
    truths: int
    detections: int
    split: int  # ground-truth ranges overlapped by more than one detection


def match_ranges(
    truth: Sequence[tuple[float, float]],
    detected: Iterable[tuple[float, float]],
    duration: float,
    fps: float,
    ignore_within: float = 0.5,
) -> Match:
    """Compare [start, end) ranges in seconds on a frame grid, leaving out frames within
    `ignore_within` seconds of a true boundary, where a sliver of a person is a judgement call."""
    detected = list(detected)
    n = int(round(duration * fps))
    t = np.arange(n) / fps
    is_true = np.zeros(n, bool)
    ignore = np.zeros(n, bool)
    for a, b in truth:
        is_true |= (t >= a) & (t < b)
        for edge in (a, b):
            ignore |= np.abs(t - edge) < ignore_within
    is_detected = np.zeros(n, bool)
    for a, b in detected:
        is_detected |= (t >= a) & (t < b)
    keep = ~ignore
    tp = int(np.sum(is_true & is_detected & keep))
    fp = int(np.sum(~is_true & is_detected & keep))
    fn = int(np.sum(is_true & ~is_detected & keep))
    overlaps = [sum(1 for c, d in detected if c < b and d > a) for a, b in truth]
    precision, recall, f1 = prf(tp, fp, fn)
    return Match(
        precision=precision,
        recall=recall,
        f1=f1,
        found=sum(1 for k in overlaps if k),
        truths=len(truth),
        detections=len(detected),
        split=sum(1 for k in overlaps if k > 1),
    )


def frames_to_ranges(frame_ranges: Iterable[Sequence[int]], fps: float) -> list[tuple[float, float]]:
    """Inclusive [first, last] frame numbers -> [start, end) seconds."""
    return [(a / fps, (b + 1) / fps) for a, b in frame_ranges]


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """(precision, recall, F1) from frame counts."""
    if tp + fp + fn == 0:
        return 1.0, 1.0, 1.0  # nothing to find and nothing found: perfect, not zero
    return tp / max(1, tp + fp), tp / max(1, tp + fn), 2 * tp / (2 * tp + fp + fn)


def runs(mask: np.ndarray, times: np.ndarray, step: float) -> list[tuple[float, float]]:
    """Consecutive True frames as [start, end) ranges; a gap in time longer than 1.5 steps splits a run."""
    mask, times = np.asarray(mask, bool), np.asarray(times, float)
    ranges: list[tuple[float, float]] = []
    start = None
    for i, on in enumerate(mask):
        broken = i > 0 and times[i] - times[i - 1] > 1.5 * step
        if start is not None and (not on or broken):
            ranges.append((start, times[i - 1] + step))
            start = None
        if on and start is None:
            start = times[i]
    if start is not None:
        ranges.append((start, times[-1] + step))
    return ranges


def match_times(found: Sequence[float], truth: Sequence[float], tolerance: float) -> list[tuple[int, int]]:
    """One-to-one (found index, truth index) pairs whose times are within `tolerance`, closest first:
    the bench's rule for attempts (a detected rim time within 1 s of the labelled one)."""
    pairs = sorted(
        (abs(f - t), i, j) for i, f in enumerate(found) for j, t in enumerate(truth) if abs(f - t) <= tolerance
    )
    used_f: set[int] = set()
    used_t: set[int] = set()
    matched = []
    for _, i, j in pairs:
        if i not in used_f and j not in used_t:
            used_f.add(i)
            used_t.add(j)
            matched.append((i, j))
    return sorted(matched)
