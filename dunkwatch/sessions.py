"""PURE: practices ("sessions") from the videos' recording times. No files, no ffmpeg.

A practice is what a player means by "Tuesday evening": videos filmed one after another. Videos
are ordered by when filming began (the container's recording time, else the file's modification
time), and a gap longer than `sessions.gap` between the end of one and the start of the next
starts a new session. A session's id is its first video's local start minute, so it is stable as
long as no earlier video of that practice arrives late (then the id moves with the start, and the
old session's outputs are replaced).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Generic, Iterable, Protocol, Sequence, TypeVar

from dunkwatch.outputs import ShotNote

SESSION_ID = re.compile(r"^\d{4}-\d{2}-\d{2}-\d{4}(-\d+)?$")
SIDECAR_NAME = "session.json"


class DatedBy(str, Enum):
    RECORDED = "recorded"  # the container says when filming began
    FILE_TIME = "file time"  # it does not: the file's modification time stands in

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class SessionVideo:
    video_id: int  # the journal's row
    name: str  # as the CSVs name it
    started: dt.datetime  # timezone-aware
    dated_by: DatedBy
    duration: float
    folder: Path  # its outbox folder
    clips: tuple[str, ...]  # file names in `folder`, in segment order
    spans: tuple[tuple[float, float], ...]  # the actions, seconds into the video
    original: Path | None = None  # the original, where it is now (for editor timelines)
    shots: tuple[ShotNote, ...] = ()  # its attempts, as the journal keeps them
    scene: str | None = None  # the first remembered court it showed
    aspect: float = 16 / 9  # its frame's width / height
    sidecar_path: Path | None = None  # read only to write a changed session's editor timelines

    @property
    def ended(self) -> dt.datetime:
        return self.started + dt.timedelta(seconds=self.duration)


@dataclass(frozen=True)
class Session:
    id: str
    name: str  # "2026-11-30 evening"
    videos: tuple[SessionVideo, ...]  # in recording order

    @property
    def started(self) -> dt.datetime:
        return self.videos[0].started

    @property
    def ended(self) -> dt.datetime:
        return max(v.ended for v in self.videos)

    @property
    def attempts(self) -> int:
        """Shots at the hoop, over all its videos (none where no hoop was in view)."""
        return sum(len(v.shots) for v in self.videos)

    @property
    def makes(self) -> int:
        return sum(1 for v in self.videos for a in v.shots if a.result == "make")

    @property
    def percentage(self) -> float | None:
        """Makes per attempt, in percent; None without attempts."""
        return make_percentage(self.makes, self.attempts)

    @property
    def clips(self) -> int:
        return sum(len(v.clips) for v in self.videos)

    def counts(self) -> str:
        """ "5 attempt(s), 3 make(s) (60%)", or the clips where no hoop was in view."""
        if not self.attempts:
            return f"{self.clips} clip(s)"
        return f"{self.attempts} attempt(s), {self.makes} make(s) ({self.percentage:.0f}%)"

    @property
    def in_view(self) -> float:
        """Seconds with a player in view, over all its videos."""
        return sum(b - a for v in self.videos for a, b in v.spans)

    def clip_paths(self) -> list[Path]:
        """Every clip, in recording order."""
        return [v.folder / c for v in self.videos for c in v.clips]

    def make_paths(self) -> list[Path]:
        """The clips of the makes, in recording order: the session's makes reel."""
        return [v.folder / a.clip for v in self.videos for a in v.shots if a.result == "make" and a.clip]

    def shots(self) -> list[tuple[float, float, str]]:
        """(x, y, result) of each attempt whose shooter was seen, x and y relative to the frame."""
        return [(a.shooter[0], a.shooter[1], a.result) for v in self.videos for a in v.shots if a.shooter]

    def court(self) -> tuple[str | None, float]:
        """The first remembered court its videos showed (a scene key, or None) and the frame's aspect."""
        for v in self.videos:
            if v.scene:
                return v.scene, v.aspect
        return None, self.videos[0].aspect


def make_percentage(makes: int, attempts: int) -> float | None:
    """Makes per attempt, in percent, to a tenth; None without attempts."""
    return round(100.0 * makes / attempts, 1) if attempts else None


def day_part(hour: int) -> str:
    if 5 <= hour < 12:
        return "morning"
    if 12 <= hour < 17:
        return "afternoon"
    if 17 <= hour < 22:
        return "evening"
    return "night"


class Dated(Protocol):
    """What grouping reads of a video: its journal row and when it was filmed."""

    @property
    def video_id(self) -> int: ...

    @property
    def started(self) -> dt.datetime: ...

    @property
    def ended(self) -> dt.datetime: ...


D = TypeVar("D", bound=Dated)


@dataclass(frozen=True, slots=True)
class VideoTally:
    """What the page's list of practices needs of a video: when, and how many. A month of whole
    SessionVideos (clips, spans, shots), grouped at each page load in the service, raised its
    high-water mark with every video ever processed; this is about a tenth of one."""

    video_id: int
    name: str
    started: dt.datetime
    dated_by: DatedBy
    duration: float
    clips: int
    attempts: int
    makes: int
    in_view: float  # seconds

    @property
    def ended(self) -> dt.datetime:
        return self.started + dt.timedelta(seconds=self.duration)

    @classmethod
    def of(cls, v: SessionVideo) -> VideoTally:
        return cls(
            v.video_id,
            v.name,
            v.started,
            v.dated_by,
            v.duration,
            len(v.clips),
            len(v.shots),
            sum(1 for a in v.shots if a.result == "make"),
            sum(b - a for a, b in v.spans),
        )


@dataclass(frozen=True)
class Practice(Generic[D]):
    """Videos filmed one after another, however much of each is kept (whole, or a tally)."""

    id: str
    name: str  # "2026-11-30 evening"
    videos: tuple[D, ...]  # in recording order


def practices(videos: Iterable[D], gap_seconds: float) -> list[Practice[D]]:
    """The practices, oldest first."""
    ordered = sorted(videos, key=lambda v: (v.started, v.video_id))
    runs: list[list[D]] = []
    end: dt.datetime | None = None  # when the last run's latest video ended
    for video in ordered:
        if runs and end is not None and (video.started - end).total_seconds() <= gap_seconds:
            runs[-1].append(video)
            end = max(end, video.ended)
        else:
            runs.append([video])
            end = video.ended
    found: list[Practice[D]] = []
    taken: set[str] = set()
    for run in runs:
        start = run[0].started  # in its own offset: the local time where it was filmed
        base = f"{start:%Y-%m-%d-%H%M}"
        sid, n = base, 1
        while sid in taken:  # two practices starting the same minute: only across time zones
            n += 1
            sid = f"{base}-{n}"
        taken.add(sid)
        found.append(Practice(sid, f"{start:%Y-%m-%d} {day_part(start.hour)}", tuple(run)))
    return found


def group(videos: Iterable[SessionVideo], gap_seconds: float) -> list[Session]:
    """Sessions, oldest first."""
    return [Session(p.id, p.name, p.videos) for p in practices(videos, gap_seconds)]


def parse_started(recorded_at: str | None, mtime: float | None) -> tuple[dt.datetime, DatedBy] | None:
    """When filming began: the recording time, else the file's modification time (local time)."""
    if recorded_at:
        try:
            when = dt.datetime.fromisoformat(recorded_at)
            return (when if when.tzinfo else when.astimezone()), DatedBy.RECORDED
        except ValueError:
            pass
    if mtime is None:
        return None
    return dt.datetime.fromtimestamp(mtime).astimezone(), DatedBy.FILE_TIME


@dataclass(frozen=True)
class SessionSidecar:
    """`sessions/<id>/session.json`: what the session folder holds and what it was made from."""

    id: str
    name: str
    started: str
    ended: str
    videos: tuple[str, ...]
    clips: tuple[str, ...]  # paths relative to the outbox, in recording order
    attempts: int  # shots at the hoop
    in_view: float  # seconds
    reel: str | None  # file name in the session folder
    dated_by_file_time: tuple[str, ...] = field(default=())  # videos without a recording time
    timelines: tuple[str, ...] = field(default=())  # editor timelines in the session folder
    makes: int = 0
    percentage: float | None = None  # makes per attempt, in percent; None without attempts
    makes_reel: str | None = None  # file name in the session folder: every make, in recording order
    shot_map: str | None = None  # file name in the session folder: where each attempt was taken from

    @classmethod
    def of(
        cls,
        session: Session,
        outbox: Path,
        reel: str | None,
        timelines: Sequence[str] = (),
        makes_reel: str | None = None,
        shot_map: str | None = None,
    ) -> "SessionSidecar":
        return cls(
            session.id,
            session.name,
            session.started.isoformat(timespec="seconds"),
            session.ended.isoformat(timespec="seconds"),
            tuple(v.name for v in session.videos),
            tuple(
                p.relative_to(outbox).as_posix() if p.is_relative_to(outbox) else str(p) for p in session.clip_paths()
            ),
            session.attempts,
            round(session.in_view, 3),
            reel,
            tuple(v.name for v in session.videos if v.dated_by is DatedBy.FILE_TIME),
            tuple(timelines),
            session.makes,
            session.percentage,
            makes_reel,
            shot_map,
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def read(cls, path: Path) -> "SessionSidecar | None":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            for key in ("videos", "clips", "dated_by_file_time", "timelines"):
                data[key] = tuple(data.get(key) or ())
            return cls(**data)
        except (OSError, ValueError, TypeError):
            return None


@dataclass(frozen=True)
class SessionSummary:
    """One line of the practice log: `dunkwatch status` shows the newest."""

    id: str
    name: str
    videos: int
    attempts: int
    in_view: float
    makes: int = 0
    counts: str = ""  # "5 attempt(s), 3 make(s) (60%)", or the clips where no hoop was in view

    @classmethod
    def of(cls, session: Session) -> "SessionSummary":
        return cls(
            session.id,
            session.name,
            len(session.videos),
            session.attempts,
            round(session.in_view, 1),
            session.makes,
            session.counts(),
        )

    def line(self) -> str:
        counts = self.counts or f"{self.attempts} clip(s)"  # a summary an older version stored counted clips
        return f"{self.name}: {self.videos} video(s), {counts}, {self.in_view:.0f} s with a player in view"


def newest(sessions: Sequence[Session]) -> Session | None:
    return max(sessions, key=lambda s: s.started) if sessions else None
