"""The learning loop end to end on the real room: motion cuts a clip of a rolling ball, the user
marks it `empty`, `train` learns from that and is promoted because it beats motion where the user
corrected it, and a new clip of the same room with the same kind of distraction gets no false clip.

The clips are made from the shared real video: each visit is cut in thirds, and each clip gets a
different third of every person (so training, validation and the new clip see the same six people
at other moments, as a player filming their own court would be), with the empty room between them
and an orange ball rolling across the floor. Run with `-s` to see the before and after figures.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, WITH_PRIOR, composed_real, real_visits

from dunkwatch.learn.promotion import Figures, JudgedVideo, figures
from dunkwatch.models import registry

# Small inputs and a short run, so a ResNet50 from scratch (no ImageNet offline) trains on two CPU cores.
# 8 epochs at a learning rate of 0.0003. At 0.001 the loss jumped between epochs and 12 were needed
# (at 8 the model missed a sample or two of one visit on some CPUs, and was refused). At 0.0003,
# 6 epochs passed 7 seeds of 7 but then missed a visit of the new clip on TensorFlow's own kernels
# (TF_ENABLE_ONEDNN_OPTS=0) with this test's seed; 8 passed that and 4 other seeds, on both kernels.
TRAINING = {
    "input_size": 48,
    "sample_fps": 3.0,
    "fine_tune": "all",
    "imagenet": False,
    "epochs": 8,
    "batch_size": 32,
    "learning_rate": 0.0003,
    "validation_share": 0.5,
}
BALL = (2.0, 7.0)  # in every clip, in the empty room before the first person


def dunkwatch(*args: str, cwd: Path = REPO, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dunkwatch", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )


def thirds(k: int) -> list:
    """The parts of clip k: 9 s of empty room, then third (i + k) mod 3 of visit i, 3 s of room after each."""
    parts: list = [9.0]
    for i, (a, b) in enumerate(real_visits()):
        j, length = (i + k) % 3, (b - a) / 3
        parts += [(round(a + j * length, 1), round(a + (j + 1) * length, 1)), 3.0]
    return parts


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    folder = tmp_path_factory.mktemp("room")
    return {name: composed_real(folder / f"{name}.mp4", thirds(k), [BALL]) for k, name in enumerate("xyz")}


def judged(sidecar: dict, truth) -> Figures:
    return figures(
        [
            JudgedVideo(
                "z", sidecar["duration"], tuple(truth), tuple((s["start"], s["end"]) for s in sidecar["segments"]), True
            )
        ]
    )


@pytest.mark.slow
def test_corrections_teach_the_classifier_what_motion_gets_wrong(workdir, config_file, room):
    for name in "xy":
        shutil.copy(room[name][0], workdir / "inbox")
    cfg = config_file(
        watch={"stable_seconds": 0.2},
        training=TRAINING,
        export={"timeline": False, "highlight_reel": False},
        **WITH_PRIOR,  # the real room's people: the prior keeps them out of the empty scene
    )
    proc = dunkwatch("run", "--once", "--config", str(cfg))
    assert proc.returncode == 0, proc.stderr
    for name in "xy":
        sidecar = json.loads((workdir / "outbox" / name / f"{name}.json").read_text())
        assert sidecar["scorer"] == "motion" and any(
            s["start"] < BALL[1] and s["end"] > BALL[0] for s in sidecar["segments"]
        ), sidecar["segments"]
    new_clip, new_truth = room["z"]
    before = dunkwatch(
        "process", str(new_clip), "--no-clips", "--json", "--config", str(cfg), "--out", str(workdir / "before")
    )
    motion = judged(json.loads(before.stdout), new_truth)
    assert motion.false_segments == 1 and motion.events_found == 6  # motion: every visit, and the ball

    # The player marks the ball's clips `empty` (one row has a typo: reported, never fatal).
    rows = [
        "video,start,end,label,note",
        f"x.mp4,{BALL[0]},{BALL[1]},empty,a ball",
        f"y.mp4,{BALL[0]},{BALL[1]},empty,a ball",
        "no_such_video.mp4,1,2,dunk,a typo",
    ]
    (workdir / "corrections.csv").write_text("\n".join(rows) + "\n")
    check = dunkwatch("check", "--config", str(cfg))
    assert check.returncode == 2 and "row 4: unknown video 'no_such_video.mp4'" in check.stdout

    trained = dunkwatch("train", "--config", str(cfg))
    assert trained.returncode == 0, trained.stderr[-3000:]
    summary = trained.stdout[trained.stdout.find("promoted:") :]  # after the per-epoch lines
    assert summary.startswith("promoted: beats motion"), trained.stdout + trained.stderr[-3000:]
    assert "\nnew model:" in summary and "\nmotion:" in summary  # the baseline's figures beside the new model's
    # ResNet50 trained from scratch: every one of its 53 BatchNorms recalibrated (the trap: test_training.py).
    assert "recalibrated over the training frames: 53 layer(s)" in trained.stderr, trained.stderr[-3000:]
    meta = registry.metrics(workdir / "state", "v0001")
    assert meta["baseline"]["name"] == "motion" and meta["backbone"] == "random, whole network trained"
    assert meta["metrics"]["false_segments"] < meta["baseline"]["metrics"]["false_segments"]
    assert len(meta["validation_videos"]) == 1 and meta["validation_videos"][0] not in meta["train_videos"]

    # `auto` now uses the model; the new clip of the same room and the same ball: no false clip.
    out = dunkwatch(
        "process", str(new_clip), "--no-clips", "--json", "--config", str(cfg), "--out", str(workdir / "after")
    )
    assert out.returncode == 0, out.stderr[-3000:]
    sidecar = json.loads(out.stdout)
    assert sidecar["scorer"] == "cnn" and sidecar["model"] == "v0001"
    # Trusted on the court it was judged on, which the new clip of the same room shows.
    assert sidecar["court"] is not None and meta["courts"] == [sidecar["court"]]
    learned = judged(sidecar, new_truth)
    print(f"\nnew clip, motion:        {motion.line()}\nnew clip, trained model: {learned.line()}")
    assert learned.false_segments == 0 and learned.events_found == 6 and learned.f1 >= 0.95, learned

    # The motion gate skips the classifier on empty frames without moving a boundary (0.2 s).
    every_frame = workdir / "every_frame.toml"
    every_frame.write_text(cfg.read_text() + "\n[score]\nmotion_gate = 0.0\n")
    full = dunkwatch(
        "process",
        str(new_clip),
        "--scorer",
        "cnn",
        "--no-clips",
        "--json",
        "--config",
        str(every_frame),
        "--out",
        str(workdir / "every_frame"),
    )
    assert full.returncode == 0, full.stderr[-3000:]
    assert "the cnn classified" in out.stderr and "the cnn classified" not in full.stderr
    full_segments = json.loads(full.stdout)["segments"]
    assert len(full_segments) == len(sidecar["segments"])
    for gated, ungated in zip(sidecar["segments"], full_segments):
        # One sample at 5 fps is 0.2 s: a frame on the threshold may land one sample apart.
        assert abs(gated["start"] - ungated["start"]) <= 0.2 + 1e-6 and abs(gated["end"] - ungated["end"]) <= 0.2 + 1e-6

    # The model was judged, and runs, through OpenVINO (bfloat16 where the CPU has it); that it
    # scores as Keras does is test_inference.py's.
    assert meta["runtime"].startswith("openvino")

    # Unchanged labels: the next run is skipped, and the listing shows the model beside motion.
    again = dunkwatch("train", "--config", str(cfg))
    assert again.returncode == 0 and again.stdout.startswith("skipped: labels unchanged since model v0001")
    listing = dunkwatch("models", "--json", "--config", str(cfg))
    (entry,) = json.loads(listing.stdout)
    assert entry["version"] == "v0001" and entry["current"] and entry["f1"] == meta["metrics"]["f1"]
    assert entry["baseline"] == "motion" and entry["baseline_false_segments"] >= 1
