"""`dunkwatch process`, `run` and `check` as a user runs them, and the clips they write."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    REPO,
    SHAPES_TOML,
    displayed_first_frame,
    encode,
    make_portrait_mov,
    run_ffmpeg,
    shapes_config,
)

from dunkwatch.config import ExportConfig
from dunkwatch.errors import ExportError
from dunkwatch.media import probe
from dunkwatch.pipeline.cutting.export import cut_clip


def dunkwatch(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dunkwatch", *args], capture_output=True, text=True, cwd=cwd or REPO, timeout=600
    )


def is_upright(image: np.ndarray) -> bool:
    h = image.shape[0]
    top, bottom = image[: h // 10].mean(axis=(0, 1)), image[-h // 10 :].mean(axis=(0, 1))
    return top[0] > 150 and top[2] < 100 and bottom[2] > 150 and bottom[0] < 100


def no_part_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith(".part")]


def counter_video(path: Path, seconds: float = 3.0, fps: float = 30.0, audio: bool = True) -> Path:
    """Frame i is a flat grey of level 20 + 2 i, so a decoded frame tells its own index."""
    frames = (np.full((64, 96, 3), 20 + 2 * i, np.uint8) for i in range(int(seconds * fps)))
    return encode(frames, path, 96, 64, fps, audio=audio)


def frame_count(path: Path) -> int:
    raw = run_ffmpeg("-i", str(path), "-f", "rawvideo", "-pix_fmt", "gray", "-")
    info = probe(path)
    return len(raw) // (info.width * info.height)


# --- the whole command on an iPhone-like file ----------------------------------------------


def test_portrait_hevc_mov_gives_upright_full_resolution_clips_with_audio(portrait_mov, workdir):
    out = workdir / "outbox"
    (workdir / "shapes.toml").write_text(SHAPES_TOML, encoding="utf-8")
    proc = dunkwatch(
        "process",
        str(portrait_mov),
        "--config",
        str(workdir / "shapes.toml"),
        "--out",
        str(out),
        "--scorer",
        "motion",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    sidecar = json.loads(proc.stdout)
    assert sidecar["rotation"] == 90 and (sidecar["width"], sidecar["height"]) == (180, 320)
    assert sidecar["scorer"] == "motion" and sidecar["model"] is None
    assert sidecar["duration"] == pytest.approx(6.0, abs=0.1)
    (seg,) = sidecar["segments"]
    assert seg["start"] == pytest.approx(2.0, abs=0.3) and seg["end"] == pytest.approx(4.0, abs=0.3)
    assert seg["clip_start"] == pytest.approx(seg["start"] - 1.0, abs=0.01)
    assert seg["clip_end"] == pytest.approx(seg["end"] + 1.5, abs=0.01)
    folder = out / portrait_mov.stem
    assert json.loads((folder / f"{portrait_mov.stem}.json").read_text()) == sidecar
    (clip_name,) = sidecar["clips"]
    clip = probe(folder / clip_name)
    assert (clip.width, clip.height) == (180, 320)  # original resolution, displayed portrait
    assert clip.audio_codec == "aac"
    assert clip.duration == pytest.approx(seg["clip_end"] - seg["clip_start"], abs=0.1)
    assert is_upright(displayed_first_frame(folder / clip_name))
    reel = probe(folder / sidecar["highlights"])
    assert reel.audio_codec == "aac" and reel.duration == pytest.approx(clip.duration, abs=0.15)
    assert (folder / sidecar["timeline"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert no_part_files(out)


def test_clip_starts_on_the_requested_frame(tmp_path):
    src = probe(counter_video(tmp_path / "counter.mp4"))
    clip = cut_clip(src, 1.0, 2.0, tmp_path / "clip.mp4", ExportConfig())
    first = displayed_first_frame(clip).mean()
    assert first == pytest.approx(20 + 2 * 30, abs=3)  # frame 30 is the one at 1.0 s
    assert frame_count(clip) == 30
    assert probe(clip).audio_codec == "aac"


def test_slow_motion_plays_the_same_frames_at_half_the_rate_with_audio(tmp_path):
    src = probe(counter_video(tmp_path / "counter.mp4"))
    clip = probe(cut_clip(src, 1.0, 2.0, tmp_path / "slow.mp4", ExportConfig(slow_motion=2.0)))
    assert clip.duration == pytest.approx(2.0, abs=0.1)
    assert frame_count(clip.path) == 30
    assert clip.fps == pytest.approx(15, abs=0.5)
    assert clip.audio_codec == "aac"


def test_copy_mode_keeps_codec_rotation_and_audio(portrait_mov, tmp_path):
    clip = probe(cut_clip(probe(portrait_mov), 2.0, 4.0, tmp_path / "copy.mp4", ExportConfig(mode="copy")))
    assert clip.video_codec == "hevc" and clip.audio_codec == "aac"
    assert clip.rotation == 90 and (clip.width, clip.height) == (180, 320)
    assert is_upright(displayed_first_frame(clip.path))


def test_a_failed_cut_leaves_no_file(tmp_path):
    src = probe(counter_video(tmp_path / "counter.mp4", audio=False))
    gone = replace(src, path=tmp_path / "vanished.mp4")
    with pytest.raises(ExportError, match="clip.mp4"):
        cut_clip(gone, 0.0, 1.0, tmp_path / "clip.mp4", ExportConfig())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter.mp4"]


def test_no_clips_only_scores_and_segments(portrait_mov, workdir):
    out = workdir / "outbox"
    (out / portrait_mov.stem).mkdir(parents=True)
    (out / portrait_mov.stem / ".IMG_0001_01_00m02s.mp4.part").write_bytes(b"killed mid-write")
    # No --config, run where there is no config.toml: the built-in defaults (state in ./state).
    proc = dunkwatch("process", str(portrait_mov), "--out", str(out), "--scorer", "motion", "--no-clips", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    files = sorted(p.name for p in (out / portrait_mov.stem).iterdir())
    assert files == [".dunkwatch-video", "IMG_0001.json", "IMG_0001.png"]  # the mark says whose folder it is
    assert json.loads((out / portrait_mov.stem / "IMG_0001.json").read_text())["clips"] == []


def test_several_videos_with_a_bad_one_in_the_middle(portrait_mov, workdir, tmp_path):
    bad = tmp_path / "notes.mov"
    bad.write_text("not a video")
    second = counter_video(tmp_path / "second.mp4")
    proc = dunkwatch(
        "process",
        str(portrait_mov),
        str(bad),
        str(second),
        "--out",
        str(workdir / "outbox"),
        "--no-clips",
        "--json",
        "--scorer",
        "motion",
        cwd=workdir,  # built-in defaults: the state folder is the work folder's, never the checkout's
    )
    assert proc.returncode == 2
    results = json.loads(proc.stdout)
    assert [Path(r["video"]).name for r in results] == ["IMG_0001.MOV", "second.mp4"]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("dunkwatch:")]
    assert len(errors) == 1 and str(bad) in errors[0] and "not a readable video" in errors[0]


def test_scorer_cnn_without_a_promoted_model_says_so(portrait_mov, workdir, config_file):
    cfg = config_file(paths={"state_dir": str(workdir / "state")})
    proc = dunkwatch("process", str(portrait_mov), "--config", str(cfg), "--scorer", "cnn")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "no model has been promoted" in proc.stderr and "--scorer motion" in proc.stderr


def test_a_broken_registry_pointer_does_not_stop_motion_scoring(workdir):
    from dunkwatch.errors import ModelError
    from dunkwatch.pipeline.scoring.scorer_choice import make_scorer

    (workdir / "state" / "models").mkdir(parents=True)
    (workdir / "state" / "models" / "current").write_text("v0007\n")
    cfg = shapes_config({"paths": {"state_dir": str(workdir / "state")}}, workdir)
    assert make_scorer(cfg.pipeline, "auto").kind == "motion"
    assert make_scorer(cfg.pipeline, "motion").kind == "motion"
    with pytest.raises(ModelError, match="points at 'v0007'"):
        make_scorer(cfg.pipeline, "cnn")


def test_cnn_scorer_uses_the_promoted_model_and_auto_prefers_it(tmp_path, workdir):
    from dunkwatch.models import registry
    from dunkwatch.models.resnet import build_model
    from dunkwatch.pipeline.process import process_video
    from dunkwatch.pipeline.scoring.scorer_choice import make_scorer

    model = build_model(input_size=32, weights=None, dense_units=(8, 8, 8))
    version = registry.add_version(workdir / "state", lambda p: model.save(p), {"f1": 0.0})
    registry.set_current(workdir / "state", version)
    cfg = shapes_config({"paths": {"state_dir": str(workdir / "state")}, "score": {"batch_size": 4}}, workdir)
    scorer = make_scorer(cfg.pipeline)  # auto
    assert (scorer.kind, scorer.model_version) == ("cnn", "v0001")
    video = counter_video(tmp_path / "c.mp4", seconds=2.0, audio=False)
    sidecar = process_video(video, cfg.pipeline, scorer, workdir / "outbox", clips=False).sidecar
    assert sidecar.scorer == "cnn" and sidecar.model == "v0001" and sidecar.threshold == 0.95
    # Batched prediction agrees with one-by-one prediction.
    frames = [np.full((64, 96, 3), v, np.uint8) for v in range(0, 250, 25)]
    batched = list(scorer.score(frames))
    single = [next(iter(scorer.score([f]))) for f in frames]
    assert len(batched) == 10 and np.allclose(batched, single, atol=1e-5)
    assert all(0.0 <= p <= 1.0 for p in batched)


# --- run and check ---------------------------------------------------------------------------


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_run_once_processes_the_inbox_and_never_touches_originals(workdir, config_file):
    inbox = workdir / "inbox"
    good = make_portrait_mov(inbox / "phone" / "IMG_0002.MOV")
    digest = sha256(good)
    (inbox / "broken.mov").write_text("text pretending to be a video")
    (inbox / ".syncthing.IMG_0003.MOV.tmp").write_bytes(b"partial")
    cfg = config_file(score={"scorer": "motion"})
    proc = dunkwatch("run", "--once", "--config", str(cfg))
    assert proc.returncode == 0, proc.stderr
    archived = workdir / "archive" / "phone" / "IMG_0002.MOV"  # the inbox's folders are kept
    assert sha256(archived) == digest
    assert (workdir / "outbox" / "phone" / "IMG_0002" / "IMG_0002.json").is_file()
    assert (workdir / "quarantine" / "broken.mov").read_text() == "text pretending to be a video"
    reason = (workdir / "quarantine" / "broken.mov.error.txt").read_text()
    assert "broken.mov" in reason and "not a readable video" in reason and reason.count("\n") == 1
    assert (inbox / ".syncthing.IMG_0003.MOV.tmp").read_bytes() == b"partial"
    assert no_part_files(workdir)


def test_check_accepts_the_shipped_config_and_names_a_bad_key(workdir, config_file):
    ok = dunkwatch("check", "--config", str(REPO / "config.toml"))
    assert ok.returncode == 0, ok.stderr
    bad = dunkwatch("check", "--config", str(config_file(segment={"merge_gapp": 1.0})))
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "dunkwatch: config key segment.merge_gapp is unknown; known: threshold_motion, "
        "threshold_cnn, hysteresis, smooth, merge_gap, min_segment, pre_roll, post_roll, "
        "confirm_people"
    )


def test_console_script_and_module_agree():
    module = dunkwatch("--version")
    script = subprocess.run(
        [str(Path(sys.executable).parent / "dunkwatch"), "--version"], capture_output=True, text=True
    )
    assert module.returncode == script.returncode == 0
    assert module.stdout == script.stdout and module.stdout.startswith("dunkwatch ")


def test_a_name_with_a_newline_and_quotes_still_gets_its_clips_and_reel(portrait_mov, tmp_path):
    odd = tmp_path / "it's\nIMG_0001.MOV"  # ffmpeg's concat list once broke on both
    odd.write_bytes(portrait_mov.read_bytes())
    (tmp_path / "shapes.toml").write_text(SHAPES_TOML, encoding="utf-8")
    proc = dunkwatch(
        "process",
        str(odd),
        "--config",
        str(tmp_path / "shapes.toml"),
        "--out",
        str(tmp_path / "out"),
        "--scorer",
        "motion",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    sidecar = json.loads(proc.stdout)
    folder = next((tmp_path / "out").iterdir())
    assert sidecar["clips"] and sidecar["highlights"]
    assert all((folder / name).is_file() for name in sidecar["clips"] + [sidecar["highlights"]])
    assert all("\n" not in name and "'" not in name for name in sidecar["clips"])
