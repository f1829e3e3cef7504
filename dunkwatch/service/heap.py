"""The service's memory over months: few malloc arenas for its threads, freed pages handed back
once the queue is empty (malloc_trim), and, with PYTHONTRACEMALLOC set, SIGUSR2 writes the allocation sites that grew
since the first signal to state/tracemalloc.txt (bench/soak.py --tracemalloc)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import tracemalloc
from pathlib import Path

from dunkwatch.fsutil import atomic_write_text

REPORT = "tracemalloc.txt"
TOP = 25
_LIBC_NAME = ctypes.util.find_library("c")
_LIBC = ctypes.CDLL(_LIBC_NAME) if _LIBC_NAME else None  # loaded once: the trim runs often


def give_back_freed_memory() -> None:
    """Hand the pages glibc keeps after big frees back to the system: in the service once the queue
    is empty and after each retention pass (each video's editor timelines and journal work, and
    retention's plan over every archived video, leave some behind; the sessions' refresh, the
    largest, runs in a child of its own: session_child.py), and in the video child after each
    video. A no-op where libc has no malloc_trim."""
    trim = getattr(_LIBC, "malloc_trim", None)  # glibc has it; musl and others do not
    if trim is not None:
        trim(0)


M_ARENA_MAX = -8  # glibc's mallopt parameter: how many malloc arenas threads may spread over
SERVICE_ARENAS = 2
# The video child's threads (decoding, scoring, the person detector) spread over glibc's default of
# eight arenas a core, and each arena kept its own high-water mark: its anonymous memory rose from
# 126 to about 157 MB over its first 25 videos, then stayed. With two: 116 to 120, from the third
# video on, at the same speed (16 videos of 20 to 60 s: 48-49 s both ways; 2 cores).
CHILD_ARENAS = 2


def child_environment(arenas: int = CHILD_ARENAS) -> dict[str, str]:
    """The environment for a child that does heavy work in threads: glibc reads MALLOC_ARENA_MAX as
    the process starts, before any library's threads (OpenBLAS starts its own on import). A value
    the user set stays."""
    return {**os.environ, "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", str(arenas))}


def limit_malloc_arenas(count: int = SERVICE_ARENAS) -> None:
    """Two malloc arenas for the service's threads, not glibc's eight per core: each arena keeps its
    own high-water mark, so the page's six server threads each came to hold a page load's peak
    (+12 MB over its first 50 loads; about 0.7 MB a day over a simulated month, as the journal
    grew). Called before the service starts its threads. The video child gets its limit from its
    environment (child_environment). A no-op without glibc."""
    mallopt = getattr(_LIBC, "mallopt", None)
    if mallopt is not None:
        mallopt(M_ARENA_MAX, count)


class HeapReport:
    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / REPORT
        self.first: tracemalloc.Snapshot | None = None
        self.reports: list[str] = []

    def install(self) -> bool:
        """From the main thread; nothing happens unless tracemalloc is tracing."""
        if not tracemalloc.is_tracing():
            return False
        signal.signal(signal.SIGUSR2, lambda *_: self.write())
        return True

    def write(self) -> None:
        snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
        if self.first is None:
            self.first = snapshot
            lines = [f"{stat}" for stat in snapshot.statistics("lineno")[:TOP]]
            self.reports.append("first snapshot, largest sites:\n" + "\n".join(lines))
        else:
            lines = [f"{stat}" for stat in snapshot.compare_to(self.first, "traceback")[:TOP]]
            total = sum(s.size for s in snapshot.statistics("filename")) / 1e6
            self.reports.append(f"growth since the first snapshot ({total:.1f} MB traced now):\n" + "\n".join(lines))
        atomic_write_text(self.path, "\n\n".join(self.reports) + "\n")
