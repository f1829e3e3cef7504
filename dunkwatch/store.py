"""The journal: the only module that touches SQLite. One row per video that reached the inbox.

States: seen (noticed, still changing) -> stable (complete, hashed, queued) -> processing ->
done or failed. `location` records where the original went (archive or quarantine); a done or
failed row without one still has its move to finish, which `unfinished_moves` hands back after
a crash. Every change is one committed transaction, so a kill at any moment leaves either the
old row or the new one.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from dunkwatch.errors import DunkwatchError
from dunkwatch.outputs import ScorerKind, VideoOutputs
from dunkwatch.store_schema import ACTIVE, STATES, Counts, Notice, State, Video  # noqa: F401 (re-exported)
from dunkwatch.store_schema import MIGRATIONS as _MIGRATIONS

DB_NAME = "journal.sqlite3"
# The meta entries other parts keep here, named once.
NEXT_TRAINING_KEY = "next_training"  # when the schedule runs training next
LAST_TRAINING_KEY = "last_training"  # training's record of its last run
SPACE_KEY = "waiting_for_space"  # a video waiting for disk space, while it waits
LAST_SESSION_KEY = "last_session"  # the newest practice session's summary
PAGE_ROWS = 256  # journal rows read at a time by a walk over all of them (Store._each)
# SQLite's page cache for each open journal, in KiB. Its default (2 MiB) filled as the journal grew
# and retention's look scanned it: 2 MB of the service's 86 grown over a simulated fortnight. The
# file's pages stay in the system's cache, a read away.
CACHE_KIB = 256


def journal_stamp(state_dir: Path) -> tuple[int, ...]:
    """Changes with every commit to the journal, by any process: its files' sizes and change
    times (a commit appends to the WAL, a checkpoint rewrites the file). Two stats, no query."""
    stamp: list[int] = []
    for name in (DB_NAME, DB_NAME + "-wal"):
        try:
            st = (state_dir / name).stat()
            stamp += [st.st_size, st.st_mtime_ns]
        except FileNotFoundError:
            stamp += [-1, -1]
    return tuple(stamp)


class StoreError(DunkwatchError):
    """The journal cannot be opened or is from a newer dunkwatch."""


class Store:
    """A thread-safe handle on the journal; every method is one transaction."""

    def __init__(self, state_dir: Path, clock: Callable[[], float] = time.time, busy_seconds: float = 30.0) -> None:
        state_dir = Path(state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / DB_NAME
        self._clock = clock
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(self.path, timeout=busy_seconds, check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._wal(busy_seconds)  # readers (`dunkwatch status`) never block the daemon
            self._db.execute("PRAGMA synchronous=FULL")  # a committed row survives a power cut
            self._db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")  # negative: KiB, not pages
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the journal: {exc}") from None

    def _wal(self, busy_seconds: float) -> None:
        """Switch to WAL; the switch needs the file to itself, and SQLite does not wait for that
        (no busy handler), so a journal opened by two processes at once retries here."""
        deadline = time.monotonic() + busy_seconds
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(_MIGRATIONS):
            raise StoreError(
                f"{self.path}: journal schema v{version} is newer than this dunkwatch "
                f"(v{len(_MIGRATIONS)}); upgrade dunkwatch"
            )
        for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
            with self._tx():
                # Another process (`dunkwatch status` as the service starts) may have migrated since.
                if self._db.execute("PRAGMA user_version").fetchone()[0] >= number:
                    continue
                for statement in script.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number}")

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        store = self

        class _Tx:
            def __enter__(self) -> sqlite3.Connection:
                store._lock.acquire()
                try:
                    store._db.execute("BEGIN IMMEDIATE")  # "database is locked" while a train writes
                except BaseException:
                    store._lock.release()  # else the next caller blocks on the lock for ever
                    raise
                return store._db

            def __exit__(
                self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
            ) -> None:
                try:
                    store._db.execute("ROLLBACK" if exc_type else "COMMIT")
                finally:
                    store._lock.release()

        return _Tx()

    def _one(self, sql: str, args: tuple = ()) -> Video | None:
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        return Video.from_row(row) if row else None

    def _all(self, sql: str, args: tuple = ()) -> list[Video]:
        with self._lock:
            return [Video.from_row(r) for r in self._db.execute(sql, args).fetchall()]

    def _each(self, where: str) -> Iterator[Video]:
        """The rows that match, by id, PAGE_ROWS at a time, each page its own read: a walk over the
        whole journal holds a page in memory, not the journal, which would raise the service's
        high-water mark with every video it ever processed. A row changed during the walk is seen
        as it is when its page is read."""
        last = 0
        while True:
            with self._lock:
                rows = self._db.execute(
                    f"SELECT * FROM videos WHERE ({where}) AND id > ? ORDER BY id LIMIT ?", (last, PAGE_ROWS)
                ).fetchall()
            for row in rows:
                yield Video.from_row(row)
            if len(rows) < PAGE_ROWS:
                return
            last = rows[-1]["id"]

    # --- arrivals ------------------------------------------------------------------------

    def active(self, path: Path) -> Video | None:
        """The row of a file still in the inbox at `path`, if any."""
        return self._one(f"SELECT * FROM videos WHERE path = ? AND state IN {ACTIVE}", (str(path),))

    def move_pending(self, path: Path) -> bool:
        """Finished, but the original could not be moved out of the inbox yet."""
        with self._lock:
            return (
                self._db.execute(
                    "SELECT 1 FROM videos WHERE path = ? AND state IN ('done', 'failed') AND location IS NULL",
                    (str(path),),
                ).fetchone()
                is not None
            )

    def get(self, video_id: int) -> Video | None:
        return self._one("SELECT * FROM videos WHERE id = ?", (video_id,))

    def known(self, video_id: int) -> Video:
        """The row of a video the caller knows is in the journal (it has just written it)."""
        video = self.get(video_id)
        assert video is not None, f"video {video_id} is not in the journal"
        return video

    def note_seen(self, path: Path, size: int, mtime: float) -> Video:
        """Record a file noticed in the inbox; an existing active row is only refreshed."""
        now = self._clock()
        with self._tx() as db:
            row = db.execute(
                f"SELECT id, state FROM videos WHERE path = ? AND state IN {ACTIVE}", (str(path),)
            ).fetchone()
            if row is None:
                cur = db.execute(
                    "INSERT INTO videos (path, name, size, mtime, state, created, updated) "
                    "VALUES (?, ?, ?, ?, 'seen', ?, ?)",
                    (str(path), path.name, size, mtime, now, now),
                )
                assert cur.lastrowid is not None  # set by every successful INSERT
                video_id = cur.lastrowid
            else:
                video_id = row["id"]
                if row["state"] == State.SEEN:
                    # `updated` moves only when the file does: "unchanged since" survives restarts.
                    db.execute(
                        "UPDATE videos SET size = ?, mtime = ?, updated = ? WHERE id = ? "
                        "AND (size IS NOT ? OR mtime IS NOT ?)",
                        (size, mtime, now, video_id, size, mtime),
                    )
        return self.known(video_id)

    def unchanged_seconds(self, path: Path) -> float:
        """How long the journal has seen this arriving file with its current size and mtime."""
        row = self.active(path)
        return 0.0 if row is None or row.state is not State.SEEN else max(0.0, self._clock() - row.updated)

    def forget_seen(self, path: Path) -> None:
        """A file that vanished before it was complete (a sync client's rename): it held no work."""
        with self._tx() as db:
            db.execute("DELETE FROM videos WHERE path = ? AND state = 'seen'", (str(path),))

    def mark_stable(
        self,
        video_id: int,
        size: int,
        mtime: float,
        sha256: str,
        failure: str | None = None,
        skipped: str | None = None,
    ) -> None:
        """Complete and hashed: queued; or, never queued, failed on arrival (`failure`) or done
        without clips (`skipped`: phone clutter such as a Live Photo's movie)."""
        now = self._clock()
        state = State.FAILED if failure else State.DONE if skipped else State.STABLE
        outputs = VideoOutputs(skipped=skipped).to_json() if skipped else None
        with self._tx() as db:
            db.execute(
                "UPDATE videos SET state = ?, size = ?, mtime = ?, sha256 = ?, error = ?, outputs = ?, "
                "updated = ?, finished = ? WHERE id = ? AND state = 'seen'",
                (
                    state.value,
                    size,
                    mtime,
                    sha256,
                    failure,
                    outputs,
                    now,
                    now if state is not State.STABLE else None,
                    video_id,
                ),
            )

    def drop(self, video_id: int) -> None:
        """Forget a queued file the user took back out of the inbox before it was processed."""
        with self._tx() as db:
            db.execute(f"DELETE FROM videos WHERE id = ? AND state IN {ACTIVE}", (video_id,))

    def done_with_hash(self, sha256: str) -> Video | None:
        """The first finished, non-duplicate video with this content."""
        return self._one(
            "SELECT * FROM videos WHERE sha256 = ? AND state = 'done' AND duplicate_of IS NULL ORDER BY id LIMIT 1",
            (sha256,),
        )

    # --- work ----------------------------------------------------------------------------

    def next_job(self) -> Video | None:
        """The oldest stable video whose retry time has come, marked processing (attempts + 1)."""
        now = self._clock()
        with self._tx() as db:
            row = db.execute(
                "SELECT id FROM videos WHERE state = 'stable' AND next_attempt <= ? ORDER BY next_attempt, id LIMIT 1",
                (now,),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE videos SET state = 'processing', attempts = attempts + 1, updated = ? WHERE id = ?",
                (now, row["id"]),
            )
        return self.get(row["id"])

    def nothing_due(self) -> bool:
        """No video is being processed and none is queued for now (retries for later may wait).

        One SELECT, so a job claimed between two reads (stable -> processing) is never missed."""
        with self._lock:
            busy, due = self._db.execute(
                "SELECT COALESCE(SUM(state = 'processing'), 0), MIN(CASE WHEN state = 'stable' THEN next_attempt END) "
                "FROM videos"
            ).fetchone()
        return busy == 0 and (due is None or due > self._clock())

    def seconds_to_next_job(self) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT MIN(next_attempt) FROM videos WHERE state = 'stable'").fetchone()
        return None if row[0] is None else max(0.0, row[0] - self._clock())

    def requeue(self, video_id: int, delay: float, error: str | None, count_attempt: bool = True) -> None:
        """Back to stable: after a transient error (counted) or a clean shutdown (not counted)."""
        now = self._clock()
        with self._tx() as db:
            db.execute(
                "UPDATE videos SET state = 'stable', next_attempt = ?, error = ?, "
                "attempts = attempts - ?, updated = ? WHERE id = ?",
                (now + delay, error, 0 if count_attempt else 1, now, video_id),
            )

    def finish(
        self,
        video_id: int,
        state: State,
        *,
        error: str | None = None,
        outputs: VideoOutputs | None = None,
        duplicate_of: int | None = None,
    ) -> None:
        """done or failed; the original's move is recorded separately by `moved`."""
        if state not in (State.DONE, State.FAILED):
            raise ValueError(state)
        now = self._clock()
        with self._tx() as db:
            db.execute(
                "UPDATE videos SET state = ?, error = ?, outputs = ?, duplicate_of = ?, updated = ?, "
                "finished = ? WHERE id = ?",
                (
                    State(state).value,
                    error,
                    outputs.to_json() if outputs is not None else None,
                    duplicate_of,
                    now,
                    now,
                    video_id,
                ),
            )

    def queue_again(self, video_id: int, path: Path) -> None:
        """A failed video whose original is back in the inbox at `path`: queued, with fresh attempts
        (its content was hashed when it first arrived, and a move does not change it)."""
        now = self._clock()
        with self._tx() as db:
            db.execute(
                "UPDATE videos SET state = 'stable', path = ?, name = ?, attempts = 0, interruptions = 0, "
                "error = NULL, outputs = NULL, location = NULL, next_attempt = ?, updated = ?, finished = NULL "
                "WHERE id = ? AND state = 'failed'",
                (str(path), path.name, now, now, video_id),
            )

    def moved(self, video_id: int, location: Path) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE videos SET location = ?, updated = ? WHERE id = ?", (str(location), self._clock(), video_id)
            )

    def set_outputs(self, video_id: int, outputs: VideoOutputs) -> None:
        with self._tx() as db:
            db.execute("UPDATE videos SET outputs = ? WHERE id = ?", (outputs.to_json(), video_id))

    def set_pinned(self, video_id: int, pinned: bool) -> None:
        with self._tx() as db:
            db.execute("UPDATE videos SET pinned = ?, updated = ? WHERE id = ?", (int(pinned), self._clock(), video_id))

    def original_deleted(self, video_id: int, when: float) -> None:
        """Archive retention deleted the original; the row and its outputs stay."""
        with self._tx() as db:
            db.execute("UPDATE videos SET original_deleted = ? WHERE id = ?", (when, video_id))

    def archived(self) -> Iterator[Video]:
        """Done videos (duplicates too) whose original is in the archive and not deleted, by id."""
        return self._each("state = 'done' AND location IS NOT NULL AND original_deleted IS NULL")

    # --- recovery after a crash ----------------------------------------------------------

    def requeue_interrupted(self, video_id: int) -> None:
        """Back to the queue after the service was killed from outside: the attempt is not counted."""
        now = self._clock()
        with self._tx() as db:
            db.execute(
                "UPDATE videos SET state = 'stable', next_attempt = ?, error = 'interrupted', "
                "attempts = attempts - 1, interruptions = interruptions + 1, updated = ? WHERE id = ?",
                (now, now, video_id),
            )

    def interrupted(self) -> list[Video]:
        """Videos that were being processed when the service died."""
        return self._all("SELECT * FROM videos WHERE state = 'processing' ORDER BY id")

    def unfinished_moves(self) -> list[Video]:
        return self._all("SELECT * FROM videos WHERE state IN ('done', 'failed') AND location IS NULL ORDER BY id")

    def seen_paths(self) -> list[Path]:
        with self._lock:
            return [Path(r[0]) for r in self._db.execute("SELECT path FROM videos WHERE state = 'seen'")]

    # --- reporting -----------------------------------------------------------------------

    def counts(self) -> "Counts":
        with self._lock:
            rows = dict(self._db.execute("SELECT state, COUNT(*) FROM videos GROUP BY state").fetchall())
            dupes = self._db.execute("SELECT COUNT(*) FROM videos WHERE duplicate_of IS NOT NULL").fetchone()[0]
        return Counts(**{state: rows.get(state, 0) for state in STATES}, duplicates=dupes)

    def recent(self, state: str | None = None, limit: int = 10, with_error: bool = False) -> list[Video]:
        where, args = [], []
        if state:
            where.append("state = ?")
            args.append(state)
        if with_error:
            where.append("error IS NOT NULL")
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        return self._all(f"SELECT * FROM videos {clause} ORDER BY updated DESC, id DESC LIMIT ?", (*args, limit))

    def all(self) -> list[Video]:
        return self._all("SELECT * FROM videos ORDER BY id")

    def finished(self) -> Iterator[Video]:
        """Done, non-duplicate videos, archived or not yet, by id: what the practice sessions are made of."""
        return self._each("state = 'done' AND duplicate_of IS NULL")

    def processed(self) -> Iterator[Video]:
        """Finished, non-duplicate videos whose original is in the archive (not deleted), by id: what training reads."""
        return self._each(
            "state = 'done' AND duplicate_of IS NULL "
            "AND location IS NOT NULL AND sha256 IS NOT NULL AND original_deleted IS NULL"
        )

    def save_scores(
        self, sha256: str, scorer: ScorerKind, model: str | None, times: npt.ArrayLike, scores: npt.ArrayLike
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO scores (sha256, scorer, model, times, scores, updated) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(sha256) DO UPDATE SET scorer = excluded.scorer, model = excluded.model, "
                "times = excluded.times, scores = excluded.scores, updated = excluded.updated",
                (
                    sha256,
                    ScorerKind(scorer).value,
                    model,
                    np.asarray(times, "<f8").tobytes(),
                    np.asarray(scores, "<f4").tobytes(),
                    self._clock(),
                ),
            )

    def load_scores(self, sha256: str) -> tuple[np.ndarray, np.ndarray, str] | None:
        """(times, scores, digest) for one content; the digest changes whenever the scores do."""
        with self._lock:
            row = self._db.execute("SELECT times, scores FROM scores WHERE sha256 = ?", (sha256,)).fetchone()
        if row is None:
            return None
        digest = hashlib.sha256(row["times"] + row["scores"]).hexdigest()[:16]
        return np.frombuffer(row["times"], "<f8"), np.frombuffer(row["scores"], "<f4"), digest

    def scored_by(self, sha256: str) -> ScorerKind | None:
        """The scorer whose scores are stored for this content."""
        with self._lock:
            row = self._db.execute("SELECT scorer FROM scores WHERE sha256 = ?", (sha256,)).fetchone()
        return None if row is None else ScorerKind(row[0])

    def get_meta(self, key: str) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_meta(self, key: str, value: Any) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )

    # --- notifications not sent yet -----------------------------------------------------------

    def queue_notice(self, title: str, body: str, not_before: float, key: str | None = None) -> None:
        """A message to send; one with the key of a waiting one replaces it (and its wait)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO notifications (key, title, body, not_before, created) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET title = excluded.title, body = excluded.body, "
                "not_before = excluded.not_before, tries = 0",
                (key, title, body, not_before, self._clock()),
            )

    def due_notices(self) -> list[Notice]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, key, title, body, not_before, tries FROM notifications "
                "WHERE not_before <= ? ORDER BY not_before, id",
                (self._clock(),),
            ).fetchall()
        return [Notice(*row) for row in rows]

    def notice_done(self, notice_id: int) -> None:
        """Sent, or given up on."""
        with self._tx() as db:
            db.execute("DELETE FROM notifications WHERE id = ?", (notice_id,))

    def notice_failed(self, notice_id: int, retry_at: float) -> None:
        with self._tx() as db:
            db.execute("UPDATE notifications SET tries = tries + 1, not_before = ? WHERE id = ?", (retry_at, notice_id))
