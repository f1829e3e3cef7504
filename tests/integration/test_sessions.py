"""Practice sessions from real service runs: videos grouped by when they were filmed, each session
with its reel and counts, a late video joining its session, and a video with no recording time
dated by its file."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from conftest import Scene, Visit, encode, run_ffmpeg

from dunkwatch.config import load
from dunkwatch.media import probe
from dunkwatch.service.daemon import Daemon
from dunkwatch.service.status import collect_status, format_status
from dunkwatch.sessions import SessionSidecar


@pytest.fixture(scope="module")
def court_video(tmp_path_factory) -> Path:
    """An 8 s court video with one visit (2.0-4.5 s), recorded with no recording time."""
    scene = Scene(duration=8, fps=10, seed=21, visits=[Visit(2.0, 4.5, 0.25, 0.65)])
    path = tmp_path_factory.mktemp("court") / "court.mp4"
    return encode(scene.frames(), path, scene.width, scene.height, scene.fps, audio=True, preset="veryfast")


def filmed(source: Path, dest: Path, when: str | None = None, mtime: dt.datetime | None = None) -> Path:
    """The court video as a phone would deliver it: filmed at `when` (the container's creation_time),
    or without one and modified at `mtime`. Each copy's bytes differ, so none is a duplicate."""
    stamp = ["-metadata", f"creation_time={when}"] if when else ["-metadata", f"comment={dest.name}"]
    run_ffmpeg("-i", str(source), "-c", "copy", "-map_metadata", "-1", *stamp, str(dest))
    if mtime is not None:
        os.utime(dest, (mtime.timestamp(), mtime.timestamp()))
    return dest


def session(outbox: Path, session_id: str) -> SessionSidecar:
    sidecar = SessionSidecar.read(outbox / "sessions" / session_id / "session.json")
    assert sidecar is not None, sorted(p.name for p in (outbox / "sessions").iterdir())
    return sidecar


@pytest.mark.slow
def test_videos_over_two_days_make_two_sessions_and_a_late_video_joins_its_own(workdir, config_file, court_video):
    cfg = load(config_file(watch={"stable_seconds": 0.2}, export={"timeline": False}))
    inbox, outbox = cfg.paths.inbox, cfg.paths.outbox
    # Filmed out of order with respect to their names; the phone's clock says when.
    filmed(court_video, inbox / "IMG_0003.MOV", "2026-11-29T09:00:00Z")
    filmed(court_video, inbox / "IMG_0001.MOV", "2026-11-28T18:00:00Z")
    filmed(court_video, inbox / "IMG_0002.MOV", "2026-11-28T18:20:00Z")
    assert Daemon(cfg, once=True).run() == 0

    assert sorted(p.name for p in (outbox / "sessions").iterdir()) == ["2026-11-28-1800", "2026-11-29-0900"]
    evening = session(outbox, "2026-11-28-1800")
    assert evening.name == "2026-11-28 evening" and evening.videos == ("IMG_0001.MOV", "IMG_0002.MOV")
    # No hoop on this court (no ball arcs): no attempt, one presence clip per visit.
    assert evening.attempts == 0 and evening.percentage is None and len(evening.clips) == 2
    assert [Path(c).parts[0] for c in evening.clips] == ["IMG_0001", "IMG_0002"]  # recording order
    assert evening.in_view == pytest.approx(5.0, abs=1.2)  # two visits of 2.5 s
    assert evening.reel is not None
    reel = outbox / "sessions" / "2026-11-28-1800" / evening.reel
    clip_seconds = sum(probe(outbox / c).duration for c in evening.clips)
    assert probe(reel).duration == pytest.approx(clip_seconds, abs=0.3) and probe(reel).has_audio
    morning = session(outbox, "2026-11-29-0900")
    assert morning.name == "2026-11-29 morning" and morning.videos == ("IMG_0003.MOV",) and len(morning.clips) == 1
    before = reel.stat().st_mtime_ns

    # Synced hours later: a video filmed between the two of the first evening, and one with no
    # recording time whose file was last modified the next morning.
    filmed(court_video, inbox / "IMG_0009.MOV", "2026-11-28T18:10:00Z")
    late_mtime = dt.datetime(2026, 11, 29, 9, 20, tzinfo=dt.timezone.utc)
    filmed(court_video, inbox / "IMG_0010.MOV", mtime=late_mtime)
    assert Daemon(cfg, once=True).run() == 0
    evening = session(outbox, "2026-11-28-1800")
    assert evening.videos == ("IMG_0001.MOV", "IMG_0009.MOV", "IMG_0002.MOV") and len(evening.clips) == 3
    assert [Path(c).parts[0] for c in evening.clips] == ["IMG_0001", "IMG_0009", "IMG_0002"]
    assert reel.stat().st_mtime_ns != before  # the session reel was rebuilt with the late clip
    assert probe(reel).duration == pytest.approx(sum(probe(outbox / c).duration for c in evening.clips), abs=0.3)
    morning = session(outbox, "2026-11-29-0900")
    assert morning.videos == ("IMG_0003.MOV", "IMG_0010.MOV") and morning.dated_by_file_time == ("IMG_0010.MOV",)

    status = format_status(collect_status(cfg.paths))
    assert "last practice: 2026-11-29 morning: 2 video(s), 2 clip(s)" in status
    assert collect_status(cfg.paths).as_dict()["last_session"]["id"] == "2026-11-29-0900"

    # In a real browser, the page opens on the practice log: newest session first, its counts, and
    # its clips' posters in recording order.
    import dataclasses

    from test_review_page import chromium, free_port, serving

    served = dataclasses.replace(cfg, review=dataclasses.replace(cfg.review, listen=f"127.0.0.1:{free_port()}"))
    with serving(served) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(url)
        sessions = page.locator("section.session")
        assert [sessions.nth(i).get_attribute("data-session") for i in range(sessions.count())] == [
            "2026-11-29-0900",
            "2026-11-28-1800",
        ]
        shown = sessions.nth(1)
        assert shown.locator("h2").first.text_content() == "2026-11-28 evening"
        assert (
            shown.locator(".clip-count").text_content() == "3"
            and "3 video(s)" in shown.locator(".counts").text_content()
        )
        assert [img.get_attribute("alt").split(",")[0] for img in shown.locator(".posters img").all()] == [
            "IMG_0001.MOV",
            "IMG_0009.MOV",
            "IMG_0002.MOV",
        ]
        assert "no recording time in IMG_0010.MOV" in sessions.nth(0).text_content()
