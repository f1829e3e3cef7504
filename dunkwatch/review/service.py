"""What the review page does, without Flask: a facade over the cards (cards.py), the corrections
CSV (corrections_csv.py), "train now" (training_run.py), the courts (courts.py), share links,
model switching, pins and a quarantined video's retry through `Originals`.

Files are found through the journal only: no path in a request reaches the file system.
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from dunkwatch.config import Config
from dunkwatch.models import registry
from dunkwatch.pipeline.scoring.scorer_choice import scene_memory
from dunkwatch.review.cards import PracticeLog, SessionBrief, SessionFile, VideoCard, practice_log, video_card
from dunkwatch.review.corrections_csv import CorrectionResult, CorrectionsCsv, Outcome
from dunkwatch.review.courts import CourtEditor
from dunkwatch.review.previews import poster
from dunkwatch.review.training_run import TrainingRun
from dunkwatch.service.heap import give_back_freed_memory
from dunkwatch.service.originals import Originals
from dunkwatch.service.session_outputs import SessionOutputs, practice_tallies
from dunkwatch.service.status import Status, collect_status
from dunkwatch.sessions import SIDECAR_NAME, SessionSidecar
from dunkwatch.share_links import SharedKind, ShareKey
from dunkwatch.store import State, Store, Video, journal_stamp


class ReviewService:
    """Everything the page can see and do; each call opens the journal for its own time only."""

    def __init__(self, cfg: Config) -> None:
        self.cfg, self.paths = cfg, cfg.paths
        self.training = TrainingRun(cfg)
        self.corrections = CorrectionsCsv(cfg.paths)
        # One scene memory: it caches scenes by file time.
        self.courts = CourtEditor(scene_memory(cfg.paths.state_dir, cfg.motion))
        # The practice sessions as last grouped, and the journal's stamp then: a month of videos
        # takes a few hundred ms to group, and the journal changes only when a video ends.
        self._sessions: tuple[tuple[int, ...], list[SessionBrief]] | None = None
        # The newest videos' cards by their journal row: a card is made again only when its row
        # changed (a sidecar is rewritten only with its row). At most `cards`' limit are kept.
        self._cards: dict[Video, VideoCard] = {}

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
        return collect_status(self.paths)  # the page shows no archive line

    def models(self) -> list[registry.ModelEntry]:
        return registry.listing(self.paths.state_dir)

    def quarantined(self) -> list[Video]:
        """Failed videos whose original is in the quarantine now."""
        with self.journal() as j:
            return [v for v in j.recent(state=State.FAILED.value, limit=100) if v.location and v.location.is_file()]

    def cards(self, limit: int = 100) -> list[VideoCard]:
        """The journal's newest videos, with what each one's sidecar and stored scores say."""
        with self.journal() as j:
            kept = self._cards
            cards = {
                v: kept.get(v) or video_card(j, v, self.paths, self.cfg.segment)
                for v in sorted(j.recent(limit=limit), key=lambda v: v.id, reverse=True)
            }
        self._cards = cards  # replaced whole: the page's threads may race here
        return list(cards.values())

    def practice_log(self, now: dt.datetime | None = None) -> PracticeLog:
        return practice_log(self.cards(), self.sessions(), self.session_files, self.paths.corrections, now)

    def sessions(self) -> list[SessionBrief]:
        """The practice sessions, grouped again only when the journal changed since the last time;
        only what the page shows of them is kept, and grouping's pages go back to the system."""
        stamp = journal_stamp(self.paths.state_dir)
        kept = self._sessions
        if kept is not None and kept[0] == stamp:
            return kept[1]
        with self.journal() as j:
            sessions = [SessionBrief.of(p) for p in practice_tallies(self.paths, self.cfg.sessions, j)]
        self._sessions = (stamp, sessions)  # one tuple, replaced whole: the page's threads may race here
        give_back_freed_memory()
        return sessions

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
        if clip is None:
            return None
        sidecar = video.sidecar()
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

    def correct(
        self, video_id: int, rows: list[tuple[float, float, str]], note: str, stamp: str | None
    ) -> CorrectionResult:
        """Rows for one processed video added to the corrections CSV, unless it changed since `stamp`."""
        video = self.video(video_id)
        if video is None or video.state is not State.DONE:
            return CorrectionResult(Outcome.NOT_FOUND, "no processed video with that id")
        return self.corrections.add(video, rows, note, stamp)

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
