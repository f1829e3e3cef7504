"""The training lock: one run at a time, and no original deleted while a run may read it."""

from __future__ import annotations

import threading
from pathlib import Path

from dunkwatch.learn import run_lock
from dunkwatch.learn.run_lock import no_training_run, one_run_at_a_time


def test_a_run_holding_the_lock_keeps_retention_and_a_second_run_out(tmp_path: Path) -> None:
    with one_run_at_a_time(tmp_path) as alone:
        assert alone
        with no_training_run(tmp_path) as free:
            assert not free
        with one_run_at_a_time(tmp_path) as second:
            assert not second
    with no_training_run(tmp_path) as free:
        assert free


def test_a_run_waits_for_a_retention_pass_to_end_instead_of_giving_up(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(run_lock, "RETENTION_WAIT_S", 30.0)
    deleting, done = threading.Event(), threading.Event()

    def retention_pass() -> None:
        with no_training_run(tmp_path) as free:
            assert free
            deleting.set()
            done.wait(timeout=0.3)  # its deletions take a moment
            done.set()

    passing = threading.Thread(target=retention_pass)
    passing.start()
    assert deleting.wait(timeout=10)
    with one_run_at_a_time(tmp_path) as alone:
        assert alone and done.is_set()  # it started only once the pass had ended
    passing.join()


def test_two_retention_passes_do_not_block_each_other(tmp_path: Path) -> None:
    with no_training_run(tmp_path) as first, no_training_run(tmp_path) as second:
        assert first and second


def test_workers_of_one_multi_worker_run_all_go_on_and_the_first_keeps_retention_out(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["localhost:1", "localhost:2"]}}')
    with one_run_at_a_time(tmp_path) as first:
        assert first
        with no_training_run(tmp_path) as free:
            assert not free  # the originals the workers read stay
        with one_run_at_a_time(tmp_path) as second:
            assert second  # the second worker on this state dir trains with the first
    with no_training_run(tmp_path) as free:
        assert free
