"""Soak: short real clips dropped in batches into one running service; memory, fds and time per batch.

    .venv/bin/python bench/soak.py [--batches 5] [--per-batch 80] [--seconds 4] [--tracemalloc]

Clips are cut from the shared real video (../shared/data/real) at staggered starts, each with a
distinct comment so that none is a duplicate, and all in one practice session. After each batch
has finished (every clip done or failed) and the session was rebuilt, it prints the service's and
the video child's RSS, their open fds, the batch's wall time until its last clip was done, and
the session refresh's time (the reel of every clip so far joined again). Issue 33's targets:
service and child RSS grow at most 5% from
batch 1 to the last, fds stay flat, the last batch takes at most 1.3x the first.
`--tracemalloc` starts the service with PYTHONTRACEMALLOC and prints its top growth sites (the
service dumps a snapshot on SIGUSR2, see service/daemon.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from service_harness import fds, python_children, rss_mb, wait_for  # noqa: E402

from dunkwatch.media import ffmpeg_exe  # noqa: E402

REAL = REPO.parent / "shared" / "data" / "real" / "one-by-one-person-detection.mp4"


def make_clips(folder: Path, count: int, seconds: float, duration: float = 130.0) -> list[Path]:
    clips = []
    for i in range(count):
        start = (i * 7.3) % (duration - seconds)
        out = folder / f"IMG_{i:04d}.MOV"
        subprocess.run(
            [
                ffmpeg_exe(),
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-ss",
                f"{start:.2f}",
                "-i",
                str(REAL),
                "-t",
                f"{seconds}",
                "-c",
                "copy",
                "-metadata",
                f"comment=take {i}",
                "-metadata",
                f"creation_time=2026-12-01T18:{i // 60 % 60:02d}:{i % 60:02d}Z",
                str(out),
            ],
            check=True,
        )
        clips.append(out)
    return clips


def wait_for_session(sessions: Path, videos: int, timeout: float) -> float | None:
    """Seconds until one session's session.json lists `videos` videos (the refresh after the queue
    empties), counted from now; None if it never does."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        for path in sessions.glob("*/session.json"):
            try:
                if len(json.loads(path.read_text())["videos"]) >= videos:
                    return time.monotonic() - started
            except (OSError, ValueError, KeyError):
                pass
        time.sleep(0.2)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--per-batch", type=int, default=80)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument(
        "--extra", default="", help="TOML appended to the service's config, e.g. '[sessions]\\nreel = false'"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dunkwatch-soak-"))
    rows = []
    try:
        media = work / "media"
        media.mkdir()
        clips = make_clips(media, args.batches * args.per_batch, args.seconds)
        (work / "config.toml").write_text(
            '[score]\nscorer = "motion"\n[watch]\nstable_seconds = 0.5\n' + args.extra.replace("\\n", "\n") + "\n"
        )
        env = {**os.environ, **({"PYTHONTRACEMALLOC": "5"} if args.tracemalloc else {})}
        log = open(work / "service.log", "w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "dunkwatch", "run", "--config", str(work / "config.toml")],
            cwd=work,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        while not (work / "inbox").is_dir():
            time.sleep(0.1)
        for batch in range(args.batches):
            started = time.monotonic()
            for clip in clips[batch * args.per_batch : (batch + 1) * args.per_batch]:
                shutil.copy(clip, work / "inbox" / clip.name)
            counts = wait_for(work / "state", (batch + 1) * args.per_batch, proc, 3600)
            elapsed = time.monotonic() - started
            refresh = wait_for_session(work / "outbox" / "sessions", (batch + 1) * args.per_batch, 600)
            time.sleep(1.0)
            children = python_children(proc.pid)
            row = {
                "batch": batch + 1,
                "videos": (batch + 1) * args.per_batch,
                "seconds": round(elapsed, 1),
                "session_refresh_s": round(refresh, 1) if refresh is not None else None,
                "service_rss_mb": round(rss_mb(proc.pid), 1),
                "service_fds": fds(proc.pid),
                "child_rss_mb": round(rss_mb(children[0]), 1) if children else None,
                "child_fds": fds(children[0]) if children else None,
                "done": counts["done"],
                "failed": counts["failed"],
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.tracemalloc:
                proc.send_signal(signal.SIGUSR2)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
        first, last = rows[0], rows[-1]
        print(
            "\n| after batch | videos | service RSS | child RSS | fds (service / child) | batch time | "
            "session refresh |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for r in rows:
            print(
                f"| {r['batch']} | {r['videos']} | {r['service_rss_mb']} MB | {r['child_rss_mb']} MB | "
                f"{r['service_fds']} / {r['child_fds']} | {r['seconds']} s | {r['session_refresh_s']} s |"
            )
        growth = {k: last[k] / first[k] - 1 for k in ("service_rss_mb", "child_rss_mb") if first[k] and last[k]}
        print(
            f"\nRSS growth batch 1 -> {last['batch']}: "
            + ", ".join(f"{k} {100 * v:+.1f}%" for k, v in growth.items())
            + f"; last batch / first batch time: {last['seconds'] / first['seconds']:.2f}x"
        )
        if args.tracemalloc:
            print(
                (work / "state" / "tracemalloc.txt").read_text()
                if (work / "state" / "tracemalloc.txt").exists()
                else "no tracemalloc report written"
            )
        return 0
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
