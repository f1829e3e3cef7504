"""kill -9 torture: SIGKILL the service at random moments while it works, restart it, and check
that nothing was lost, duplicated, half-written or blamed on a good video.

    .venv/bin/python bench/kill_torture.py [--kills 25] [--videos 13] [--seconds 20] [--seed 1]

Inputs: `--videos` files, 5 of them bad (load_check.py's: empty, text, audio only, half a file,
random bytes), the rest good synthetic courts of `--seconds` s, plus two cuts of the shared real
video. The service is killed `--kills` times, 0.3 to 3 s after each start, then left to finish.
At the end, every original must be in the archive or the quarantine exactly once and
byte-identical, no `.part` file may be left, every good video must have one complete sidecar
whose clips all exist and decode, and no good video may be quarantined. Prints the figures and
PASS or FAIL (exit code 1).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests"))

from conftest import SHARED_REAL, cut_real  # noqa: E402
from load_check import make_inputs  # noqa: E402
from service_harness import journal_counts  # noqa: E402
from service_harness import start_service as start  # noqa: E402

from dunkwatch.fsutil import sha256_of as sha  # noqa: E402
from dunkwatch.media import probe  # noqa: E402


def watching_lines(work: Path) -> int:
    """How many times the service has logged that it watches the inbox: once per start, after recovery."""
    log = work / "daemon.log"
    return log.read_text(errors="replace").count("dunkwatch.service.daemon: watching ") if log.exists() else 0


def finished(work: Path, total: int) -> bool:
    counts, moved = journal_counts(work)
    return bool(counts) and counts["done"] + counts["failed"] >= total and moved >= total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=25)
    parser.add_argument("--videos", type=int, default=13)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="dunkwatch-torture-"))
    try:
        media = work / "media"
        media.mkdir()
        good, bad = make_inputs(media, args.videos, args.seconds)
        if SHARED_REAL.is_dir():
            good += [cut_real(media / "real_a.mp4", 0, 30), cut_real(media / "real_b.mp4", 60, 100)]
        originals = {p.name: sha(p) for p in good + bad}
        (work / "inbox").mkdir()
        for src in good + bad:
            shutil.copy(src, work / "inbox" / src.name)
        started = time.monotonic()
        kills = 0
        while kills < args.kills and not finished(work, len(originals)):
            proc = start(work)
            time.sleep(rng.uniform(0.3, 3.0))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()
        starts = watching_lines(work)
        proc = start(work)  # then let it finish in peace
        # It cleans up what the last kill left (recovery) before it watches the inbox: a SIGTERM
        # before that point would end it before it could.
        while watching_lines(work) == starts and proc.poll() is None and time.monotonic() - started < args.timeout:
            time.sleep(0.2)
        while not finished(work, len(originals)) and time.monotonic() - started < args.timeout:
            if proc.poll() is not None:
                print(f"the service exited with {proc.returncode}; see {work / 'daemon.log'}")
                return 1
            time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
        elapsed = time.monotonic() - started

        kept: dict[str, list[Path]] = {}
        for folder in ("archive", "quarantine"):
            for p in (work / folder).rglob("*"):
                if p.is_file() and not p.name.endswith(".error.txt"):
                    kept.setdefault(p.name, []).append(p)
        lost = [n for n in originals if n not in kept]
        duplicated = [n for n, ps in kept.items() if len(ps) > 1]
        changed = [n for n, ps in kept.items() if n in originals and any(sha(p) != originals[n] for p in ps)]
        parts = [str(p.relative_to(work)) for p in work.rglob("*.part")]
        good_names = {p.name for p in good}
        quarantined_good = sorted(n for n in good_names if (work / "quarantine" / n).exists())
        broken_outputs = []
        for name in sorted(good_names):
            stem = Path(name).stem
            sidecars = list((work / "outbox").glob(f"{stem}*/{stem}.json"))
            if len(sidecars) != 1:
                broken_outputs.append(f"{name}: {len(sidecars)} sidecars")
                continue
            sidecar = json.loads(sidecars[0].read_text())
            for clip in sidecar["clips"] + ([sidecar["highlights"]] if sidecar["highlights"] else []):
                try:
                    probe(sidecars[0].parent / clip)
                except Exception as exc:  # noqa: BLE001 - any failure is a broken output
                    broken_outputs.append(f"{name}: {clip}: {exc}")
        log_text = (work / "daemon.log").read_text(errors="replace")
        interrupted = log_text.count("was being processed when the service stopped")
        figures = {
            "kills": kills,
            "kills_mid_video": interrupted,
            "videos": len(originals),
            "good": len(good_names),
            "bad": len(bad),
            "lost": len(lost),
            "duplicated": len(duplicated),
            "changed": len(changed),
            "part_files": len(parts),
            "good_quarantined": len(quarantined_good),
            "broken_outputs": len(broken_outputs),
            "wall_seconds": round(elapsed, 1),
        }
        print(json.dumps(figures, indent=2))
        for problem in lost + duplicated + changed + parts + quarantined_good + broken_outputs:
            print("  problem:", problem)
        ok = not (lost or duplicated or changed or parts or quarantined_good or broken_outputs)
        print("PASS" if ok else f"FAIL (work folder kept: {work})")
        if not ok:
            work = None
        return 0 if ok else 1
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
