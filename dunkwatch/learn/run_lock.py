"""One training run at a time per state dir: a manual `train` and the scheduled one would
otherwise write the same vNNNN.part."""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

LOCK_NAME = "training.lock"


@contextmanager
def one_run_at_a_time(state_dir: Path) -> Iterator[bool]:
    """True when this run holds the state dir's training lock; False when another run does.

    Workers of one multi-worker run (TF_CONFIG) train together by design, so they do not take it."""
    if os.environ.get("TF_CONFIG"):
        yield True
        return
    Path(state_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(state_dir) / LOCK_NAME, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released by the kernel if this process dies
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
