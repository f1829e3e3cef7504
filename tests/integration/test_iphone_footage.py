"""Real iPhone footage: HDR (HLG, PQ) analysed as well as SDR, HDR clips, recording time, Live
Photos and other clutter, 120 fps slow motion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import Scene, Visit, cut_real, encode, make_hdr_copy, real_visits, shapes_config

from dunkwatch.media import probe
from dunkwatch.metrics import match_ranges
from dunkwatch.pipeline.process import analyse
from dunkwatch.pipeline.scoring.decode import VideoReader
from dunkwatch.pipeline.scoring.motion import MotionScorer

HALF = 72.0  # the shared video's first three visits; the cut falls in an empty stretch


@pytest.fixture(scope="module")
def sdr_and_hlg(tmp_path_factory) -> tuple[Path, Path]:
    """The first part of the shared real video, and the same as an iPhone 12+ records it: HLG,
    portrait pixels turned back by a display matrix."""
    folder = tmp_path_factory.mktemp("hdr")
    sdr = cut_real(folder / "sdr.mp4", 0.0, HALF)
    return sdr, make_hdr_copy(sdr, folder / "IMG_HLG.MOV")


def run_motion(path: Path):
    cfg = shapes_config({"motion": {"person_prior": False}}, path.parent)  # the footage under test, not the detector
    return analyse(path, cfg.pipeline, MotionScorer(cfg.motion, cfg.decode.sample_fps)), cfg


@pytest.mark.slow
def test_an_hlg_copy_of_real_footage_is_found_as_well_as_the_sdr_original(sdr_and_hlg):
    sdr_path, hlg_real = sdr_and_hlg
    info = probe(hlg_real)
    assert info.hdr and info.color_transfer == "arib-std-b67" and info.rotation == 90 and info.has_audio
    assert (info.width, info.height) == (768, 432)  # displayed upright, as filmed
    visits = real_visits(0.0, HALF)
    sdr, cfg = run_motion(sdr_path)
    hdr, _ = run_motion(hlg_real)
    step = 1.0 / cfg.decode.sample_fps
    assert len(hdr.segments) == len(sdr.segments) == len(visits) == 3
    for a, b in zip(sdr.segments, hdr.segments):  # the same visits, to within one sample
        assert abs(a.start - b.start) <= step + 1e-6 and abs(a.end - b.end) <= step + 1e-6, (a, b)
    f1 = [match_ranges(visits, [(s.start, s.end) for s in r.segments], HALF, 10.0).f1 for r in (sdr, hdr)]
    assert abs(f1[0] - f1[1]) <= 0.01, f1


def test_hdr_frames_come_out_upright_in_sdr_like_the_original(tmp_path):
    scene = Scene(duration=3, fps=10, seed=3, visits=[Visit(1.0, 2.0, 0.3, 0.6)])
    original = encode(
        scene.frames(), tmp_path / "sdr.mp4", scene.width, scene.height, scene.fps, audio=False, preset="veryfast"
    )
    reference = np.array([f.image for f in VideoReader(original, 5.0)], dtype=float)
    for transfer in ("arib-std-b67", "smpte2084"):
        copy = make_hdr_copy(original, tmp_path / f"{transfer}.mov", transfer=transfer, rotation=270, audio=False)
        info = probe(copy)
        assert info.hdr and info.color_transfer == transfer and info.rotation == 270
        frames = list(VideoReader(copy, 5.0, info=info))
        assert [round(f.time, 3) for f in frames] == [round(t, 3) for t in np.arange(0, 3, 0.2)]
        got = np.array([f.image for f in frames], dtype=float)
        assert got.shape == reference.shape  # upright, at the displayed size
        assert np.abs(got - reference).mean() < 4.0, transfer  # colours and contrast of the original
        # What OpenCV alone hands over: the HDR signal in 8 bits, contrast squeezed.
        plain = VideoReader(copy, 5.0, info=info.__class__(**{**info.__dict__, "color_transfer": ""}))
        squeezed = np.array([f.image for f in plain], dtype=float)
        assert np.abs(squeezed - reference).mean() > 2 * np.abs(got - reference).mean()


RECORDED = "2026-06-01T11:22:03-0700"  # as an iPhone writes com.apple.quicktime.creationdate


@pytest.fixture(scope="module")
def hlg_portrait(tmp_path_factory) -> Path:
    """A portrait HLG .mov with audio, recorded at RECORDED: upright content (red top, blue bottom),
    a player (green block) from 2 s to 4 s."""
    from conftest import upright_marker_frames

    folder = tmp_path_factory.mktemp("hlg")
    rng = np.random.default_rng(7)
    noisy = (
        np.clip(f + rng.normal(0, 4, f.shape), 0, 255).astype(np.uint8)  # a camera's sensor noise
        for f in upright_marker_frames(180, 320, 30.0, 6.0, (2.0, 4.0))
    )
    sdr = encode(noisy, folder / "upright.mp4", 180, 320, 30.0, audio=False, preset="veryfast")
    return make_hdr_copy(
        sdr,
        folder / "IMG_0042.MOV",
        extra=(
            "-metadata",
            "creation_time=2026-06-01T18:22:03.000000Z",
            "-metadata",
            f"com.apple.quicktime.creationdate={RECORDED}",
            "-movflags",
            "use_metadata_tags",
        ),
    )


def listing(path: Path) -> str:
    import subprocess

    from dunkwatch.media import ffmpeg_exe

    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr


def first_frame_sdr(path: Path) -> np.ndarray:
    return next(iter(VideoReader(path, 1.0))).image


def is_upright(image: np.ndarray) -> bool:
    h = image.shape[0]
    top, bottom = image[: h // 10].mean(axis=(0, 1)), image[-h // 10 :].mean(axis=(0, 1))
    return top[0] > 150 and top[2] < 100 and bottom[2] > 150 and bottom[0] < 100


@pytest.mark.parametrize("mode", ["keep", "sdr"])
def test_hdr_clips_stay_hdr_or_become_bt709_upright_with_audio_and_dated_when_filmed(hlg_portrait, tmp_path, mode):
    from dunkwatch.pipeline.process import process_video
    from dunkwatch.pipeline.scoring.scorer_choice import motion_scorer

    cfg = shapes_config({"export": {"hdr": mode, "timeline": False}}, tmp_path)
    result = process_video(hlg_portrait, cfg.pipeline, motion_scorer(cfg.pipeline, None), tmp_path / "outbox")
    sidecar = result.sidecar
    (segment,) = sidecar.segments
    assert segment.start == pytest.approx(2.0, abs=0.3)
    assert sidecar.recorded_at == "2026-06-01T11:22:03.000-07:00"
    assert segment.recorded_start is not None
    assert segment.recorded_start.startswith("2026-06-01T11:22:0") and segment.recorded_start.endswith("-07:00")
    clip = result.out_dir / sidecar.clips[0]
    assert sidecar.highlights is not None
    reel = result.out_dir / sidecar.highlights
    for video in (clip, reel):
        info = probe(video)
        assert info.has_audio and (info.width, info.height) == (180, 320), video.name
        if mode == "keep":
            assert (info.video_codec, info.pix_fmt, info.color_transfer, info.color_primaries) == (
                "hevc",
                "yuv420p10le",
                "arib-std-b67",
                "bt2020",
            ), video.name
            assert "hvc1" in listing(video)
        else:
            assert (info.video_codec, info.pix_fmt, info.color_transfer) == ("h264", "yuv420p", "bt709"), video.name
        assert is_upright(first_frame_sdr(video)), video.name
    # Dated at the moment the clip's first frame was filmed: recording start plus its offset.
    text = listing(clip)
    offset = int(segment.clip_start)
    assert f"com.apple.quicktime.creationdate: 2026-06-01T11:22:0{3 + offset}-0700" in text
    assert f"creation_time   : 2026-06-01T18:22:0{3 + offset}." in text
    assert "content.identifier" not in text


def test_live_photo_movies_and_accidental_taps_are_archived_without_clips(workdir, config_file, caplog):
    import logging

    from conftest import run_ffmpeg

    from dunkwatch.config import load
    from dunkwatch.service.daemon import Daemon
    from dunkwatch.store import Store

    inbox = workdir / "inbox"
    scene = Scene(duration=2.5, fps=10, seed=4, visits=[Visit(0.5, 2.0, 0.3, 0.6)])
    plain = encode(
        scene.frames(), workdir / "plain.mp4", scene.width, scene.height, scene.fps, audio=True, preset="veryfast"
    )
    # An iPhone's Live Photo movie: about 2.5 s, HEVC in .mov, with the still's content identifier.
    run_ffmpeg(
        "-i",
        str(plain),
        "-c:v",
        "libx265",
        "-x265-params",
        "log-level=error",
        "-tag:v",
        "hvc1",
        "-c:a",
        "copy",
        "-metadata",
        "com.apple.quicktime.content.identifier=6F1A2B3C-0000-4D5E-8F90-ABCDEF012345",
        "-movflags",
        "use_metadata_tags",
        str(inbox / "IMG_0100.MOV"),
    )
    run_ffmpeg("-i", str(plain), "-t", "0.6", "-c", "copy", str(inbox / "IMG_0101.MOV"))  # a tap, 0.6 s
    (inbox / "IMG_0102.MOV").write_bytes(plain.read_bytes())  # the same 2.5 s, no identifier: processed
    cfg = load(
        config_file(
            score={"scorer": "motion"},
            watch={"stable_seconds": 0.2},
            export={"timeline": False, "highlight_reel": False},
        )
    )
    with caplog.at_level(logging.INFO):
        assert Daemon(cfg, once=True).run() == 0
    rows = {v.name: v for v in Store(cfg.paths.state_dir).all()}
    assert {name: row.state for name, row in rows.items()} == {
        "IMG_0100.MOV": "done",
        "IMG_0101.MOV": "done",
        "IMG_0102.MOV": "done",
    }
    live, short, kept = (rows[name].outputs for name in ("IMG_0100.MOV", "IMG_0101.MOV", "IMG_0102.MOV"))
    assert live is not None and live.skipped is not None and "Live Photo" in live.skipped
    assert short is not None and short.skipped is not None and "watch.min_duration" in short.skipped
    assert kept is not None and kept.skipped is None
    for name in rows:
        assert (workdir / "archive" / name).is_file()  # every original kept
    assert sorted(p.name for p in (workdir / "outbox").iterdir() if p.is_dir() and p.name != "sessions") == ["IMG_0102"]
    skipped = [r.getMessage() for r in caplog.records if "skipped, archived without clips" in r.getMessage()]
    assert len(skipped) == 2, skipped  # one line each


def test_a_120_fps_slow_motion_video_with_a_variable_frame_rate_keeps_real_time(tmp_path):
    from conftest import variable_rate_copy

    from dunkwatch.pipeline.process import process_video
    from dunkwatch.pipeline.scoring.scorer_choice import motion_scorer

    scene = Scene(duration=8, fps=120, seed=9, visits=[Visit(3.0, 5.0, 0.3, 0.6)])
    cfr = encode(
        scene.frames(), tmp_path / "cfr.mp4", scene.width, scene.height, scene.fps, audio=True, preset="ultrafast"
    )
    # As an iPhone's slow motion: 120 fps with gaps (variable frame rate), timestamps kept as they are.
    slomo = tmp_path / "IMG_0120.MOV"
    variable_rate_copy(
        cfr, slomo, 97, (40, 52), "-c:v", "libx265", "-x265-params", "log-level=error", "-tag:v", "hvc1", "-c:a", "copy"
    )
    info = probe(slomo)
    assert info.fps > 100  # (the container's duration follows the audio's last packet: not checked)
    frames = list(VideoReader(slomo, 5.0, info=info))
    times = np.array([f.time for f in frames])
    # Real time, not slowed down: 5 samples a second over 8 s (a sample after a gap comes late).
    assert times[-1] == pytest.approx(7.8, abs=0.1) and np.all(np.diff(times) > 0) and 36 <= len(times) <= 40
    cfg = shapes_config({"export": {"timeline": False, "highlight_reel": False}}, tmp_path)
    result = process_video(slomo, cfg.pipeline, motion_scorer(cfg.pipeline, None), tmp_path / "outbox")
    (segment,) = result.sidecar.segments
    assert segment.start == pytest.approx(3.0, abs=0.3) and segment.end == pytest.approx(5.0, abs=0.3)
    clip = probe(result.out_dir / result.sidecar.clips[0])
    assert clip.duration == pytest.approx(segment.clip_end - segment.clip_start, abs=0.2) and clip.has_audio
