"""A practice's outputs: `outbox/sessions/<id>/` with the session reel, the makes reel, the shot
map and `session.json`.

After each finished video the sessions are worked out again from the journal, and a session is
rewritten only when what it holds changed: a late video (an iCloud sync can deliver a practice
over hours, out of order) joins its session and the reel is rebuilt. A session that no longer
exists (a late video moved its start, or joined two) loses its folder, which only we write.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from dataclasses import asdict, replace
from pathlib import Path
from typing import Iterator, Sequence

from dunkwatch.config import PathsConfig, SessionsConfig
from dunkwatch.errors import VideoError, raise_interruption, with_causes
from dunkwatch.fsutil import atomic_write_text, leftovers, remove_leftover
from dunkwatch.learn.catalogue import csv_name
from dunkwatch.outputs import Sidecar, VideoOutputs
from dunkwatch.pipeline.cutting.editor_timelines import FORMATS, CutSource, write_timelines
from dunkwatch.pipeline.cutting.export import StopCheck, join_session
from dunkwatch.pipeline.scoring.decode import VideoReader
from dunkwatch.pipeline.scoring.scene_memory import SceneMemory, scenes_dir
from dunkwatch.sessions import (
    SESSION_ID,
    SIDECAR_NAME,
    Practice,
    Session,
    SessionSidecar,
    SessionSummary,
    SessionVideo,
    VideoTally,
    group,
    newest,
    parse_started,
    practices,
)
from dunkwatch.shot_map import write_shot_map
from dunkwatch.store import LAST_SESSION_KEY, Store

log = logging.getLogger(__name__)

SESSIONS_DIR = "sessions"
REEL_PARTS_DIR = "reel-parts"  # under the state dir
SESSIONS_WRITTEN_KEY = "sessions_written"  # journal meta: the digest of each session.json last written


def session_videos(paths: PathsConfig, store: Store) -> Iterator[SessionVideo]:
    """Every processed video with its own outputs (no duplicates, no skipped clutter), dated; from
    the journal alone (a row from before the journal kept the summary reads its sidecar once).
    One at a time, as the journal is read a page at a time."""
    for v in store.finished():
        outputs = v.outputs
        if outputs is None or outputs.folder is None or outputs.skipped:
            continue
        folder = outputs.folder  # kept by _summarised
        if not outputs.summarised:
            outputs = _summarised(store, v.id, outputs, folder, v.sidecar())
        started = parse_started(outputs.recorded_at, v.mtime)
        if started is None:
            continue
        yield SessionVideo(
            v.id,
            csv_name(paths, v),
            started[0],
            started[1],
            outputs.duration,
            folder,
            outputs.clips,
            outputs.spans,
            v.location or v.path,
            outputs.shots,
            outputs.scene,
            outputs.aspect,
            folder / f"{v.path.stem}.json",
        )


def _summarised(
    store: Store, video_id: int, outputs: VideoOutputs, folder: Path, sidecar: Sidecar | None
) -> VideoOutputs:
    """An older row's outputs with the sessions' summary from its sidecar, kept in the journal from now on."""
    if sidecar is None:
        return outputs
    full = replace(VideoOutputs.of(sidecar, folder), skipped=outputs.skipped)
    store.set_outputs(video_id, full)
    return full


def sessions_of(paths: PathsConfig, cfg: SessionsConfig, store: Store) -> list[Session]:
    return group(session_videos(paths, store), cfg.gap)


def practice_tallies(paths: PathsConfig, cfg: SessionsConfig, store: Store) -> list[Practice[VideoTally]]:
    """The same practices as `sessions_of`, with the same ids, each video only counted: what the
    page lists, with none of their clips, spans and shots held at once."""
    return practices((VideoTally.of(v) for v in session_videos(paths, store)), cfg.gap)


class SessionOutputs:
    def __init__(self, paths: PathsConfig, cfg: SessionsConfig, timelines: Sequence[str] = ()) -> None:
        self.paths, self.cfg, self.timelines = paths, cfg, tuple(timelines)
        self.root = paths.outbox / SESSIONS_DIR
        # Mixed clips fitted to a reel, kept while their session still changes: a practice that
        # syncs a video at a time re-encodes each clip once, not the whole session per video.
        self.parts_root = paths.state_dir / REEL_PARTS_DIR

    def folder(self, session_id: str) -> Path | None:
        return self.root / session_id if SESSION_ID.match(session_id) else None

    def refresh(self, store: Store, stop: StopCheck | None = None) -> list[Session]:
        """Rewrite the sessions whose contents changed, and return those; forget those that no longer exist."""
        sessions = sessions_of(self.paths, self.cfg, store)
        written = dict(store.get_meta(SESSIONS_WRITTEN_KEY) or {})  # id -> digest of its session.json
        changed = [session for session in sessions if self._write(session, stop, written)]
        self._drop_parts(keep={s.id for s in changed})
        current = {s.id for s in sessions}
        store.set_meta(SESSIONS_WRITTEN_KEY, {k: v for k, v in written.items() if k in current})
        if self.root.is_dir():
            for folder in sorted(self.root.iterdir()):
                if folder.name not in current and folder.is_dir():
                    self._remove(folder)
        last = newest(sessions)
        store.set_meta(LAST_SESSION_KEY, asdict(SessionSummary.of(last)) if last else None)
        return changed

    def _write(self, session: Session, stop: StopCheck | None, written: dict[str, str]) -> bool:
        """Bring one session's folder up to date, unless the journal says it is (`written`: id -> the
        digest of the session.json last written); True when it was rewritten."""
        folder = self.root / session.id
        clips = [p for p in session.clip_paths() if p.is_file()]
        makes = [p for p in session.make_paths() if p.is_file()]
        reel = f"{session.id}_reel.mp4" if self.cfg.reel and clips else None
        makes_reel = f"{session.id}_makes.mp4" if makes else None
        shot_map = f"{session.id}_shotmap.png" if session.attempts else None
        suffixes = [FORMATS[f][1] for f in self.timelines]
        wanted = SessionSidecar.of(
            session, self.paths.outbox, reel, [f"{session.id}{s}" for s in suffixes], makes_reel, shot_map
        )
        sidecar_path = folder / SIDECAR_NAME
        text = wanted.to_json()
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        if session.id not in written and sidecar_path.is_file() and SessionSidecar.read(sidecar_path) == wanted:
            written[session.id] = digest  # written before the journal kept digests: read once, not rebuilt
        if written.get(session.id) == digest and all(
            (folder / name).is_file() for name in (SIDECAR_NAME, reel, makes_reel, shot_map) if name
        ):
            return False
        folder.mkdir(parents=True, exist_ok=True)
        for name, parts, kind in ((reel, clips, "reel"), (makes_reel, makes, "makes")):
            if name:
                join_session(parts, folder / name, stop, self.parts_root / session.id / kind)
        for name, suffix in ((reel, "_reel.mp4"), (makes_reel, "_makes.mp4"), (shot_map, "_shotmap.png")):
            if name is None:
                (folder / f"{session.id}{suffix}").unlink(missing_ok=True)
        if shot_map:
            self._draw_shot_map(session, folder / shot_map)
        try:
            if self.timelines:  # the one place a session reads its videos' sidecars: a changed session's timelines
                sidecars = [
                    (Sidecar.read(v.sidecar_path), v.original)
                    for v in session.videos
                    if v.sidecar_path is not None and v.original is not None
                ]
                write_timelines(
                    folder, session.id, [CutSource.of(s, o) for s, o in sidecars if s is not None], self.timelines
                )
        except Exception as exc:  # an adapter's error costs the timelines, never the session or the service
            raise_interruption(exc)  # but a stop is a stop: the session is not recorded as written
            log.warning("session %s: cannot write its editor timelines: %s", session.id, with_causes(exc))
        atomic_write_text(sidecar_path, text)  # last: its presence means the reel is complete
        written[session.id] = digest
        log.info(
            "session %s (%s): %d video(s), %s%s",
            session.id,
            session.name,
            len(session.videos),
            session.counts(),
            f"; reel {reel}" if reel else "",
        )
        return True

    def _drop_parts(self, keep: set[str]) -> None:
        """Fitted parts only for the sessions this refresh rewrote: the practice being synced now.
        A session that changes again later makes its parts once more."""
        if not self.parts_root.is_dir():
            return
        for folder in self.parts_root.iterdir():
            if folder.name not in keep:
                shutil.rmtree(folder, ignore_errors=True)

    def _draw_shot_map(self, session: Session, path: Path) -> None:
        """Over the court's remembered empty image, else the first frame of the session's first
        video (a court never seen empty), else a plain field."""
        key, aspect = session.court()
        court = SceneMemory(scenes_dir(self.paths.state_dir), 0.0).court_image(key) if key else None
        first = session.videos[0].original
        if court is None and first is not None and first.is_file():
            try:
                court = next(iter(VideoReader(first, 1.0, max_side=960))).image
            except (VideoError, StopIteration) as exc:
                log.info("session %s: the shot map is drawn on a plain field (%s)", session.id, exc)
        write_shot_map(path, session.shots(), court, aspect)

    def _remove(self, folder: Path) -> None:
        """Only a folder we wrote (it has our session.json) goes, and only our files in it."""
        old = SessionSidecar.read(folder / SIDECAR_NAME)
        if old is None:
            return
        for name in [old.reel, old.makes_reel, old.shot_map, *old.timelines, SIDECAR_NAME]:
            if name:
                (folder / name).unlink(missing_ok=True)
        for leftover in leftovers(folder):
            remove_leftover(leftover)
        if not any(folder.iterdir()):
            folder.rmdir()
        log.info("session %s: gone (its videos now belong to another session)", folder.name)
