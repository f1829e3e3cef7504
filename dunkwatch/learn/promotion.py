"""PURE: judge a candidate model's pipeline against the scoring in use, on the same videos.

Both pipelines are run the way the service runs them (decode, score, segment); this module
only compares their segments with the labels: the user's corrections where there are any,
otherwise what the service predicted when it processed the video (its pseudo-labels). A
candidate is judged on what the player sees: the events it finds, the false clips it cuts, and
how much of each event's time its clips hold (pre- and post-roll included). It is promoted only
when it is no worse on any of those and better on at least one; frame precision and recall are
reported beside them, not decisive (a sample lost at a visit's edge is inside the roll). Since
pseudo-labels come from the scoring in use, it can only win where the user corrected it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

import numpy as np

from dunkwatch.learn.corrections import Correction
from dunkwatch.metrics import prf, runs

Ranges = Sequence[tuple[float, float]]

# Frames this close to a label boundary are left out: pseudo-label edges are only good to a
# sample or two, and a hand-typed correction's edge to about half a second.
EDGE_SECONDS = 0.5
# Event time outside the clips is compared with this slack per event: one sample (5 fps) at each
# end, where a frame on the threshold may fall either way, is no reason to keep or replace a model.
EDGE_SLACK = 2 * 0.2


@dataclass(frozen=True)
class JudgedVideo:
    name: str
    duration: float
    truth: tuple[tuple[float, float], ...]  # player-in-view ranges: corrections over predictions
    detected: tuple[tuple[float, float], ...]  # the pipeline's segments (actions, without padding)
    corrected: bool
    clips: tuple[tuple[float, float], ...] | None = None  # the clips cut (with the roll); None: `detected`


@dataclass(frozen=True)
class Figures:
    """How a pipeline did on the validation videos, pooled over all of them."""

    precision: float
    recall: float
    f1: float
    events_found: int  # true ranges a segment overlaps
    events: int
    false_segments: int  # segments that overlap no true range: false clips
    frames: int  # frames judged (boundary frames left out)
    videos: int
    missed_seconds: float = 0.0  # labelled event time outside every clip
    event_seconds: float = 0.0  # labelled event time in all

    @property
    def held(self) -> float:
        """The share of the labelled events' time the clips hold."""
        return 1.0 - self.missed_seconds / self.event_seconds if self.event_seconds > 0 else 1.0

    def as_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        return (
            f"{self.events_found}/{self.events} events, {self.false_segments} false clip(s), "
            f"{self.held:.1%} of event time in clips; frame F1 {self.f1:.3f} (precision {self.precision:.3f}, "
            f"recall {self.recall:.3f})"
        )


def truth_ranges(
    duration: float, predicted: Ranges, corrections: Iterable[Correction], step: float = 0.05
) -> tuple[tuple[float, float], ...]:
    """Player-in-view ranges: the predicted segments, with every correction painted over them."""
    t = np.arange(0.0, max(duration, 0.0), step)
    on = np.zeros(len(t), bool)
    for a, b in predicted:
        on |= (t >= a) & (t < b)
    for c in sorted(corrections, key=lambda c: c.row):
        if c.positive is not None:  # "no shot" says nothing of who is in view
            on[(t >= c.start) & (t < c.end)] = c.positive
    return tuple((round(a, 3), round(min(b, duration), 3)) for a, b in runs(on, t, step))


def figures(videos: Sequence[JudgedVideo], fps: float = 10.0) -> Figures:
    tp = fp = fn = frames = found = events = false_segments = 0
    missed = total = 0.0
    for v in videos:
        t = np.arange(int(round(v.duration * fps))) / fps
        truth = _cover(t, v.truth)
        detected = _cover(t, v.detected)
        keep = np.ones(len(t), bool)
        for a, b in v.truth:
            for edge in (a, b):
                keep &= np.abs(t - edge) >= EDGE_SECONDS
        tp += int(np.sum(truth & detected & keep))
        fp += int(np.sum(~truth & detected & keep))
        fn += int(np.sum(truth & ~detected & keep))
        frames += int(keep.sum())
        events += len(v.truth)
        found += sum(1 for a, b in v.truth if any(c < b and d > a for c, d in v.detected))
        false_segments += sum(1 for c, d in v.detected if not any(c < b and d > a for a, b in v.truth))
        clipped = _cover(t, v.clips if v.clips is not None else v.detected)
        missed += float(np.sum(truth & ~clipped)) / fps
        total += float(np.sum(truth)) / fps
    precision, recall, f1 = prf(tp, fp, fn)
    return Figures(
        round(precision, 4),
        round(recall, 4),
        round(f1, 4),
        found,
        events,
        false_segments,
        frames,
        len(videos),
        round(missed, 3),
        round(total, 3),
    )


def _cover(t: np.ndarray, ranges: Ranges) -> np.ndarray:
    on = np.zeros(len(t), bool)
    for a, b in ranges:
        on |= (t >= a) & (t < b)
    return on


def decide(candidate: Figures, baseline: Figures, baseline_name: str, any_corrected: bool) -> tuple[bool, str]:
    """(promote, reason): no worse on what the player sees (events found, false clips, event time
    in clips, to EDGE_SLACK an event), better on at least one, where the user corrected."""
    if not any_corrected:
        return False, (
            f"no validation video has corrections, so nothing can show the new model beats "
            f"{baseline_name}; correct what {baseline_name} gets wrong in at least two videos"
        )
    worse, better = [], []
    slack = EDGE_SLACK * max(candidate.events, baseline.events)
    if candidate.missed_seconds > baseline.missed_seconds + slack:
        worse.append(f"clips hold {candidate.held:.1%} of event time, not {baseline.held:.1%}")
    elif candidate.missed_seconds < baseline.missed_seconds - slack:
        better.append(f"clips hold {candidate.held:.1%} of event time, not {baseline.held:.1%}")
    if candidate.events_found < baseline.events_found:
        worse.append(f"finds {candidate.events_found} of {candidate.events} events, not {baseline.events_found}")
    elif candidate.events_found > baseline.events_found:
        better.append(f"finds {candidate.events_found} of {candidate.events} events, not {baseline.events_found}")
    if candidate.false_segments > baseline.false_segments:
        worse.append(f"{candidate.false_segments} false clips, not {baseline.false_segments}")
    elif candidate.false_segments < baseline.false_segments:
        better.append(f"{candidate.false_segments} false clips, not {baseline.false_segments}")
    if worse:
        return False, f"worse than {baseline_name}: " + "; ".join(worse)
    if not better:
        return False, f"no better than {baseline_name} on any figure"
    return True, f"beats {baseline_name}: " + "; ".join(better) + "; worse on nothing"
