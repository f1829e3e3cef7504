"""Fuzzed inbox: hundreds of damaged and odd files in front of the real service at once.

    .venv/bin/python bench/fuzz_inbox.py [--files 300] [--seed 1] [--timeout 1200]

Makes the files from three real videos (a synthetic court, a cut of the shared real video and
a portrait HEVC .mov): truncated at random lengths; bit flips in the first 4 KiB, in the `moov`
atom and in the `mdat` atom; right bytes under a wrong extension; plus zero-length files, FIFOs,
symlinks, dangling symlinks, folders named like videos and files without read permission. Drops
them all into the inbox of one `dunkwatch run` and waits. Every regular file must end done or
quarantined with a reason, every link in the quarantine as a link, every FIFO and folder left
alone with one log line; the service must never die, and must finish within the timeout (no
hang). Prints the counts and the service's peak memory, and PASS or FAIL (exit code 1).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import stat
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests"))

from conftest import cut_real, make_portrait_mov  # noqa: E402
from load_check import base_video, vm_hwm_mb  # noqa: E402
from service_harness import SERVICE_CONFIG, journal_counts, start_service  # noqa: E402


def flip(data: bytearray, start: int, end: int, rng: random.Random, flips: int = 8) -> bytearray:
    for _ in range(flips):
        if end > start:
            i = rng.randrange(start, end)
            data[i] ^= 1 << rng.randrange(8)
    return data


def atom(data: bytes, name: bytes) -> tuple[int, int]:
    at = data.find(name)
    if at < 4:
        return 0, min(len(data), 4096)
    size = int.from_bytes(data[at - 4 : at], "big")
    return at + 4, min(len(data), at - 4 + max(size, 8))


def make_files(inbox: Path, bases: list[Path], count: int, rng: random.Random) -> dict[str, list[Path]]:
    made: dict[str, list[Path]] = {"regular": [], "symlink": [], "other": []}
    kinds = ["truncated", "header", "moov", "mdat", "extension"]
    for n in range(count):
        base = bases[n % len(bases)]
        data = bytearray(base.read_bytes())
        kind = kinds[n % len(kinds)]
        suffix = base.suffix
        if kind == "truncated":
            data = data[: rng.randrange(1, len(data))]
        elif kind == "header":
            flip(data, 0, min(4096, len(data)), rng)
        elif kind == "moov":
            flip(data, *atom(bytes(data), b"moov"), rng)
        elif kind == "mdat":
            flip(data, *atom(bytes(data), b"mdat"), rng, flips=64)
        else:
            suffix = rng.choice([".mov", ".m4v", ".mp4"])
            data = rng.choice([bytearray(b"\xff\xd8\xff\xe0JFIF" * 100), bytearray(b"RIFF....WAVEfmt " * 50), data])
        path = inbox / f"fuzz_{n:03d}_{kind}{suffix}"
        path.write_bytes(bytes(data))
        made["regular"].append(path)
    for n in range(4):
        (inbox / f"empty_{n}.mp4").write_bytes(b"")
        made["regular"].append(inbox / f"empty_{n}.mp4")
        os.mkfifo(inbox / f"pipe_{n}.mp4")
        made["other"].append(inbox / f"pipe_{n}.mp4")
        (inbox / f"folder_{n}.mov").mkdir()
        made["other"].append(inbox / f"folder_{n}.mov")  # checked by name in the inbox later
        (inbox / f"link_{n}.mp4").symlink_to(bases[n % len(bases)])
        (inbox / f"dangling_{n}.mov").symlink_to(inbox.parent / f"nowhere_{n}.mov")
        made["symlink"] += [inbox / f"link_{n}.mp4", inbox / f"dangling_{n}.mov"]
        locked = inbox / f"locked_{n}.mp4"
        shutil.copy(bases[n % len(bases)], locked)
        locked.chmod(0)  # unreadable, unless the service runs as root
        made["regular"].append(locked)
    return made


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=300, help="damaged copies of real videos")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=1200.0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="dunkwatch-fuzz-"))
    try:
        media = work / "media"
        media.mkdir()
        bases = [
            base_video(media / "court.mp4", 4.0),
            cut_real(media / "room.mp4", 60, 66),
            make_portrait_mov(media / "IMG_0001.MOV", duration=4.0),
        ]
        (work / "config.toml").write_text(SERVICE_CONFIG + "highlight_reel = false\n")
        staging = work / "staging"
        staging.mkdir()
        made = make_files(staging, bases, args.files, rng)
        proc = start_service(work)
        inbox = work / "inbox"
        while not inbox.is_dir():
            time.sleep(0.1)
        started = time.monotonic()
        staging.rename(inbox.with_name("inbox.tmp"))
        inbox.rmdir()
        inbox.with_name("inbox.tmp").rename(inbox)  # everything appears at once
        regular = [inbox / p.name for p in made["regular"]]
        peak, died, counts = 0.0, None, {}
        while time.monotonic() - started < args.timeout:
            if proc.poll() is not None:
                died = proc.returncode
                break
            peak = max(peak, vm_hwm_mb(proc.pid))
            counts, moved = journal_counts(work)
            links_left = [p for p in made["symlink"] if os.path.lexists(inbox / p.name)]
            if moved >= len(regular) and not links_left:
                break
            time.sleep(1.0)
        elapsed = time.monotonic() - started
        hung = died is None and time.monotonic() - started >= args.timeout
        if died is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)
        text = (work / "daemon.log").read_text(errors="replace")
        quarantine = work / "quarantine"
        reasons_missing = [
            p.name
            for p in quarantine.iterdir()
            if not p.name.endswith(".error.txt") and not (quarantine / f"{p.name}.error.txt").exists()
        ]
        links_ok = all((quarantine / p.name).is_symlink() for p in made["symlink"])
        # FIFOs: left alone, one log line each. Folders named like videos are folders: walked, kept.
        others_ok = all(
            os.path.lexists(inbox / p.name) and ((inbox / p.name).is_dir() or text.count(f"{p.name}: ignored") == 1)
            for p in made["other"]
        )
        unaccounted = [p.name for p in regular if os.path.lexists(p)]
        figures = {
            "files": len(regular) + len(made["symlink"]) + len(made["other"]),
            "regular": len(regular),
            "done": counts.get("done"),
            "quarantined": counts.get("failed"),
            "symlinks_quarantined_as_links": links_ok,
            "fifos_ignored_once_folders_kept": others_ok,
            "left_in_inbox": len(unaccounted),
            "reasons_missing": len(reasons_missing),
            "service_died": died is not None,
            "hung": hung,
            "wall_seconds": round(elapsed, 1),
            "service_peak_rss_mb": round(peak, 1),
            "root": os.geteuid() == 0,
        }
        print(json.dumps(figures, indent=2))
        ok = died is None and not hung and links_ok and others_ok and not unaccounted and not reasons_missing
        print("PASS" if ok else f"FAIL (work folder kept: {work})")
        if not ok:
            work = None
        return 0 if ok else 1
    finally:
        if work is not None:
            for p in work.rglob("locked_*"):
                p.chmod(stat.S_IRUSR | stat.S_IWUSR)
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
