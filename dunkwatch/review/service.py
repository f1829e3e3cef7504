"""What the review page does, without Flask: the videos and their scores, corrections written to
the CSV, the models, "train now", and a quarantined video's retry through `Originals`.

Files are found through the journal only: no path in a request reaches the file system.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import subprocess
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Iterator

import numpy as np

from dunkwatch.config import Config
from dunkwatch.fsutil import atomic_write_text
from dunkwatch.learn.catalogue import csv_name
from dunkwatch.learn.corrections import add_rows, format_time, ranges_by_video
from dunkwatch.models import registry
from dunkwatch.pipeline.scorer_choice import scene_memory
from dunkwatch.review.courts import CourtEditor
from dunkwatch.review.previews import poster
from dunkwatch.review.worth_a_look import LookItem, doubts_of, worth_a_look
from dunkwatch.share_links import ShareKey, SharedKind
from dunkwatch.service.session_outputs import SessionOutputs, sessions_of
from dunkwatch.sessions import SIDECAR_NAME, DatedBy, SessionSidecar
from dunkwatch.service.originals import Originals
from dunkwatch.service.schedule import train_command
from dunkwatch.service.status import Status, collect_status
from dunkwatch.store import State, Store, Video

log = logging.getLogger(__name__)

TRAIN_LOG = "review-train.log"  # "train now"'s output, in the state dir
LABELS = ("dunk", "empty", "make", "miss", "shot", "no shot")
STATE_LABELS = {State.SEEN: "arriving", State.STABLE: "queued", State.PROCESSING: "processing",
                State.DONE: "done", State.FAILED: "failed"}  # the words `dunkwatch status` uses


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


CHART_DAYS = 56
WORTH_A_LOOK = 10  # stretches offered at the top of the page


class SessionFile(Enum):
    """What a session's folder holds beside session.json; the value is its SessionSidecar field."""

    REEL = "reel"
    MAKES = "makes_reel"
    SHOT_MAP = "shot_map"


class Outcome(Enum):
    SAVED = 200
    BAD_REQUEST = 400
    NOT_FOUND = 404
    CONFLICT = 409


@dataclass(frozen=True)
class CorrectionResult:
    outcome: Outcome
    message: str
    stamp: str | None = None  # the CSV's new stamp, once saved
    stale: bool = False  # the CSV changed since the page read it


def _when(timestamp: float | None) -> str | None:
    return dt.datetime.fromtimestamp(timestamp).astimezone().strftime("%Y-%m-%d %H:%M") if timestamp else None


def csv_stamp(path: Path) -> str:
    """What the page read: a write carrying another stamp is based on a stale read."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return "none"


def _curve(times, scores, max_points: int = 1200) -> str:
    if times is None or len(times) == 0:
        return ""
    step = max(1, len(times) // max_points)
    t = np.asarray(times)[::step]
    s = np.clip(np.asarray(scores)[::step], 0.0, 1.0)
    return " ".join(f"{a:.2f},{1.0 - b:.3f}" for a, b in zip(t, s))


def parse_ranges(raw) -> list[tuple[float, float, str]]:
    """[[start, end, label], ...] in seconds of the original; ValueError or TypeError when malformed."""
    rows = []
    for start, end, label in raw:
        start, end = float(start), float(end)
        if label not in LABELS or not 0 <= start < end:
            raise ValueError(label)
        rows.append((start, end, label))
    return rows


class TrainingRun:
    """"train now": the same job as `dunkwatch train`, in the background, one at a time."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.log_path = cfg.paths.state_dir / TRAIN_LOG
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def start(self) -> bool:
        with self._lock:
            if self.running():
                return False
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.log_path, "w", encoding="utf-8") as out:
                self._proc = subprocess.Popen(train_command(self.cfg), stdout=out, stderr=subprocess.STDOUT,
                                              stdin=subprocess.DEVNULL)
            return True

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def tail(self, lines: int = 12) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class ReviewService:
    """Everything the page can see and do; each call opens the journal for its own time only."""

    def __init__(self, cfg: Config):
        self.cfg, self.paths = cfg, cfg.paths
        self.training = TrainingRun(cfg)
        self._csv_lock = threading.Lock()
        # One scene memory: it caches scenes by file time.
        self.courts = CourtEditor(scene_memory(cfg.paths.state_dir, cfg.motion))

    @contextmanager
    def journal(self) -> Iterator[Store]:
        opened = Store(self.paths.state_dir)
        try:
            yield opened
        finally:
            opened.close()

    def video(self, video_id: int) -> Video | None:
        with self.journal() as j:
            return j.get(video_id)

    def status(self) -> Status:
        return collect_status(self.paths, self.cfg.archive)

    def models(self) -> list[registry.ModelEntry]:
        return registry.listing(self.paths.state_dir)

    def quarantined(self) -> list[Video]:
        """Failed videos whose original is in the quarantine now."""
        with self.journal() as j:
            return [v for v in j.recent(state=State.FAILED.value, limit=100) if v.location and v.location.is_file()]

    def cards(self, limit: int = 100) -> list[VideoCard]:
        """The journal's newest videos, with what each one's sidecar and stored scores say."""
        with self.journal() as j:
            return [self._card(j, v) for v in sorted(j.recent(limit=limit), key=lambda v: v.id, reverse=True)]

    def _card(self, j: Store, v: Video) -> VideoCard:
        outputs = v.outputs
        card = VideoCard(v.id, csv_name(self.paths, v), v.state.value, STATE_LABELS[v.state], error=v.error,
                         pinned=v.pinned, original_deleted=_when(v.original_deleted))
        if outputs:
            card.skipped, card.model, card.duration = outputs.skipped, outputs.model, outputs.duration
            card.scorer = outputs.scorer.value if outputs.scorer else None
        if v.duplicate_of is not None:
            original = j.get(v.duplicate_of)
            card.duplicate_of = original.name if original else str(v.duplicate_of)
        sidecar = v.sidecar() if v.duplicate_of is None else None
        if sidecar:
            card.threshold = sidecar.threshold
            card.segments = [SegmentCard(i + 1, s.start, s.end, s.clip_start, s.clip_end, clip,
                                         a.result if a else None, a.kind if a else None)
                             for i, (s, clip, a) in enumerate(sidecar.cuts())]
            card.reel = sidecar.highlights
            card.duration = sidecar.duration or card.duration
            stored = j.load_scores(v.sha256) if v.sha256 else None
            if stored is not None:
                card.curve = _curve(stored[0], stored[1])
            seg = self.cfg.segment
            card.doubts = doubts_of(v.id, card.name, sidecar, stored[:2] if stored is not None else None,
                                    seg.hysteresis, seg.smooth, seg.min_segment)
        return card

    def practice_log(self, now: dt.datetime | None = None) -> PracticeLog:
        cards = {c.id: c for c in self.cards()}
        with self.journal() as j:
            sessions = sessions_of(self.paths, self.cfg.sessions, j)
        shown, placed = [], set()
        for s in sorted(sessions, key=lambda s: s.started, reverse=True):
            mine = [cards[v.video_id] for v in s.videos if v.video_id in cards]
            placed.update(c.id for c in mine)
            files = self.session_files(s.id)  # session.json read once per session
            shown.append(SessionCard(s.id, s.name, len(s.videos), s.attempts, round(s.in_view, 1),
                                     SessionFile.REEL in files,
                                     [v.name for v in s.videos if v.dated_by is DatedBy.FILE_TIME], mine,
                                     s.makes, s.percentage, s.clips, SessionFile.MAKES in files,
                                     SessionFile.SHOT_MAP in files))
        since = (now or dt.datetime.now().astimezone()) - dt.timedelta(days=CHART_DAYS)
        chart = [ChartBar(s.id, s.name, s.attempts, s.makes) for s in sorted(sessions, key=lambda s: s.started)
                 if s.started >= since]
        try:
            corrected = ranges_by_video(self.paths.corrections.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            corrected = {}
        offered = worth_a_look((d for c in cards.values() for d in c.doubts), corrected, WORTH_A_LOOK)
        return PracticeLog(shown, [c for c in cards.values() if c.id not in placed], chart, offered)

    def session_files(self, session_id: str) -> dict[SessionFile, Path]:
        """The files a session's folder holds now, by kind; none for a malformed id or an unknown session."""
        folder = SessionOutputs(self.paths, self.cfg.sessions).folder(session_id)
        sidecar = SessionSidecar.read(folder / SIDECAR_NAME) if folder else None
        if sidecar is None:
            return {}
        named = {kind: getattr(sidecar, kind.value) for kind in SessionFile}
        return {kind: folder / name for kind, name in named.items() if name and (folder / name).is_file()}

    def session_reel(self, session_id: str) -> Path | None:
        """A session's reel; None for a malformed id, an unknown session, or one without a reel."""
        return self.session_files(session_id).get(SessionFile.REEL)

    def poster(self, video_id: int, number: int) -> Path | None:
        """A frame from the middle of the clip's action, made once and cached."""
        video = self.video(video_id)
        if video is None or video.outputs is None or not 0 < number <= len(video.outputs.clips):
            return None
        clip = self.outbox_file(video, video.outputs.clips[number - 1])
        sidecar = video.sidecar() if clip else None
        cuts = sidecar.cuts() if sidecar else []  # a clip per shot, or per stretch with a player in view
        if not 0 < number <= len(cuts):
            return None
        s = cuts[number - 1][0]
        stretch = self.cfg.export.slow_motion if self.cfg.export.mode != "copy" else 1.0  # smart re-encodes slow motion
        return poster(clip, ((s.start + s.end) / 2 - s.clip_start) * stretch, self.paths.state_dir / "posters")

    def share(self, kind: SharedKind, ident: str, host: str) -> str | None:
        """A share link's token for a clip ("<video id>-<number>") or a session's reel; None when there is none."""
        if self.shared_file(kind, ident) is None:
            return None
        return ShareKey(self.paths.state_dir).link(kind, ident, host, self.cfg.review.share_days)

    def shared_file(self, kind: SharedKind, ident: str) -> Path | None:
        if kind is SharedKind.SESSION:
            return self.session_reel(ident)
        video_id, _, number = ident.partition("-")
        if not (video_id.isdigit() and number.isdigit()):
            return None
        return self.clip(int(video_id), int(number))

    def outbox_file(self, video: Video, name: str | None) -> Path | None:
        """A file the journal lists for this video, in its outbox folder; None for anything else."""
        outputs = video.outputs
        if not outputs or not outputs.folder or not name or name not in outputs.files():
            return None
        path = (outputs.folder / name).resolve()
        if not path.is_relative_to(self.paths.outbox.resolve()) or not path.is_file():
            return None
        return path

    def clip(self, video_id: int, number: int) -> Path | None:
        video = self.video(video_id)
        if video is None or video.outputs is None:
            return None
        clips = video.outputs.clips
        return self.outbox_file(video, clips[number - 1] if 0 < number <= len(clips) else None)

    def reel(self, video_id: int) -> Path | None:
        video = self.video(video_id)
        return self.outbox_file(video, video.outputs.highlights) if video and video.outputs else None

    def correct(self, video_id: int, rows: list[tuple[float, float, str]], note: str,
                stamp: str | None) -> CorrectionResult:
        """Rows for one processed video added to the corrections CSV, unless it changed since `stamp`."""
        video = self.video(video_id)
        if video is None or video.state is not State.DONE:
            return CorrectionResult(Outcome.NOT_FOUND, "no processed video with that id")
        name, csv = csv_name(self.paths, video), self.paths.corrections
        with self._csv_lock:
            if stamp != csv_stamp(csv):
                return CorrectionResult(Outcome.CONFLICT, f"{csv} changed since this page was loaded (edited by "
                                        "hand?); nothing was written. Reload the page and try again.", stale=True)
            try:
                text = csv.read_text(encoding="utf-8")
            except FileNotFoundError:
                text = ""
            except UnicodeDecodeError:
                return CorrectionResult(Outcome.CONFLICT, f"{csv} is not UTF-8; save it as UTF-8 first")
            atomic_write_text(csv, add_rows(text, [[name, format_time(a), format_time(b), label, note[:200]]
                                                   for a, b, label in rows]))
        log.info("review page: %s: %s", name, ", ".join(f"{format_time(a)}-{format_time(b)} {label}"
                                                       for a, b, label in rows))
        return CorrectionResult(Outcome.SAVED, f"saved to {csv.name}: {len(rows)} row(s) for {name}",
                                stamp=csv_stamp(csv))

    def pin(self, video_id: int, pinned: bool) -> bool:
        """Keep a processed video's original past the archive's limits, or let it go again."""
        with self.journal() as j:
            video = j.get(video_id)
            if video is None or video.state is not State.DONE or video.original_deleted is not None:
                return False
            j.set_pinned(video_id, pinned)
        return True

    def use_model(self, version: str) -> bool:
        if version not in registry.versions(self.paths.state_dir):
            return False
        registry.set_current(self.paths.state_dir, version)
        return True

    def retry(self, video_id: int) -> Path | None:
        """A quarantined video back to the inbox and the queue; None when it is not in the quarantine."""
        video = self.video(video_id)
        if video is None or video.state is not State.FAILED or not video.location or not video.location.is_file():
            return None
        with self.journal() as j:
            return Originals(self.cfg, j).retry(video)
