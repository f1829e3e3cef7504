"""Load check for the daemon: 50 short videos dropped into the inbox at once, 5 of them bad.

    .venv/bin/python bench/load_check.py [--videos 50] [--seconds 6]

Starts the real `dunkwatch run` on a temporary inbox, copies every file in at once, waits until
the journal has an end state for each, and prints the counts, the wall time and the daemon's
peak memory (VmHWM of the service process; its short-lived ffmpeg children are not counted).
Expect 45 done and 5 quarantined.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dunkwatch.media import ffmpeg_exe  # noqa: E402
from dunkwatch.store import Store  # noqa: E402


def ffmpeg(*args: str, stdin: bytes | None = None) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], input=stdin, check=True)


def base_video(path: Path, seconds: float, width=320, height=180, fps=30) -> Path:
    """A still court with a block crossing it in the middle third, with audio; moov at the front."""
    rng = np.random.default_rng(1)
    court = rng.integers(60, 120, (height, width, 3), dtype=np.uint8)
    frames = []
    n = int(seconds * fps)
    for i in range(n):
        frame = court.copy()
        if n // 3 <= i < 2 * n // 3:
            x = int((i - n // 3) / (n // 3) * (width - 30))
            frame[height // 3 : height // 3 + 70, x : x + 24] = (220, 40, 40)
        frame += rng.integers(0, 3, frame.shape, dtype=np.uint8)
        frames.append(frame)
    ffmpeg(
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{width}x{height}",
        "-r",
        str(fps),
        "-i",
        "-",
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency=330:duration={seconds}",
        "-shortest",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-movflags",
        "+faststart",
        str(path),
        stdin=np.stack(frames).tobytes(),
    )
    return path


def make_inputs(folder: Path, videos: int, seconds: float) -> tuple[list[Path], list[Path]]:
    base = base_video(folder / "base.mp4", seconds)
    good = []
    for i in range(videos - 5):
        # Same pictures, different bytes: each one is processed, none is a duplicate.
        out = folder / f"session_{i:03d}.mp4"
        ffmpeg("-i", str(base), "-c", "copy", "-metadata", f"comment=take {i}", str(out))
        good.append(out)
    bad = [
        folder / "empty.mp4",
        folder / "fake.mov",
        folder / "voice_memo.mp4",
        folder / "half_synced.mp4",
        folder / "noise.m4v",
    ]
    bad[0].write_bytes(b"")
    bad[1].write_text("this is a text file with a video's name")
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-c:a", "aac", str(bad[2]))
    data = base.read_bytes()
    bad[3].write_bytes(data[: len(data) // 2])  # index at the front, half the frames missing
    bad[4].write_bytes(np.random.default_rng(2).integers(0, 256, 200_000, dtype=np.uint8).tobytes())
    return good, bad


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each good video")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dunkwatch-load-"))
    try:
        media = work / "media"
        media.mkdir()
        good, bad = make_inputs(media, args.videos, args.seconds)
        (work / "config.toml").write_text(
            '[score]\nscorer = "motion"\n[watch]\nstable_seconds = 1.0\nunreadable_after = 3.0\n'
            "[export]\ntimeline = false\n"
        )
        log = open(work / "daemon.log", "w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "dunkwatch", "run", "--config", str(work / "config.toml")],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        inbox = work / "inbox"
        deadline = time.monotonic() + 60
        while not inbox.is_dir() and time.monotonic() < deadline:
            time.sleep(0.1)
        started = time.monotonic()
        for src in good + bad:  # all at once, as a sync client catching up after a day offline
            shutil.copy(src, inbox / src.name)
        total = len(good) + len(bad)
        counts: dict = {}
        peak = 0.0
        while time.monotonic() - started < args.timeout:
            store = Store(work / "state")
            counts = asdict(store.counts())
            store.close()
            peak = max(peak, vm_hwm_mb(proc.pid))
            if counts["done"] + counts["failed"] >= total:
                break
            if proc.poll() is not None:
                print(f"daemon exited with {proc.returncode}; see {work / 'daemon.log'}")
                return 1
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        peak = max(peak, vm_hwm_mb(proc.pid))
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
        quarantined = sorted(p.name for p in (work / "quarantine").glob("*") if not p.name.endswith(".error.txt"))
        reasons = {
            p.name[: -len(".error.txt")]: p.read_text().strip() for p in (work / "quarantine").glob("*.error.txt")
        }
        result = {
            "videos": total,
            "done": counts.get("done"),
            "failed": counts.get("failed"),
            "wall_seconds": round(elapsed, 1),
            "daemon_peak_rss_mb": round(peak, 1),
            "exit_code": code,
            "quarantined": quarantined,
        }
        print(json.dumps(result, indent=2))
        for name, reason in sorted(reasons.items()):
            print(f"  {name}: {reason.split(': ', 1)[-1]}")
        ok = counts.get("done") == len(good) and counts.get("failed") == len(bad) and code == 0
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
