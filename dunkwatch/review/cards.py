"""What the page shows, as cards: each video with its clips, scores and what is worth a look, and
the practice log of sessions built from the journal."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from dunkwatch.config import PathsConfig, SegmentConfig
from dunkwatch.learn.catalogue import csv_name
from dunkwatch.learn.corrections import ranges_by_video
from dunkwatch.review.worth_a_look import LookItem, doubts_of, worth_a_look
from dunkwatch.sessions import DatedBy, Practice, VideoTally, make_percentage
from dunkwatch.store import State, Store, Video

STATE_LABELS = {
    State.SEEN: "arriving",
    State.STABLE: "queued",
    State.PROCESSING: "processing",
    State.DONE: "done",
    State.FAILED: "failed",
}  # the words `dunkwatch status` uses
CHART_DAYS = 56
WORTH_A_LOOK = 10  # stretches offered at the top of the page


@dataclass
class SegmentCard:
    number: int
    start: float
    end: float
    clip_start: float
    clip_end: float
    clip: str | None  # file name in the video's outbox folder
    result: str | None = None  # a shot's: make, miss or unknown; None for a presence clip
    kind: str | None = None  # shot or dunk


@dataclass
class VideoCard:
    """One video as the page shows it."""

    id: int
    name: str  # as the CSVs name it
    state: str
    label: str  # the state in the words `dunkwatch status` uses
    error: str | None = None
    duplicate_of: str | None = None
    skipped: str | None = None
    scorer: str | None = None
    model: str | None = None
    duration: float = 0.0
    threshold: float = 0.5
    segments: list[SegmentCard] = field(default_factory=list)
    reel: str | None = None
    curve: str = ""  # SVG polyline points of the scores, x in seconds, y in 0..1 (1 at the top)
    when: str = ""
    doubts: list[LookItem] = field(default_factory=list)  # stretches worth a look (worth_a_look.py)
    pinned: bool = False  # its original stays past the archive's limits
    original_deleted: str | None = None  # when archive retention deleted the original


@dataclass
class SessionCard:
    """One practice as the page shows it: its counts, its clips' posters, its videos."""

    id: str
    name: str
    videos: int
    attempts: int  # shots at the hoop
    in_view: float
    reel: bool
    dated_by_file_time: list[str]
    cards: list[VideoCard]
    makes: int = 0
    percentage: float | None = None  # makes per attempt, in percent
    clips: int = 0
    makes_reel: bool = False
    shot_map: bool = False


@dataclass(frozen=True)
class SessionBrief:
    """What the page shows of a practice, kept between page loads: its numbers and its videos' ids
    (about 150 bytes a video; kept whole, a month's sessions held 2.7 kB a video, for good)."""

    id: str
    name: str
    started: dt.datetime
    video_ids: tuple[int, ...]  # in recording order
    dated_by_file_time: tuple[str, ...]  # its videos without a recording time
    attempts: int
    makes: int
    percentage: float | None
    clips: int
    in_view: float

    @classmethod
    def of(cls, practice: Practice[VideoTally]) -> SessionBrief:
        """One practice of the videos' tallies (the same id as its session's)."""
        videos = practice.videos
        attempts, makes = sum(v.attempts for v in videos), sum(v.makes for v in videos)
        return cls(
            practice.id,
            practice.name,
            videos[0].started,
            tuple(v.video_id for v in videos),
            tuple(v.name for v in videos if v.dated_by is DatedBy.FILE_TIME),
            attempts,
            makes,
            make_percentage(makes, attempts),
            sum(v.clips for v in videos),
            round(sum(v.in_view for v in videos), 1),
        )


@dataclass(frozen=True)
class ChartBar:
    session: str
    name: str
    attempts: int
    makes: int = 0


@dataclass
class PracticeLog:
    sessions: list[SessionCard]  # newest first
    others: list[VideoCard]  # queued, failed, duplicates, skipped: not part of a practice
    chart: list[ChartBar]  # attempts per session over the last weeks, oldest first
    worth_a_look: list[LookItem] = field(default_factory=list)  # offered first: where scorers disagreed


class SessionFile(Enum):
    """What a session's folder holds beside session.json; the value is its SessionSidecar field."""

    REEL = "reel"
    MAKES = "makes_reel"
    SHOT_MAP = "shot_map"


def _when(timestamp: float | None) -> str | None:
    return dt.datetime.fromtimestamp(timestamp).astimezone().strftime("%Y-%m-%d %H:%M") if timestamp else None


def _curve(times: np.ndarray | None, scores: np.ndarray, max_points: int = 400) -> str:
    """The score timeline's SVG points: at most `max_points` (more than a phone's width in pixels),
    each the highest score of its stretch, so a short visit still shows."""
    if times is None or len(times) == 0:
        return ""
    step = -(-len(times) // max_points)  # ceiling: never more points than asked
    n = -(-len(times) // step)
    padded = np.concatenate([np.asarray(scores, float), np.zeros(n * step - len(times))])
    s = np.clip(padded.reshape(n, step).max(axis=1), 0.0, 1.0)
    t = np.asarray(times)[::step]
    return " ".join(f"{a:.2f},{1.0 - b:.3f}" for a, b in zip(t, s))


def video_card(j: Store, v: Video, paths: PathsConfig, seg: SegmentConfig) -> VideoCard:
    """One video as the page shows it, from its journal row, its sidecar and its stored scores."""
    outputs = v.outputs
    card = VideoCard(
        v.id,
        csv_name(paths, v),
        v.state.value,
        STATE_LABELS[v.state],
        error=v.error,
        pinned=v.pinned,
        original_deleted=_when(v.original_deleted),
    )
    if outputs:
        card.skipped, card.model, card.duration = outputs.skipped, outputs.model, outputs.duration
        card.scorer = outputs.scorer.value if outputs.scorer else None
    if v.duplicate_of is not None:
        original = j.get(v.duplicate_of)
        card.duplicate_of = original.name if original else str(v.duplicate_of)
    sidecar = v.sidecar() if v.duplicate_of is None else None
    if sidecar:
        card.threshold = sidecar.threshold
        card.segments = [
            SegmentCard(
                i + 1, s.start, s.end, s.clip_start, s.clip_end, clip, a.result if a else None, a.kind if a else None
            )
            for i, (s, clip, a) in enumerate(sidecar.cuts())
        ]
        card.reel = sidecar.highlights
        card.duration = sidecar.duration or card.duration
        stored = j.load_scores(v.sha256) if v.sha256 else None
        if stored is not None:
            card.curve = _curve(stored[0], stored[1])
        card.doubts = doubts_of(
            v.id,
            card.name,
            sidecar,
            stored[:2] if stored is not None else None,
            seg.hysteresis,
            seg.smooth,
            seg.min_segment,
        )
    return card


def practice_log(
    cards: list[VideoCard],
    sessions: Sequence[SessionBrief],
    files: Callable[[str], dict[SessionFile, Path]],
    corrections: Path,
    now: dt.datetime | None = None,
) -> PracticeLog:
    """Sessions newest first with their videos' cards, the others, the chart, and what is worth a look."""
    by_id = {c.id: c for c in cards}
    shown: list[SessionCard] = []
    placed: set[int] = set()
    for s in sorted(sessions, key=lambda s: s.started, reverse=True):
        mine = [by_id[i] for i in s.video_ids if i in by_id]
        placed.update(c.id for c in mine)
        held = files(s.id)
        shown.append(
            SessionCard(
                s.id,
                s.name,
                len(s.video_ids),
                s.attempts,
                s.in_view,
                SessionFile.REEL in held,
                list(s.dated_by_file_time),
                mine,
                s.makes,
                s.percentage,
                s.clips,
                SessionFile.MAKES in held,
                SessionFile.SHOT_MAP in held,
            )
        )
    since = (now or dt.datetime.now().astimezone()) - dt.timedelta(days=CHART_DAYS)
    chart = [
        ChartBar(s.id, s.name, s.attempts, s.makes)
        for s in sorted(sessions, key=lambda s: s.started)
        if s.started >= since
    ]
    try:
        corrected = ranges_by_video(corrections.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        corrected = {}
    offered = worth_a_look((d for c in by_id.values() for d in c.doubts), corrected, WORTH_A_LOOK)
    return PracticeLog(shown, [c for c in by_id.values() if c.id not in placed], chart, offered)
