"""The practice sessions' refresh in a child process of its own, as training runs in one.

Joining a long session's reel, probing its clips, drawing its shot map and writing its editor
timelines take tens of MB for a moment. In the service, glibc and Python's allocator would keep
the largest session's peak for months; in a child, it goes back to the system when it exits. The
child logs to the service's stderr, hands back the sessions it rewrote, is stopped with the service
(removing what it was half-way through writing), and dies with it.
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
from dunkwatch.media import describe_exit, dies_with_parent
from dunkwatch.service.session_outputs import SessionOutputs
from dunkwatch.sessions import Session
from dunkwatch.store import Store

POLL_SECONDS = 0.2  # how often the service checks whether it is stopping while the child works
STOP_GRACE_SECONDS = 10.0  # a stopped child removes its `.part` files and exits; after this, SIGKILL


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
        start_new_session=True,  # its own group: stopped with its ffmpeg children
        preexec_fn=dies_with_parent,  # a service killed with -9 takes it along
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
        _stop(proc)
        raise
    if proc.returncode != 0:
        raise DunkwatchError(f"the sessions' child process {describe_exit(proc.returncode)} (its log says why)")
    changed: list[Session] = pickle.loads(out)
    return changed


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the child's group: the child removes the `.part` file of a reel it was joining
    and exits; SIGKILL if it has not after STOP_GRACE_SECONDS."""
    for sig, wait in ((signal.SIGTERM, STOP_GRACE_SECONDS), (signal.SIGKILL, None)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds: the atomic writes in progress remove their `.part` files


def child_main() -> None:
    """The child: read the setup from stdin, refresh, write the sessions rewritten to stdout."""
    signal.signal(signal.SIGTERM, _terminated)
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
