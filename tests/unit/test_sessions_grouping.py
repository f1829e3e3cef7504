"""PURE: practice sessions from recording times."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from dunkwatch.sessions import SESSION_ID, DatedBy, SessionVideo, day_part, group, parse_started

UTC = dt.timezone.utc


def video(n: int, start: dt.datetime, duration: float = 60.0, spans=((1.0, 3.0),)) -> SessionVideo:
    return SessionVideo(
        n,
        f"IMG_{n:04d}.MOV",
        start,
        DatedBy.RECORDED,
        duration,
        Path(f"/out/IMG_{n:04d}"),
        tuple(f"IMG_{n:04d}_{i:02d}.mp4" for i in range(1, len(spans) + 1)),
        tuple(spans),
    )


def test_a_gap_longer_than_the_setting_starts_a_new_session_measured_from_the_end_of_the_last_video():
    t0 = dt.datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
    videos = [
        video(1, t0, duration=3600),  # an hour of filming
        video(2, t0 + dt.timedelta(hours=2, minutes=30)),  # 1 h 30 after the first one ended
        video(3, t0 + dt.timedelta(hours=5, minutes=31)),
    ]  # 3 h after the second ended
    sessions = group(videos, gap_seconds=2 * 3600)
    assert [[v.video_id for v in s.videos] for s in sessions] == [[1, 2], [3]]
    assert [s.id for s in sessions] == ["2026-11-30-1800", "2026-11-30-2331"]
    assert [s.name for s in sessions] == ["2026-11-30 evening", "2026-11-30 night"]


def test_sessions_are_in_recording_order_whatever_the_arrival_order_and_count_what_they_hold():
    t0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    late = video(7, t0 + dt.timedelta(minutes=5), spans=((0.0, 1.5), (4.0, 5.0)))
    (s,) = group([video(2, t0 + dt.timedelta(minutes=10)), late, video(1, t0)], gap_seconds=7200)
    assert [v.video_id for v in s.videos] == [1, 7, 2]
    assert s.clips == 4 and s.in_view == 2.0 + 1.5 + 1.0 + 2.0
    assert s.attempts == 0 and s.percentage is None and s.counts() == "4 clip(s)"  # no hoop: no attempt
    assert [p.name for p in s.clip_paths()] == [
        "IMG_0001_01.mp4",
        "IMG_0007_01.mp4",
        "IMG_0007_02.mp4",
        "IMG_0002_01.mp4",
    ]


def test_ids_are_unique_and_valid_even_for_two_practices_starting_the_same_local_minute():
    a = dt.datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
    b = dt.datetime(2026, 11, 30, 18, 0, tzinfo=dt.timezone(dt.timedelta(hours=-8)))  # 8 h later, elsewhere
    ids = [s.id for s in group([video(1, a), video(2, b)], gap_seconds=3600)]
    assert ids == ["2026-11-30-1800", "2026-11-30-1800-2"] and all(SESSION_ID.match(i) for i in ids)
    assert not SESSION_ID.match("../../etc") and not SESSION_ID.match("2026-11-30-1800/x")


def test_the_recording_time_is_used_when_there_is_one_else_the_file_time():
    started = parse_started("2026-06-01T11:22:03.000-07:00", 0.0)
    assert started is not None
    when, by = started
    assert by is DatedBy.RECORDED and when.utcoffset() == dt.timedelta(hours=-7) and when.hour == 11
    started = parse_started(None, 1_790_000_000.0)
    assert started is not None
    when, by = started
    assert by is DatedBy.FILE_TIME and when.timestamp() == 1_790_000_000.0
    started = parse_started("not a time", 5.0)
    assert started is not None and started[1] is DatedBy.FILE_TIME
    assert parse_started(None, None) is None


def test_day_parts():
    assert [day_part(h) for h in (4, 5, 11, 12, 16, 17, 21, 22)] == [
        "night",
        "morning",
        "morning",
        "afternoon",
        "afternoon",
        "evening",
        "evening",
        "night",
    ]


def test_a_session_counts_the_attempts_and_makes_its_videos_journal_rows_hold():
    from dunkwatch.outputs import ShotNote

    def shots(*results: str) -> tuple[ShotNote, ...]:
        return tuple(ShotNote(f"shot{i}.mp4", r) for i, r in enumerate(results))

    t0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    a, b = video(1, t0), video(2, t0 + dt.timedelta(minutes=5))
    (s,) = group(
        [
            a.__class__(**{**a.__dict__, "shots": shots("make", "miss", "make")}),
            b.__class__(**{**b.__dict__, "shots": shots("miss", "unknown")}),
        ],
        gap_seconds=7200,
    )
    assert (s.attempts, s.makes, s.percentage) == (5, 2, 40.0)
    assert s.counts() == "5 attempt(s), 2 make(s) (40%)"
    assert [p.name for p in s.make_paths()] == ["shot0.mp4", "shot2.mp4"]
