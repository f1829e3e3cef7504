"""`dunkwatch status`: the journal, the quarantine and the model registry, summarised as a `Status`."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dunkwatch.config import ArchiveConfig, PathsConfig
from dunkwatch.disk_space import WaitingForSpace
from dunkwatch.errors import ModelError
from dunkwatch.models import registry
from dunkwatch.models.court_trust import CourtScorer, courts_in_use
from dunkwatch.pipeline.scoring.scene_memory import SceneMemory, scenes_dir
from dunkwatch.service.originals import REASON_SUFFIX
from dunkwatch.service.retention import ArchiveRetention, RetentionPlan
from dunkwatch.sessions import SessionSummary
from dunkwatch.store import LAST_SESSION_KEY, LAST_TRAINING_KEY, NEXT_TRAINING_KEY, SPACE_KEY, Counts, Store


def _when(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


@dataclass(frozen=True)
class Quarantined:
    file: str
    reason: str


@dataclass(frozen=True)
class RecentVideo:
    video: str
    state: str
    error: str | None
    when: str | None
    sha256: str = ""
    attempts: int = 0
    duplicate_of: int | None = None


@dataclass(frozen=True)
class ArchiveSummary:
    size_bytes: int
    originals: int
    next_deletion: str | None  # "IMG_0001.MOV on 2026-12-20 10:00", by archive.keep_days; None: none due
    limits: str  # the archive's limits in words

    def line(self) -> str:
        nxt = f"; next deletion: {self.next_deletion}" if self.next_deletion else ""
        return f"archive: {self.size_bytes / 1e9:.2f} GB in {self.originals} original(s) ({self.limits}){nxt}"


def archive_summary(plan: RetentionPlan, cfg: ArchiveConfig) -> ArchiveSummary:
    limits = [
        f"deleted after {cfg.keep_days} days" if cfg.keep_days else "",
        f"kept under {cfg.max_gb:g} GB" if cfg.max_gb else "",
    ]
    nxt = None
    if plan.next_deletion is not None:
        original, when = plan.next_deletion
        nxt = f"{original.name} on {dt.datetime.fromtimestamp(when).astimezone():%Y-%m-%d %H:%M}"
    return ArchiveSummary(plan.size, plan.originals, nxt, ", ".join(x for x in limits if x) or "kept forever")


@dataclass(frozen=True)
class Status:
    counts: Counts
    last_errors: list[RecentVideo]
    recent: list[RecentVideo]
    quarantine: list[Quarantined]
    model: str | None  # the version in use; "broken: ..." when the registry cannot say
    next_training: str | None
    last_training: dict | None  # training's own record, shown as it is
    waiting_for_space: WaitingForSpace | None
    journal: str
    last_session: SessionSummary | None = None  # the newest practice
    courts: list[CourtScorer] = field(default_factory=list)  # which scorer `auto` uses on each court
    archive: ArchiveSummary | None = None  # the originals kept, and the next one retention deletes

    @property
    def queue(self) -> int:
        return self.counts.queue

    def as_dict(self) -> dict:
        """`dunkwatch status --json`."""
        return {**asdict(self), "queue": self.queue}


def quarantined(folder: Path) -> list[Quarantined]:
    """Files in the quarantine with the reason written beside each."""
    found = []
    if folder.is_dir():
        for reason_file in sorted(folder.rglob(f"*{REASON_SUFFIX}")):
            video = reason_file.with_name(reason_file.name[: -len(REASON_SUFFIX)])
            if os.path.lexists(video):  # a quarantined symlink counts even when it points nowhere
                found.append(Quarantined(str(video), reason_file.read_text(encoding="utf-8", errors="replace").strip()))
    return found


def collect_status(paths: PathsConfig, archive: ArchiveConfig | None = None) -> Status:
    """`archive`: also the archive's size and next deletion (a stat of every original: `dunkwatch
    status` says it, the page, loaded often, does not)."""
    store = Store(paths.state_dir)
    try:
        summary = archive_summary(ArchiveRetention(archive, paths, store).plan(), archive) if archive else None
        counts = store.counts()
        errors = [
            RecentVideo(v.name, v.state.value, v.error, _when(v.updated))
            for v in store.recent(limit=5, with_error=True)
        ]
        recent = [
            RecentVideo(
                v.name, v.state.value, v.error, _when(v.updated), (v.sha256 or "")[:12], v.attempts, v.duplicate_of
            )
            for v in store.recent(limit=10)
        ]
        next_training = store.get_meta(NEXT_TRAINING_KEY)
        last_training = store.get_meta(LAST_TRAINING_KEY)
        waiting = store.get_meta(SPACE_KEY)
        last_session = store.get_meta(LAST_SESSION_KEY)
    finally:
        store.close()
    courts: list[CourtScorer] = []
    try:
        model = registry.current_version(paths.state_dir)
        if model is not None:
            courts = courts_in_use(paths.state_dir, model, SceneMemory(scenes_dir(paths.state_dir), 0.0).keys())
    except ModelError as exc:
        model = f"broken: {exc}"
    return Status(
        counts,
        errors,
        recent,
        quarantined(paths.quarantine),
        model,
        next_training,
        last_training,
        WaitingForSpace(**waiting) if waiting else None,
        str(Path(paths.state_dir) / "journal.sqlite3"),
        SessionSummary(**last_session) if last_session else None,
        courts,
        summary,
    )


def format_status(report: Status) -> str:
    c = report.counts
    lines = [
        f"videos: {c.done} done ({c.duplicates} duplicates), {c.failed} failed, "
        f"{c.processing} processing, {c.stable} queued, {c.seen} arriving",
        f"queue: {report.queue}",
        f"model: {report.model or 'none promoted (motion scorer)'}",
        *(f"  court {c.line()}" for c in report.courts),  # trust per court
        f"next training: {report.next_training or 'not scheduled'}",
        *([report.archive.line()] if report.archive else []),
        f"last practice: {report.last_session.line() if report.last_session else 'none yet'}",
    ]
    if report.waiting_for_space:
        w = report.waiting_for_space
        lines.append(f"waiting for disk space since {_when(w.since)}: {w.video}: {w.message}")
    if report.last_training:
        lines.append(f"last training: {report.last_training}")
    if report.last_errors:
        lines.append("last errors:")
        lines += [f"  {e.when}  {e.video} ({e.state}): {e.error}" for e in report.last_errors]
    if report.quarantine:
        lines.append(f"quarantine ({len(report.quarantine)}):")
        lines += [f"  {Path(q.file).name}: {q.reason}" for q in report.quarantine]
    return "\n".join(lines)
