"""The review page keeps its practice sessions and its newest cards while the journal is unchanged,
and makes them again, only where needed, as soon as it changes."""

from __future__ import annotations

import datetime as dt

from conftest import finished_video

from dunkwatch.config import from_dict
from dunkwatch.review.service import ReviewService
from dunkwatch.store import Store

START = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.timezone.utc)


def test_sessions_and_cards_are_kept_while_the_journal_is_unchanged_and_made_again_when_it_changes(tmp_path):
    cfg = from_dict({}, tmp_path)
    cfg.paths.state_dir.mkdir()
    store = Store(cfg.paths.state_dir)
    ids = [finished_video(store, cfg.paths, i, START + dt.timedelta(minutes=5 * i)) for i in range(6)]
    page = ReviewService(cfg)

    sessions, cards = page.sessions(), page.cards()
    assert len(sessions) == 1 and len(sessions[0].video_ids) == 6 and len(cards) == 6
    assert page.sessions() is sessions  # unchanged journal: grouped once
    assert all(a is b for a, b in zip(page.cards(), cards))  # and no card made again

    # A new practice the next day: the sessions are grouped again and hold it.
    finished_video(store, cfg.paths, 6, START + dt.timedelta(days=1))
    again = page.sessions()
    assert again is not sessions and [len(s.video_ids) for s in again] == [6, 1]

    # A pin changes one row: that card is made again, the others are the same objects.
    store.set_pinned(ids[2], True)
    after = {c.id: c for c in page.cards()}
    before = {c.id: c for c in cards}
    assert after[ids[2]].pinned and not before[ids[2]].pinned
    assert all(after[i] is before[i] for i in ids if i != ids[2])
    store.close()


def test_the_page_keeps_a_few_numbers_of_each_session_not_its_videos(tmp_path):
    """A month's sessions, kept whole between page loads, held about 2.7 kB of the service's memory
    a video for good; the page keeps their numbers and their videos' ids."""
    import tracemalloc

    from test_sessions_from_journal import journal_of_a_month

    cfg = from_dict({}, tmp_path)
    store = journal_of_a_month(cfg.paths, 600)
    page = ReviewService(cfg)
    page.sessions()  # the first grouping imports what it needs
    finished_video(store, cfg.paths, 600, dt.datetime(2027, 1, 1, 9, 0, tzinfo=dt.timezone.utc))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        sessions = page.sessions()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(sessions) == 61 and sum(len(s.video_ids) for s in sessions) == 601
    assert sessions[0].attempts == 1 and sessions[0].in_view == 70.0
    assert kept < 600 * 500, f"{kept / 600:.0f} bytes a video"  # ints and a few numbers, not paths and spans
    store.close()
