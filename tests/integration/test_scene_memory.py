"""Scene memory: the empty court seen in earlier videos rescues a clip a player fills, and a
moved camera or a knocked tripod starts a new scene instead of poisoning the old one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import WITH_PRIOR, Scene, Visit, cut_real, real_visits

from dunkwatch.config import MotionConfig
from dunkwatch.metrics import match_ranges
from dunkwatch.pipeline.scoring.empty_scene import same_scene_share
from dunkwatch.pipeline.scoring.motion import MotionScorer
from dunkwatch.pipeline.scoring.scene_memory import SceneMemory
from dunkwatch.pipeline.scoring.thumbnails import alike_share

FPS = 5.0
CFG = MotionConfig(background_window=30.0)  # short windows keep the synthetic videos short


def score(frames, memory: SceneMemory | None):
    scorer = MotionScorer(CFG, FPS, memory.scenes if memory else None)
    scores = np.fromiter(scorer.score(frames), float)
    keys = memory.remember(scorer.learned_scenes) if memory else []
    return scores, keys


def recall_and_false(scene: Scene, scores: np.ndarray) -> tuple[float, float]:
    truth = np.array([scene.truth(i / FPS) for i in range(len(scores))])
    hit = scores >= 0.5
    return float(hit[truth].mean()), float(hit[~truth].mean()) if (~truth).any() else 0.0


def memory_at(tmp_path: Path) -> SceneMemory:
    return SceneMemory(tmp_path / "scenes", same_scene_share(CFG))


def court(**kw) -> Scene:
    return Scene(width=192, height=108, fps=FPS, **kw)


def test_a_clip_a_still_player_fills_is_rescued_by_the_remembered_empty_court(tmp_path):
    # Reading at the table: nearly still, never quite, so no two moments look alike.
    filled = court(duration=40, visits=[Visit(2, 38, 0.40, 0.43, shuttle=2.3)], seed=3)
    alone, _ = score(filled.frames(), None)
    recall_alone, _ = recall_and_false(filled, alone)
    assert recall_alone < 0.5  # the failure memory fixes: the still player became the "empty" court

    memory = memory_at(tmp_path)
    earlier = court(duration=60, visits=[Visit(10, 20, 0.2, 0.7), Visit(35, 45, 0.8, 0.3)], seed=3)
    _, keys = score(earlier.frames(), memory)
    assert len(keys) == 1 and len(memory.scenes()) == 1
    scores, used = score(filled.frames(), memory)
    recall, false_share = recall_and_false(filled, scores)
    assert recall > 0.95 and false_share < 0.05, (recall, false_share)
    assert used == keys  # matched to the remembered scene, not a new one


def test_a_new_court_starts_a_new_scene_and_leaves_the_old_one_alone(tmp_path):
    memory = memory_at(tmp_path)
    first = court(duration=60, visits=[Visit(10, 20, 0.2, 0.7), Visit(35, 45, 0.8, 0.3)], seed=3)
    (key_a,) = score(first.frames(), memory)[1]
    before = memory.scenes()[0].images.copy()
    other = court(duration=60, visits=[Visit(10, 20, 0.2, 0.7), Visit(35, 45, 0.8, 0.3)], seed=11)
    other.background = lambda: np.roll(first.background(), 40, axis=1)  # type: ignore[method-assign]  # camera turned
    scores, (key_b,) = score(other.frames(), memory)
    assert key_b != key_a and len(memory.scenes()) == 2
    recall, false_share = recall_and_false(other, scores)
    assert recall > 0.9 and false_share < 0.05, (recall, false_share)
    after = {s.key: s.images for s in memory.scenes()}[key_a]
    # The old scene only gained (or refreshed) pictures of itself.
    assert all(alike_share(before[0], img) < same_scene_share(CFG) for img in after)


def test_a_tripod_knocked_mid_video_does_not_poison_the_remembered_court(tmp_path):
    memory = memory_at(tmp_path)
    first = court(duration=60, visits=[Visit(10, 20, 0.2, 0.7), Visit(35, 45, 0.8, 0.3)], seed=3)
    (key_a,) = score(first.frames(), memory)[1]
    original = memory.scenes()[0].images[0]
    knocked = court(duration=100, visits=[Visit(8, 14, 0.2, 0.7), Visit(70, 76, 0.8, 0.3)], seed=3)
    frames = list(knocked.frames())
    knock = int(40 * FPS)
    frames[knock:] = [np.roll(f, 8, axis=0) for f in frames[knock:]]  # tilted down by 8 px
    score(frames, memory)
    scenes = {s.key: s.images for s in memory.scenes()}
    same = same_scene_share(CFG)
    assert all(alike_share(original, img) < same for img in scenes[key_a])
    others = [k for k in scenes if k != key_a]
    assert len(others) == 1  # the new framing is a scene of its own
    assert all(alike_share(original, img) >= same for img in scenes[others[0]])


def dunkwatch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dunkwatch", *args], capture_output=True, text=True, timeout=600)


def clip_match(sidecar: dict, visits):
    return match_ranges(visits, [(s["start"], s["end"]) for s in sidecar["segments"]], sidecar["duration"], 10.0)


@pytest.mark.slow
def test_the_service_remembers_the_court_for_a_clip_a_player_fills(tmp_path, workdir, config_file):
    # The shared video in three files: the service sees 0-90 s, then `process` gets 90 s to the end,
    # where one player stands at the table for 23 s of 49 and the empty room shows for 9 s.
    cut_real(workdir / "inbox" / "first.mp4", 0, 48)
    cut_real(workdir / "inbox" / "second.mp4", 48, 90)
    last = cut_real(tmp_path / "last.mp4", 90)
    cfg = config_file(
        export={"highlight_reel": False},
        training={"input_size": 96, "fine_tune": "all", "imagenet": False},
        **WITH_PRIOR,
    )
    ran = dunkwatch("run", "--once", "--config", str(cfg))
    assert ran.returncode == 0, ran.stderr
    sidecars = [json.loads((workdir / "outbox" / n / f"{n}.json").read_text()) for n in ("first", "second")]
    for sidecar, visits in zip(sidecars, (real_visits(0, 48), real_visits(48, 90))):
        match = clip_match(sidecar, visits)
        assert match.f1 >= 0.99 and match.found == match.truths == match.detections, match
    assert len(list((workdir / "state" / "scenes").glob("scene-*.npz"))) == 1

    # The sequence: `train` offline on these two, uncorrected. Nothing can beat motion on
    # its own predictions, so nothing is trained, and `auto` stays on motion (with the memory).
    # (second.mp4 above already showed the remembered court costs a clip with visits nothing.)
    trained = dunkwatch("train", "--config", str(cfg))
    assert trained.returncode == 0 and trained.stdout.startswith("skipped: no corrections"), trained.stdout
    assert not (workdir / "state" / "models").exists()

    remembered = dunkwatch(
        "process", str(last), "--config", str(cfg), "--no-clips", "--json", "--out", str(tmp_path / "out")
    )
    assert remembered.returncode == 0, remembered.stderr
    with_memory = json.loads(remembered.stdout)
    match = clip_match(with_memory, real_visits(90))
    assert with_memory["scorer"] == "motion" and match.f1 >= 0.95 and match.found == match.truths == 2, match
    assert with_memory["scenes"] == sidecars[0]["scenes"] == sidecars[1]["scenes"]

    # The same clip with a fresh state dir: no memory, and no worse than before memory existed (F1 0.656).
    fresh = config_file(score={"scorer": "motion"}, paths={"state_dir": str(tmp_path / "fresh")}, **WITH_PRIOR)
    alone = json.loads(
        dunkwatch(
            "process", str(last), "--config", str(fresh), "--no-clips", "--json", "--out", str(tmp_path / "out2")
        ).stdout
    )
    assert clip_match(alone, real_visits(90)).f1 >= 0.65
