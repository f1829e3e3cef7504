"""Shot attempts on labelled footage: recall, precision, make/miss, and whether each clip holds the shot.

    .venv/bin/python bench/attempts.py [--videos DIR] [--labels FILE]

The labels are ../shared/data/attempts/dev.json (frame numbers of start, release, rim, settled and
the result of each attempt). The videos are not in the repository (their licence is unclear):
fetch the repository the labels name, take each file out by its blob id and put it in DIR
(default bench/.cache/attempts/), e.g.

    git --git-dir=REPO.git cat-file blob BLOB > bench/.cache/attempts/three_score_two_miss.mp4

Each video is run through `dunkwatch process --json` twice, on a fresh state folder each time:
with the hoop found from the ball's arcs (what a new court gets) and with the labelled hoop
given (--hoop). Matching rule: an attempt is found when a detected rim time is within 1 s of the
labelled one, one to one. Make/miss accuracy counts the matched attempts whose result agrees
("unknown" counts as wrong). A clip holds its attempt when [clip_start, clip_end] covers the
labelled release to settled.

    .venv/bin/python bench/attempts.py --signals

compares, at the labelled hoop and from the same moving blobs of every frame, three signals an
attempt finder could use: ball arcs (what dunkwatch uses), motion over the rim (runs of moving
area in the two rim widths above it) and net motion (runs of moving area inside the rim and net
box). Only the arcs tell make from miss.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from dunkwatch.metrics import match_times  # noqa: E402

TOLERANCE = 1.0  # seconds between a detected and a labelled rim time


def run(video: Path, hoop: str | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "config.toml"
        cfg.write_text(f'[paths]\nstate_dir = "{tmp}/state"\n')
        cmd = [
            sys.executable,
            "-m",
            "dunkwatch",
            "process",
            "--config",
            str(cfg),
            "--out",
            f"{tmp}/out",
            "--json",
            "--scorer",
            "motion",
            str(video),
        ] + (["--hoop", hoop] if hoop else [])
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        if proc.returncode != 0:
            raise SystemExit(f"{video}: dunkwatch process failed:\n{proc.stderr}")
        return json.loads(proc.stdout)


def score(sidecar: dict, label: dict) -> dict:
    fps = float(label["fps"])
    truth = label["attempts"]
    found = sidecar.get("attempts") or []
    pairs = match_times([a["rim"] for a in found], [t["rim"] / fps for t in truth], TOLERANCE)
    right = sum(1 for i, j in pairs if found[i]["result"] == truth[j]["result"])
    held = sum(
        1
        for i, j in pairs
        if found[i]["clip_start"] <= truth[j]["release"] / fps + 1e-3
        and found[i]["clip_end"] >= (truth[j]["settled"] + 1) / fps - 1e-3
    )
    return {
        "truth": len(truth),
        "found": len(found),
        "matched": len(pairs),
        "right": right,
        "held": held,
        "hoop": sidecar.get("hoop"),
        "details": [(found[i]["rim"], truth[j]["rim"] / fps, found[i]["result"], truth[j]["result"]) for i, j in pairs],
    }


def zone_runs(frames, box: tuple[float, float, float, float], floor: float, gap: float = 1.2) -> list[float]:
    """The end times of runs of frames whose moving area inside `box` (x0, y0, x1, y1) reaches `floor`."""
    from dunkwatch.pipeline.shots.ball_tracks import AREA, CX, CY

    ends: list[float] = []
    start = last = None
    for f in frames:
        b = f.blobs
        inside = (
            (b[:, CX] >= box[0]) & (b[:, CX] <= box[2]) & (b[:, CY] >= box[1]) & (b[:, CY] <= box[3])
            if len(b)
            else np.zeros(0, bool)
        )
        if len(b) and b[inside, AREA].sum() >= floor:
            if start is None or f.time - last > gap:
                if start is not None:
                    ends.append(last)
                start = f.time
            last = f.time
    if start is not None:
        ends.append(last)
    return ends


def signals(video: Path, label: dict) -> dict[str, list[tuple[float, str | None]]]:
    """Three signals from the same blobs of every frame, at the labelled hoop: (rim time, result) each."""
    from dunkwatch.hoop import Hoop
    from dunkwatch.pipeline.scoring.decode import VideoReader
    from dunkwatch.pipeline.shots.attempts import HoopBox, find_attempts
    from dunkwatch.pipeline.shots.ball_tracks import BlobCollector

    blobs = BlobCollector(640)
    for _ in VideoReader(video, 5.0, max_side=192, tap=blobs):
        pass
    w, h = (int(v) for v in label["resolution"].split("x"))
    bx, by, bw, bh = label["hoop_box"]
    hoop = HoopBox(*Hoop(bx / w, by / h, bw / w, bh / h).pixels(*blobs.size))
    ball = np.pi * (hoop.ball / 2) ** 2
    above = (hoop.x - hoop.w, hoop.y - 2 * hoop.w, hoop.x + 2 * hoop.w, hoop.y)
    net = (hoop.x, hoop.y, hoop.x + hoop.w, hoop.y + hoop.h)
    return {
        "ball arcs (dunkwatch)": [(a.rim, a.result.value) for a in find_attempts(blobs.frames, hoop)],
        "motion over the rim": [(t, None) for t in zone_runs(blobs.frames, above, 0.5 * ball)],
        "net motion": [(t, None) for t in zone_runs(blobs.frames, net, 0.5 * ball)],
    }


def compare_signals(labels: dict, videos: Path) -> None:
    print(
        f"{'signal':24} {'labelled':>8} {'found':>5} {'matched':>7} {'recall':>6} {'precision':>9} {'make/miss ok':>12}"
    )
    totals: dict[str, list[int]] = {}
    for name, label in labels.items():
        truth = [t["rim"] / float(label["fps"]) for t in label["attempts"]]
        for signal, found in signals(videos / name, label).items():
            pairs = match_times([f[0] for f in found], truth, TOLERANCE)
            right = sum(1 for i, j in pairs if found[i][1] == label["attempts"][j]["result"])
            t = totals.setdefault(signal, [0, 0, 0, 0])
            for k, v in enumerate((len(truth), len(found), len(pairs), right)):
                t[k] += v
    for signal, (truth, found, matched, right) in totals.items():
        judged = f"{right}/{matched}" if signal.startswith("ball") else "-"
        print(
            f"{signal:24} {truth:8d} {found:5d} {matched:7d} {matched / max(truth, 1):6.3f} "
            f"{matched / max(found, 1):9.3f} {judged:>12}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--videos", type=Path, default=REPO / "bench" / ".cache" / "attempts")
    ap.add_argument("--labels", type=Path, default=REPO.parent / "shared" / "data" / "attempts" / "dev.json")
    ap.add_argument(
        "--signals",
        action="store_true",
        help="instead: three signals side by side at the labelled hoop (ball arcs, motion over the "
        "rim, net motion), from the same blobs of every frame",
    )
    args = ap.parse_args()
    labels = {k: v for k, v in json.loads(args.labels.read_text()).items() if not k.startswith("_")}
    if args.signals:
        compare_signals(labels, args.videos)
        return
    rows = []
    for name, label in labels.items():
        video = args.videos / name
        if not video.is_file():
            raise SystemExit(f"{video}: missing; see the top of {Path(__file__).name} for how to fetch it")
        if hashlib.sha256(video.read_bytes()).hexdigest() != label["sha256"]:
            raise SystemExit(f"{video}: sha256 differs from the labels'")
        w, h = (int(v) for v in label["resolution"].split("x"))
        bx, by, bw, bh = label["hoop_box"]
        given = f"{bx / w:.4f},{by / h:.4f},{bw / w:.4f},{bh / h:.4f}"
        for mode, hoop in (("found", None), ("given", given)):
            rows.append((name, mode, score(run(video, hoop), label)))
    print(
        f"{'video':28} {'hoop':6} {'labelled':>8} {'found':>5} {'matched':>7} {'make/miss ok':>12} {'clip holds':>10}"
    )
    totals: dict[str, list[int]] = {}
    for name, mode, s in rows:
        print(f"{name:28} {mode:6} {s['truth']:8d} {s['found']:5d} {s['matched']:7d} {s['right']:12d} {s['held']:10d}")
        t = totals.setdefault(mode, [0, 0, 0, 0, 0])
        for k, key in enumerate(("truth", "found", "matched", "right", "held")):
            t[k] += s[key]
    for mode, (truth, found, matched, right, held) in totals.items():
        print(
            f"hoop {mode}: recall {matched / max(truth, 1):.3f}, precision {matched / max(found, 1):.3f}, "
            f"make/miss accuracy {right / max(matched, 1):.3f}, clips holding release..settled {held}/{matched}"
        )


if __name__ == "__main__":
    main()
