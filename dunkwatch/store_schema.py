"""The journal's schema: its tables as SQL, one migration per version (PRAGMA user_version), and
the typed rows the store hands out. No sqlite3 here: the store is its only user."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from dunkwatch.outputs import Sidecar, VideoOutputs

MIGRATIONS = [
    # v1: the journal and a key/value table for daemon facts (next training run, ...).
    """
    CREATE TABLE videos (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        name TEXT NOT NULL,
        size INTEGER,
        mtime REAL,
        sha256 TEXT,
        state TEXT NOT NULL CHECK (state IN ('seen', 'stable', 'processing', 'done', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        outputs TEXT,
        duplicate_of INTEGER REFERENCES videos(id),
        location TEXT,
        next_attempt REAL NOT NULL DEFAULT 0,
        created REAL NOT NULL,
        updated REAL NOT NULL,
        finished REAL
    );
    CREATE UNIQUE INDEX videos_active_path ON videos(path) WHERE state IN ('seen', 'stable', 'processing');
    CREATE INDEX videos_sha256 ON videos(sha256);
    CREATE INDEX videos_state ON videos(state, next_attempt);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # v2: per-frame scores of each processed content, the predictions training learns from.
    """
    CREATE TABLE scores (
        sha256 TEXT PRIMARY KEY,
        scorer TEXT NOT NULL,
        model TEXT,
        times BLOB NOT NULL,
        scores BLOB NOT NULL,
        updated REAL NOT NULL
    );
    """,
    # v3: deaths of the service from outside (kill, OOM, reboot) while a video was processed,
    # counted apart from the video's own attempts.
    """
    ALTER TABLE videos ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0;
    """,
    # v4: notifications not sent yet (a receiver down, a session still growing).
    """
    CREATE TABLE notifications (
        id INTEGER PRIMARY KEY,
        key TEXT UNIQUE,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        not_before REAL NOT NULL,
        tries INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL
    );
    """,
    # v5: archive retention: originals the player pinned, and when retention deleted one.
    """
    ALTER TABLE videos ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE videos ADD COLUMN original_deleted REAL;
    """,
]


class State(str, Enum):
    """Where a video is in its life; stored as the value."""

    SEEN = "seen"  # in the inbox, maybe still arriving
    STABLE = "stable"  # complete and hashed: queued
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


STATES = tuple(s.value for s in State)
ACTIVE = tuple(s.value for s in (State.SEEN, State.STABLE, State.PROCESSING))  # for SQL: a tuple of strings


@dataclass(frozen=True)
class Counts:
    """Videos per state, and how many of the finished ones were duplicates."""

    seen: int
    stable: int
    processing: int
    done: int
    failed: int
    duplicates: int

    @property
    def queue(self) -> int:
        return self.seen + self.stable + self.processing


@dataclass(frozen=True)
class Video:
    id: int
    path: Path
    name: str
    size: int | None
    mtime: float | None
    sha256: str | None
    state: State
    attempts: int
    error: str | None
    outputs: VideoOutputs | None
    duplicate_of: int | None
    location: Path | None
    next_attempt: float
    created: float
    updated: float
    finished: float | None
    interruptions: int = 0  # the service died from outside while processing it
    pinned: bool = False  # the player keeps its original past the archive's limits
    original_deleted: float | None = None  # when archive retention deleted the original

    def sidecar(self) -> Sidecar | None:
        """Its sidecar in its outbox folder, when it has one that can be read."""
        if self.outputs is None or self.outputs.folder is None:
            return None
        return Sidecar.read(self.outputs.folder / f"{self.path.stem}.json")

    @classmethod
    def from_row(cls, row: Any) -> "Video":
        d = dict(row)
        d["path"] = Path(d["path"])
        d["state"] = State(d["state"])
        d["location"] = Path(d["location"]) if d["location"] else None
        d["outputs"] = VideoOutputs.from_json(d["outputs"]) if d["outputs"] else None
        d["pinned"] = bool(d.get("pinned"))
        return cls(**d)


@dataclass(frozen=True)
class Notice:
    """A notification waiting to be sent: kept in the journal, so a stop loses none."""

    id: int
    key: str | None  # an event that replaces its earlier message (a session that grew), else None
    title: str
    body: str
    not_before: float
    tries: int
