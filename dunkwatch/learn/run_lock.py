"""The state dir's training lock. One training run at a time: a manual `train` and the scheduled one
would otherwise write the same vNNNN.part. And no original deleted while a run may read it: the
archive's retention holds the same lock, shared, for the moment of its deletions."""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

LOCK_NAME = "training.lock"
RETENTION_WAIT_S = 60.0  # a run waits this long for a retention pass's deletions (they take moments)


@contextmanager
def one_run_at_a_time(state_dir: Path) -> Iterator[bool]:
    """True when this run holds the state dir's training lock; False when another run does.

    Workers of one multi-worker run (TF_CONFIG) train together by design, so each always goes on
    (True): it holds the lock where it can get it, which keeps retention off the originals it reads,
    and goes on without it where the lock is held already (another worker of the run on this state dir)."""
    Path(state_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(state_dir) / LOCK_NAME, "a") as fh:
        if not _exclusive(fh):
            yield bool(os.environ.get("TF_CONFIG"))
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def no_training_run(state_dir: Path) -> Iterator[bool]:
    """True when no training run holds the lock; until the block ends none can start, so none reads
    an original the block deletes. False while a run holds it (it may read any archived original)."""
    Path(state_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(state_dir) / LOCK_NAME, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)  # shared: two services' passes never block each other
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _exclusive(fh: IO[str]) -> bool:
    """The lock for a run. Held exclusively, it is another run's: no. Held shared, it is a retention
    pass's deletions: wait for them to end, up to RETENTION_WAIT_S."""
    deadline = time.monotonic() + RETENTION_WAIT_S
    while True:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            pass
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)  # refused only by an exclusive holder: a run
        except BlockingIOError:
            return False
        fcntl.flock(fh, fcntl.LOCK_UN)
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
