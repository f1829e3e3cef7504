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

from dunkwatch.metrics import match_times  # noqa: E402

TOLERANCE = 1.0  # seconds between a detected and a labelled rim time


def run(video: Path, hoop: str | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "config.toml"
        cfg.write_text(f'[paths]\nstate_dir = "{tmp}/state"\n')
        cmd = [sys.executable, "-m", "dunkwatch", "process", "--config", str(cfg), "--out", f"{tmp}/out", "--json",
               "--scorer", "motion", str(video)] + (["--hoop", hoop] if hoop else [])
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
    held = sum(1 for i, j in pairs if found[i]["clip_start"] <= truth[j]["release"] / fps + 1e-3
               and found[i]["clip_end"] >= (truth[j]["settled"] + 1) / fps - 1e-3)
    return {"truth": len(truth), "found": len(found), "matched": len(pairs), "right": right, "held": held,
            "hoop": sidecar.get("hoop"), "details": [(found[i]["rim"], truth[j]["rim"] / fps, found[i]["result"],
                                                      truth[j]["result"]) for i, j in pairs]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--videos", type=Path, default=REPO / "bench" / ".cache" / "attempts")
    ap.add_argument("--labels", type=Path, default=REPO.parent / "shared" / "data" / "attempts" / "dev.json")
    args = ap.parse_args()
    labels = {k: v for k, v in json.loads(args.labels.read_text()).items() if not k.startswith("_")}
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
    print(f"{'video':28} {'hoop':6} {'labelled':>8} {'found':>5} {'matched':>7} {'make/miss ok':>12} {'clip holds':>10}")
    totals: dict[str, list[int]] = {}
    for name, mode, s in rows:
        print(f"{name:28} {mode:6} {s['truth']:8d} {s['found']:5d} {s['matched']:7d} {s['right']:12d} {s['held']:10d}")
        t = totals.setdefault(mode, [0, 0, 0, 0, 0])
        for k, key in enumerate(("truth", "found", "matched", "right", "held")):
            t[k] += s[key]
    for mode, (truth, found, matched, right, held) in totals.items():
        print(f"hoop {mode}: recall {matched / max(truth, 1):.3f}, precision {matched / max(found, 1):.3f}, "
              f"make/miss accuracy {right / max(matched, 1):.3f}, clips holding release..settled {held}/{matched}")


if __name__ == "__main__":
    main()
