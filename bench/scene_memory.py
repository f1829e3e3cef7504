"""Scene memory on the shared real video: each clip alone, and after the earlier clips were seen.

    .venv/bin/python bench/scene_memory.py    # the shared real video and its ground truth

Cuts the video into 0-48 s, 48-90 s and 90 s to the end (the last one: a player stands at the
table for 23 s of 49, and the empty room shows for 9 s). Scores each clip with the motion model
alone, then again in order with one scene memory that the earlier clips filled, as the service
does, and the whole video after that. Prints frame precision, recall and F1 (frames within 0.5 s
of a true boundary left out), visits found and segments, side by side.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from conftest import REAL_NAME, SHARED_REAL, cut_real, real_visits  # noqa: E402

from dunkwatch.config import from_dict  # noqa: E402
from dunkwatch.metrics import match_ranges  # noqa: E402
from dunkwatch.pipeline.process import analyse  # noqa: E402
from dunkwatch.pipeline.scoring.scorer_choice import motion_scorer, scene_memory  # noqa: E402

CLIPS = [(0.0, 48.0), (48.0, 90.0), (90.0, None)]


def score(path: Path, cfg, memory, visits) -> str:
    scorer = motion_scorer(cfg.pipeline, memory)
    result = analyse(path, cfg.pipeline, scorer)
    if memory is not None:
        memory.remember(scorer.learned_scenes)
    m = match_ranges(visits, [(s.start, s.end) for s in result.segments], result.info.duration, 10.0)
    return f"{m.precision:6.3f} {m.recall:6.3f} {m.f1:6.3f} {m.found:>3}/{m.truths:<3} {m.detections:5}"


def main(video: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cfg = from_dict({"paths": {"state_dir": str(tmp / "state")}}, tmp)
        clips = [(cut_real(tmp / f"clip{k}.mp4", a, b), real_visits(a, b)) for k, (a, b) in enumerate(CLIPS)]
        print(f"{'input':28} {'memory':22} {'prec':>6} {'recall':>6} {'F1':>6} {'found':>7} {'segs':>5}")
        for (a, b), (path, visits) in zip(CLIPS, clips):
            label = f"{a:g}-{b:g} s" if b else f"{a:g} s-end"
            print(f"{label:28} {'none (clip alone)':22} {score(path, cfg, None, visits)}")
        memory = scene_memory(cfg.paths.state_dir, cfg.motion)
        for (a, b), (path, visits) in zip(CLIPS, clips):
            label = f"{a:g}-{b:g} s" if b else f"{a:g} s-end"
            print(f"{label:28} {'earlier clips seen':22} {score(path, cfg, memory, visits)}")
        print(f"{'whole video':28} {'all three clips seen':22} {score(video, cfg, memory, real_visits())}")
        print(f"scenes remembered: {len(memory.scenes())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(SHARED_REAL / REAL_NAME))
