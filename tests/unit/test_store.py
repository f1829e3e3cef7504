"""The journal: states, queue order, duplicates by content, and reopening after a crash."""

from pathlib import Path

import pytest

from dunkwatch.outputs import VideoOutputs
from dunkwatch.store import State, Store, StoreError


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def arrive(store: Store, path: Path, digest: str) -> int:
    vid = store.note_seen(path, 10, 1.0).id
    store.mark_stable(vid, 10, 1.0, digest)
    return vid


def test_a_video_moves_through_its_states_and_the_queue_is_oldest_first(tmp_path):
    clock = Clock()
    store = Store(tmp_path, clock=clock)
    a = arrive(store, tmp_path / "a.mp4", "h1")
    b = arrive(store, tmp_path / "b.mp4", "h2")
    assert store.note_seen(tmp_path / "a.mp4", 10, 1.0).id == a  # one active row per path
    job = store.next_job()
    assert job is not None and job.id == a and job.state == "processing" and job.attempts == 1
    store.requeue(a, delay=30.0, error="OSError: disk full")
    job = store.next_job()
    assert job is not None and job.id == b  # a waits for its retry time
    assert store.next_job() is None
    assert store.seconds_to_next_job() == pytest.approx(30.0)
    clock.now += 31
    job = store.next_job()
    assert job is not None and job.id == a and job.attempts == 2 and job.error == "OSError: disk full"
    store.finish(a, State.DONE, outputs=VideoOutputs(clips=("a_01.mp4",)))
    assert store.unfinished_moves()[0].id == a
    store.moved(a, tmp_path / "archive" / "a.mp4")
    assert store.unfinished_moves() == []
    original = store.done_with_hash("h1")
    assert original is not None and original.outputs == VideoOutputs(clips=("a_01.mp4",))
    assert store.done_with_hash("h2") is None  # b is still processing
    counts = store.counts()
    assert counts.done == 1 and counts.processing == 1 and counts.duplicates == 0


def test_a_new_file_at_an_archived_path_gets_a_new_row(tmp_path):
    store = Store(tmp_path)
    first = arrive(store, tmp_path / "a.mp4", "h1")
    store.next_job()
    store.finish(first, State.DONE, outputs=VideoOutputs())
    second = arrive(store, tmp_path / "a.mp4", "h2")  # re-synced with new content
    row = store.get(second)
    assert second != first and row is not None and row.state == "stable"


def test_the_journal_survives_reopening_and_refuses_a_newer_schema(tmp_path):
    store = Store(tmp_path)
    arrive(store, tmp_path / "a.mp4", "h1")
    store.next_job()
    store.set_meta("next_training", "2026-11-29T03:00:00")
    store.close()
    again = Store(tmp_path)
    assert [v.name for v in again.interrupted()] == ["a.mp4"]
    assert again.get_meta("next_training") == "2026-11-29T03:00:00"
    again._db.execute("PRAGMA user_version = 99")
    again.close()
    with pytest.raises(StoreError, match="newer than this dunkwatch"):
        Store(tmp_path)


def test_vanished_arrivals_are_forgotten_but_finished_rows_are_kept(tmp_path):
    store = Store(tmp_path)
    store.note_seen(tmp_path / "x.mp4", 1, 1.0)
    store.forget_seen(tmp_path / "x.mp4")
    assert store.all() == []
    # A row past `seen` holds work (queued, done, failed): the same path vanishing never drops it.
    queued = store.note_seen(tmp_path / "q.mp4", 1, 1.0).id
    store.mark_stable(queued, 1, 1.0, "a" * 64)
    done = store.note_seen(tmp_path / "d.mp4", 1, 1.0).id
    store.mark_stable(done, 1, 1.0, "b" * 64)
    store.finish(done, State.DONE, outputs=VideoOutputs())
    for name in ("q.mp4", "d.mp4"):
        store.forget_seen(tmp_path / name)
    assert sorted(v.id for v in store.all()) == [queued, done]


def test_a_locked_database_raises_without_keeping_the_store_locked(tmp_path):
    import sqlite3
    import threading

    store = Store(tmp_path, busy_seconds=0.2)
    other = sqlite3.connect(tmp_path / "journal.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # a concurrent `dunkwatch train` writing
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        store.note_seen(tmp_path / "a.mp4", 1, 1.0)
    other.execute("ROLLBACK")
    done = threading.Event()

    def note_then_signal():
        store.note_seen(tmp_path / "a.mp4", 1, 1.0)
        done.set()

    threading.Thread(target=note_then_signal, daemon=True).start()
    assert done.wait(5), "the store's lock was never released"


def test_the_unchanged_clock_of_an_arriving_file_survives_a_restart(tmp_path):
    clock = Clock()
    store = Store(tmp_path, clock=clock)
    path = tmp_path / "never_opens.mp4"
    store.note_seen(path, 10, 1.0)
    clock.now += 100
    store.close()
    store = Store(tmp_path, clock=clock)  # the service restarted
    store.note_seen(path, 10, 1.0)  # seen again by the startup scan, unchanged
    clock.now += 30
    assert store.unchanged_seconds(path) == 130
    store.note_seen(path, 20, 2.0)  # it grew: the wait starts again
    assert store.unchanged_seconds(path) == 0


def test_processes_opening_a_new_journal_at_once_all_succeed(tmp_path):
    import subprocess
    import sys
    import time

    # Each process imports first, then waits for the same moment to open the journal.
    code = (
        "import os, sys, time; from dunkwatch.store import Store\n"
        "while not os.path.exists(sys.argv[2]): time.sleep(0.001)\n"
        "s = Store(sys.argv[1]); s.close()"
    )
    for attempt in range(3):
        folder, go = tmp_path / f"state{attempt}", tmp_path / f"go{attempt}"
        procs = [
            subprocess.Popen([sys.executable, "-c", code, str(folder), str(go)], stderr=subprocess.PIPE, text=True)
            for _ in range(6)
        ]
        time.sleep(1.5)
        go.touch()
        errors = [p.communicate(timeout=60)[1] for p in procs]
        assert all(p.returncode == 0 for p in procs), errors
