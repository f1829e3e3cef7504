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
    assert len(sessions) == 1 and len(sessions[0].videos) == 6 and len(cards) == 6
    assert page.sessions() is sessions  # unchanged journal: grouped once
    assert all(a is b for a, b in zip(page.cards(), cards))  # and no card made again

    # A new practice the next day: the sessions are grouped again and hold it.
    finished_video(store, cfg.paths, 6, START + dt.timedelta(days=1))
    again = page.sessions()
    assert again is not sessions and [len(s.videos) for s in again] == [6, 1]

    # A pin changes one row: that card is made again, the others are the same objects.
    store.set_pinned(ids[2], True)
    after = {c.id: c for c in page.cards()}
    before = {c.id: c for c in cards}
    assert after[ids[2]].pinned and not before[ids[2]].pinned
    assert all(after[i] is before[i] for i in ids if i != ids[2])
    store.close()
