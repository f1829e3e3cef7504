"""What the service benches share: a work folder's config, starting `dunkwatch run` on it, whether
the journal has an end for every input, and a process's memory, fds and python children."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dunkwatch.store import Store  # noqa: E402

# Motion only (no TensorFlow), short waits, so a bench spends its time on what it tests.
SERVICE_CONFIG = (
    '[score]\nscorer = "motion"\n[watch]\nstable_seconds = 0.5\nunreadable_after = 2.0\n[export]\ntimeline = false\n'
)


def start_service(work: Path) -> subprocess.Popen:
    """`dunkwatch run` on work/config.toml (written with SERVICE_CONFIG if missing), logging to work/daemon.log."""
    config = work / "config.toml"
    if not config.exists():
        config.write_text(SERVICE_CONFIG)
    log = open(work / "daemon.log", "a")
    return subprocess.Popen(
        [sys.executable, "-m", "dunkwatch", "run", "--config", str(config)],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def journal_counts(work: Path) -> tuple[dict, int]:
    """(videos per state, originals moved out of the inbox); nothing before the service made its journal."""
    if not (work / "state" / "journal.sqlite3").exists():
        return {}, 0
    store = Store(work / "state")
    try:
        return asdict(store.counts()), sum(1 for v in store.all() if v.location is not None)
    finally:
        store.close()


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """A process's resident memory in MB: all of it, or `RssAnon` (what it allocated, not the
    pages of its libraries and files, which the kernel can drop and read again)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def python_children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if "python" in Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace"):
                found.append(int(child))
    return found


def wait_for(state: Path, total: int, proc: subprocess.Popen, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        store = Store(state)
        counts = asdict(store.counts())
        store.close()
        if counts["done"] + counts["failed"] >= total and counts["seen"] + counts["stable"] + counts["processing"] == 0:
            return counts
        if proc.poll() is not None:
            raise SystemExit(f"the service exited with {proc.returncode}")
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {total} videos")
