"""Accuracy of the motion scorer on every real video with ground truth, side by side.

    .venv/bin/python bench/accuracy.py [DATA_DIR]    # default: ../shared/data/real

DATA_DIR holds videos and a ground_truth.json mapping each file name to
{"fps", "frames", "person_frames": [[first, last], ...]}. Prints, per video, frame precision,
recall and F1 (frames within 0.5 s of a true boundary left out), visits found, visits split into
several segments, and segments detected, with the processing speed as a multiple of real time.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from dunkwatch.config import from_dict
from dunkwatch.metrics import frames_to_ranges, match_ranges
from dunkwatch.pipeline.process import analyse
from dunkwatch.pipeline.scoring.motion import MotionScorer

REPO = Path(__file__).resolve().parent.parent


def main(data_dir: Path) -> int:
    truth_all = json.loads((data_dir / "ground_truth.json").read_text())
    cfg = from_dict({}, REPO)
    print(f"{'video':40} {'prec':>6} {'recall':>6} {'F1':>6} {'found':>7} {'split':>5} {'segs':>5} {'speed':>8}")
    for name, truth in truth_all.items():
        if name.startswith("_"):
            continue
        started = time.monotonic()
        result = analyse(data_dir / name, cfg.pipeline, MotionScorer(cfg.motion, cfg.decode.sample_fps))
        elapsed = time.monotonic() - started
        visits = frames_to_ranges(truth["person_frames"], truth["fps"])
        m = match_ranges(
            visits, [(s.start, s.end) for s in result.segments], truth["frames"] / truth["fps"], truth["fps"]
        )
        print(
            f"{name[:40]:40} {m.precision:6.3f} {m.recall:6.3f} {m.f1:6.3f} {m.found:>3}/{m.truths:<3} "
            f"{m.split:5} {m.detections:5} {result.info.duration / elapsed:7.1f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared" / "data" / "real"))
