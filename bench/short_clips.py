"""Short clips of the shared real video: each alone on a fresh state folder, and all in order.

    .venv/bin/python bench/short_clips.py            # DVR-Scan beside it when installed
    .venv/bin/python bench/short_clips.py --skip-dvr-scan

Many players film one clip per drill, started with the player already in view, so the empty
court may never show. This cuts the real footage in ../shared/data/real/ into 20 s and 30 s clips
every 10 s (x264 crf 18), and scores each with the motion scorer twice: fresh (its own state
folder: the first clip ever at this court) and in order through one state folder (the scene
memory has seen the earlier clips). Truth is the hand labels shifted into each clip; frames
within 0.5 s of a true boundary are left out. Also the last 49 s alone, fresh.

DVR-Scan (`dvr-scan -so -q -tb 0 -tp 0`: its events without padding) is scored on the same clips
when `dvr-scan` is on PATH or in bench/.dvr-venv (bench/throughput.py sets that up).
Targets (issue 19): fresh mean >= 0.95, none below 0.8; in order mean >= 0.97, none below 0.9.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from conftest import cut_real, real_visits  # noqa: E402

from dunkwatch.config import from_dict  # noqa: E402
from dunkwatch.metrics import match_ranges  # noqa: E402
from dunkwatch.pipeline.process import analyse  # noqa: E402
from dunkwatch.pipeline.scoring.scorer_choice import motion_scorer, scene_memory  # noqa: E402

LENGTHS = (20.0, 30.0)
STRIDE = 10.0
FPS = 10.0  # the ground truth's frame grid


def clip_spans(duration: float) -> list[tuple[float, float]]:
    spans = []
    for length in LENGTHS:
        start = 0.0
        while start + length <= duration + 1e-6:
            spans.append((start, start + length))
            start += STRIDE
    return sorted(spans)


def dvr_scan() -> str | None:
    local = REPO / "bench" / ".dvr-venv" / "bin" / "dvr-scan"
    return str(local) if local.exists() else shutil.which("dvr-scan")


def seconds(timecode: str) -> float:
    h, m, s = timecode.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def dvr_events(exe: str, path: Path) -> list[tuple[float, float]]:
    out = (
        subprocess.run(
            [exe, "-i", str(path), "-so", "-q", "-tb", "0", "-tp", "0"], capture_output=True, text=True, check=True
        )
        .stdout.strip()
        .splitlines()
    )
    codes = [c for c in (out[-1].split(",") if out else []) if c.strip()]
    return [(seconds(a), seconds(b)) for a, b in zip(codes[::2], codes[1::2])]


def dunkwatch_events(path: Path, cfg, memory) -> list[tuple[float, float]]:
    scorer = motion_scorer(cfg.pipeline, memory)
    result = analyse(path, cfg.pipeline, scorer)
    if memory is not None:
        memory.remember(scorer.learned_scenes)
    return [(s.start, s.end) for s in result.segments]


def summary(name: str, f1s: list[float]) -> str:
    below = sum(1 for f in f1s if f < 0.9)
    return f"{name:34} mean {sum(f1s) / len(f1s):.3f}  min {min(f1s):.3f}  below 0.9: {below} of {len(f1s)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-dvr-scan", action="store_true")
    parser.add_argument("--no-prior", action="store_true", help="motion.person_prior = false: what the rest does alone")
    args = parser.parse_args()
    exe = None if args.skip_dvr_scan else dvr_scan()
    duration = 139.4  # the shared video's length (ground_truth.json: 1394 frames at 10 fps)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        spans = clip_spans(duration)
        clips = [(a, b, cut_real(tmp / f"clip_{a:05.1f}_{b:05.1f}.mp4", a, b), real_visits(a, b)) for a, b in spans]
        tail_start = 90.0
        tail = cut_real(tmp / "tail.mp4", tail_start)
        started = time.monotonic()
        motion = {"person_prior": not args.no_prior}

        def config(state: str):
            return from_dict({"paths": {"state_dir": str(tmp / state)}, "motion": motion}, tmp)

        shared_cfg = config("shared-state")
        shared_memory = scene_memory(shared_cfg.paths.state_dir, shared_cfg.motion)
        rows = {"fresh": [], "in order": [], "dvr": []}
        print(f"{'clip':12} {'fresh F1':>9} {'in order F1':>12} {'DVR-Scan F1':>12}")
        for k, (a, b, path, visits) in enumerate(clips):
            cfg = config(f"fresh-{k}")
            found = dunkwatch_events(path, cfg, scene_memory(cfg.paths.state_dir, cfg.motion))
            fresh = match_ranges(visits, found, b - a, FPS).f1
            ordered = match_ranges(visits, dunkwatch_events(path, shared_cfg, shared_memory), b - a, FPS).f1
            dvr = match_ranges(visits, dvr_events(exe, path), b - a, FPS).f1 if exe else None
            rows["fresh"].append(fresh)
            rows["in order"].append(ordered)
            if dvr is not None:
                rows["dvr"].append(dvr)
            print(f"{a:5.0f}-{b:<5.0f}s {fresh:9.3f} {ordered:12.3f} {'' if dvr is None else f'{dvr:12.3f}'}")
        print(summary("dunkwatch motion, fresh", rows["fresh"]))
        print(summary("dunkwatch motion, in order", rows["in order"]))
        if rows["dvr"]:
            print(summary("DVR-Scan (-tb 0 -tp 0)", rows["dvr"]))
        cfg = config("tail-state")
        tail_found = dunkwatch_events(tail, cfg, scene_memory(cfg.paths.state_dir, cfg.motion))
        tail_f1 = match_ranges(real_visits(tail_start), tail_found, duration - tail_start, FPS).f1
        print(f"last {duration - tail_start:.0f} s alone, fresh: F1 {tail_f1:.3f}")
        print(f"({len(clips)} clips, scored in {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
