"""Practice sessions come from the journal: with a month of videos, a refresh opens no sidecar."""

from __future__ import annotations

import builtins
import datetime as dt
import io
import subprocess
from pathlib import Path

import pytest
from conftest import finished_video, paths_under, run_ffmpeg

from dunkwatch.config import PathsConfig, SessionsConfig
from dunkwatch.outputs import ShotNote
from dunkwatch.pipeline.cancel import Cancelled
from dunkwatch.service.session_child import refresh_in_child
from dunkwatch.service.session_outputs import SessionOutputs, sessions_of
from dunkwatch.store import Store

VIDEOS = 1000  # 50 days, two practices a day, ten videos each


def journal_of_a_month(paths: PathsConfig, videos: int = VIDEOS) -> Store:
    store = Store(paths.state_dir)
    start = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.timezone.utc)
    for i in range(videos):
        day, practice, k = i // 20, (i // 10) % 2, i % 10
        when = start + dt.timedelta(days=day, hours=9 * practice, minutes=2 * k)
        shots = (ShotNote(f"IMG_{i:04d}_01.mp4", "make" if i % 3 else "miss", (0.5, 0.7)),) if k == 0 else ()
        finished_video(store, paths, i, when, shots)
    return store


def test_a_session_refresh_with_a_thousand_videos_opens_no_sidecar(tmp_path, monkeypatch):
    paths = paths_under(tmp_path)
    store = journal_of_a_month(paths)
    read: list[str] = []

    def counting(real):
        def opened(file, mode="r", *args, **kwargs):
            if str(file).endswith(".json") and "w" not in mode and "a" not in mode and "x" not in mode:
                read.append(str(file))
            return real(file, mode, *args, **kwargs)

        return opened

    monkeypatch.setattr(builtins, "open", counting(builtins.open))
    monkeypatch.setattr(io, "open", counting(io.open))
    outputs = SessionOutputs(paths, SessionsConfig(reel=False))
    sessions = sessions_of(paths, SessionsConfig(), store)
    assert len(sessions) == 100 and sum(len(s.videos) for s in sessions) == VIDEOS
    assert sessions[0].attempts == 1 and sessions[0].in_view == 70.0
    assert len(outputs.refresh(store)) == 100  # every session written once
    assert outputs.refresh(store) == []  # nothing changed: nothing rewritten
    assert read == [], read[:5]
    assert (paths.outbox / "sessions" / "2026-11-01-0900" / "session.json").is_file()
    store.close()


def month_paths(tmp_path) -> PathsConfig:
    """Five days of the month: the child's tests need its sessions, not its size."""
    paths = paths_under(tmp_path)
    journal_of_a_month(paths, 100).close()
    return paths


def test_the_service_refreshes_sessions_in_a_child_process_and_gets_back_those_it_rewrote(tmp_path):
    paths = month_paths(tmp_path)
    changed = refresh_in_child(paths, SessionsConfig(reel=False), (), lambda: None)
    assert len(changed) == 10 and changed[0].id == "2026-11-01-0900" and len(changed[0].videos) == 10
    assert (paths.outbox / "sessions" / "2026-11-01-0900" / "session.json").is_file()
    assert refresh_in_child(paths, SessionsConfig(reel=False), (), lambda: None) == []  # nothing changed since


def test_a_stopping_service_kills_the_sessions_child_and_writes_nothing_half(tmp_path, monkeypatch):
    paths = month_paths(tmp_path)
    started: list[subprocess.Popen] = []
    real = subprocess.Popen

    def recording(*args, **kwargs):  # to see the child the refresh starts
        started.append(real(*args, **kwargs))
        return started[-1]

    def stopping() -> None:
        raise Cancelled()

    monkeypatch.setattr(subprocess, "Popen", recording)
    with pytest.raises(Cancelled):
        refresh_in_child(paths, SessionsConfig(reel=False), (), stopping)
    (child,) = started
    assert child.returncode is not None and child.returncode != 0  # stopped and reaped, not left running
    assert not list(paths.outbox.rglob("*.part"))


def test_a_reel_being_joined_when_the_service_stops_leaves_no_part_file(tmp_path, monkeypatch):
    """The child is stopped while it joins a session's reel: it removes the `.part` as it goes."""
    paths = paths_under(tmp_path)
    store = Store(paths.state_dir)
    start = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.timezone.utc)
    for i, size in enumerate(("320x240", "640x360")):  # two sizes: the reel is re-encoded, which takes a while
        finished_video(store, paths, i, start + dt.timedelta(minutes=5 * i))
        clip = paths.outbox / f"IMG_{i:04d}" / f"IMG_{i:04d}_01.mp4"
        clip.parent.mkdir(parents=True)
        run_ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30:duration=20", "-pix_fmt", "yuv420p", str(clip))
    store.close()
    sessions = paths.outbox / "sessions"
    written = (sessions, paths.state_dir / "reel-parts")  # the reel, and the clips fitted to it
    seen: list[Path] = []

    def stop_once_joining() -> None:
        seen.extend(part for folder in written if folder.is_dir() for part in folder.rglob("*.part"))
        if seen:
            raise Cancelled()

    with pytest.raises(Cancelled):
        refresh_in_child(paths, SessionsConfig(), (), stop_once_joining)
    assert seen  # the stop came while a `.part` was being written
    assert not [part for folder in written for part in folder.rglob("*.part")]
    assert not list(sessions.rglob("*_reel.mp4"))
