"""The learning loop end to end on synthetic videos: process -> correct -> train -> promote -> cnn."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, Scene, Visit, encode
from dunkwatch.learn import registry
from dunkwatch.metrics import match_ranges

# Small inputs and a short run, so a ResNet50 from scratch trains on two CPU cores in a minute.
TRAINING = {"input_size": 48, "sample_fps": 2.0, "fine_tune": "all", "imagenet": False, "epochs": 6,
            "batch_size": 16, "learning_rate": 0.001, "validation_share": 0.34}


def dunkwatch(*args: str, cwd: Path = REPO, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dunkwatch", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


def court(path: Path, visits: list[tuple[float, float]], seed: int, duration: float = 20.0,
          color=(200, 40, 40)) -> tuple[Path, list[tuple[float, float]]]:
    scene = Scene(duration=duration, seed=seed, visits=[Visit(a, b, 0.15, 0.85, color=color) for a, b in visits])
    encode(scene.frames(), path, scene.width, scene.height, scene.fps, audio=False)
    return path, visits


@pytest.fixture(scope="module")
def synthetic_court(tmp_path_factory):
    folder = tmp_path_factory.mktemp("learning")
    labelled = [
        court(folder / "session_a.mp4", [(3.0, 7.0), (12.0, 16.0)], seed=1),
        court(folder / "session_b.mp4", [(2.0, 5.0), (10.0, 15.0)], seed=1, color=(30, 60, 200)),
        court(folder / "session_c.mp4", [(5.0, 9.0), (14.0, 18.0)], seed=1, color=(230, 200, 40)),
    ]
    held_out = court(folder / "held_out.mp4", [(4.0, 8.0), (13.0, 17.0)], seed=1, color=(40, 180, 60))
    return labelled, held_out


def test_corrections_train_a_promoted_model_that_finds_the_held_out_segments(workdir, config_file, synthetic_court):
    labelled, (held_out, held_truth) = synthetic_court
    for path, _ in labelled:
        shutil.copy(path, workdir / "inbox" / path.name)
    cfg = config_file(score={"scorer": "motion"}, watch={"stable_seconds": 0.2}, training=TRAINING,
                      export={"timeline": False, "highlight_reel": False})
    proc = dunkwatch("run", "--once", "--config", str(cfg))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (workdir / "archive").iterdir()) == ["session_a.mp4", "session_b.mp4",
                                                                      "session_c.mp4"]
    predictions = (workdir / "outbox" / "predictions.csv").read_text()
    assert predictions.startswith("video,start,end,label,note\n") and "session_a.mp4" in predictions

    # The player writes corrections: the true ranges, as the article labels frame ranges.
    lines = ["video,start,end,label,note"]
    for path, visits in labelled:
        lines += [f"{path.name},{a},{b},dunk,checked by hand" for a, b in visits]
    lines.append("no_such_video.mp4,1,2,dunk,a typo")  # a bad row is reported, not fatal
    (workdir / "corrections.csv").write_text("\n".join(lines) + "\n")
    check = dunkwatch("check", "--config", str(cfg))
    assert check.returncode == 2 and "row 8: unknown video 'no_such_video.mp4'" in check.stdout

    trained = dunkwatch("train", "--config", str(cfg))
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "promoted: first model" in trained.stdout, trained.stdout + trained.stderr[-3000:]
    assert registry.current_version(workdir / "state") == "v0001"
    meta = registry.metrics(workdir / "state", "v0001")
    assert meta["metrics"]["f1"] >= 0.9 and meta["labels_hash"] and meta["config"]["training"]["input_size"] == 48
    assert len(meta["validation_videos"]) == 1 and meta["validation_videos"][0] not in meta["train_videos"]

    # The promoted model, judged on a video it never saw.
    out = dunkwatch("process", str(held_out), "--scorer", "cnn", "--no-clips", "--json", "--config", str(cfg),
                    "--out", str(workdir / "held_out"))
    assert out.returncode == 0, out.stderr[-3000:]
    sidecar = json.loads(out.stdout)
    assert sidecar["scorer"] == "cnn" and sidecar["model"] == "v0001"
    found = [(s["start"], s["end"]) for s in sidecar["segments"]]
    match = match_ranges(held_truth, found, sidecar["duration"], fps=30.0)
    assert match.f1 >= 0.9 and match.found == 2, (found, match)

    # The motion gate skips the classifier on empty frames without moving a boundary (0.2 s).
    every_frame = workdir / "every_frame.toml"
    every_frame.write_text(cfg.read_text() + "\n[score]\nmotion_gate = 0.0\n" if "[score]" not in cfg.read_text()
                           else cfg.read_text().replace("[score]", "[score]\nmotion_gate = 0.0", 1))
    full = dunkwatch("process", str(held_out), "--scorer", "cnn", "--no-clips", "--json", "--config", str(every_frame),
                     "--out", str(workdir / "held_out_every_frame"))
    assert full.returncode == 0, full.stderr[-3000:]
    assert "the cnn classified" in out.stderr and "the cnn classified" not in full.stderr
    full_segments = json.loads(full.stdout)["segments"]
    assert len(full_segments) == len(sidecar["segments"])
    for gated, ungated in zip(sidecar["segments"], full_segments):
        # One sample at 5 fps is 0.2 s; the gated path decodes at another size, so a frame on the
        # threshold may land one sample apart.
        assert abs(gated["start"] - ungated["start"]) <= 0.2 + 1e-6 and abs(gated["end"] - ungated["end"]) <= 0.2 + 1e-6

    # Unchanged labels: the next run is skipped, and the listing shows the model.
    again = dunkwatch("train", "--config", str(cfg))
    assert again.returncode == 0 and again.stdout.startswith("skipped: labels unchanged since model v0001")
    listing = dunkwatch("models", "--json", "--config", str(cfg))
    (entry,) = json.loads(listing.stdout)
    assert entry["version"] == "v0001" and entry["current"] and entry["f1"] == meta["metrics"]["f1"]
