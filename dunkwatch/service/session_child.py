"""The practice sessions' refresh in a child process of its own, as training runs in one.

Joining a long session's reel, probing its clips, drawing its shot map and writing its editor
timelines take tens of MB for a moment. In the service, glibc and Python's allocator would keep
the largest session's peak for months; in a child, it goes back to the system when it exits. The
child logs to the service's stderr, and hands back the sessions it rewrote.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable, Sequence

from dunkwatch.config import PathsConfig, SessionsConfig
from dunkwatch.errors import DunkwatchError
from dunkwatch.media import describe_exit
from dunkwatch.service.session_outputs import SessionOutputs
from dunkwatch.sessions import Session
from dunkwatch.store import Store

POLL_SECONDS = 0.2  # how often the service checks whether it is stopping while the child works


@dataclass(frozen=True)
class RefreshSetup:
    """What the child needs: the folders, the sessions' settings, the timelines' formats, the log level."""

    paths: PathsConfig
    sessions: SessionsConfig
    timelines: tuple[str, ...]
    log_level: int


def refresh_in_child(
    paths: PathsConfig, cfg: SessionsConfig, timelines: Sequence[str], stop: Callable[[], None]
) -> list[Session]:
    """The sessions rewritten, by a child process. `stop` raises when the service is stopping: the
    child and its ffmpeg children are killed then (a session half rewritten is redone next time)."""
    setup = RefreshSetup(paths, cfg, tuple(timelines), logging.getLogger().getEffectiveLevel())
    proc = subprocess.Popen(
        [sys.executable, "-c", "from dunkwatch.service.session_child import child_main; child_main()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,  # its own group: killed with its ffmpeg children
    )
    setup_bytes: bytes | None = pickle.dumps(setup)
    try:
        while True:
            try:
                # Reads as it goes, so a long answer never blocks; the setup goes in with the first call.
                out, _ = proc.communicate(setup_bytes, timeout=POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                setup_bytes = None
                stop()
    except BaseException:
        _kill(proc)
        raise
    if proc.returncode != 0:
        raise DunkwatchError(f"the sessions' child process {describe_exit(proc.returncode)} (its log says why)")
    changed: list[Session] = pickle.loads(out)
    return changed


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def child_main() -> None:
    """The child: read the setup from stdin, refresh, write the sessions rewritten to stdout."""
    setup: RefreshSetup = pickle.loads(sys.stdin.buffer.read())
    logging.basicConfig(
        level=setup.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    store = Store(setup.paths.state_dir)
    try:
        changed = SessionOutputs(setup.paths, setup.sessions, setup.timelines).refresh(store)
    finally:
        store.close()
    sys.stdout.buffer.write(pickle.dumps(changed))
    sys.stdout.flush()
