"""Probing real files through PyAV: what an iPhone writes (portrait HEVC with a display matrix, HLG
and PQ, slow motion with a variable frame rate, a Live Photo's movie), and what is not a video."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest
from conftest import Scene, Visit, encode, make_hdr_copy, make_portrait_mov, run_ffmpeg, variable_rate_copy

from dunkwatch import media
from dunkwatch.errors import UnreadableError, VideoError
from dunkwatch.media import probe, probe_apart


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("probe")


def test_a_portrait_hevc_mov_with_a_display_matrix(files):
    info = probe(make_portrait_mov(files / "IMG_0001.MOV"))
    assert (info.width, info.height, info.rotation) == (180, 320, 90)
    assert info.video_codec == "hevc" and info.audio_codec == "aac" and info.has_audio
    assert info.duration == pytest.approx(6.0, abs=0.05) and info.fps == pytest.approx(30.0)
    assert (info.pix_fmt, info.color_transfer) == ("yuv420p", "") and not info.hdr and not info.dolby_vision
    assert probe_apart(files / "IMG_0001.MOV") == info  # the service's probe, in a process of its own


@pytest.mark.parametrize("transfer, rotation", [("arib-std-b67", 90), ("smpte2084", 270)])
def test_hlg_and_pq_with_their_colour_tags(files, transfer, rotation):
    source = make_portrait_mov(files / f"src-{transfer}.mov")
    info = probe(make_hdr_copy(source, files / f"IMG_{transfer}.MOV", transfer=transfer, rotation=rotation))
    assert (info.pix_fmt, info.color_matrix, info.color_primaries, info.color_transfer) == (
        "yuv420p10le",
        "bt2020nc",
        "bt2020",
        transfer,
    )
    assert info.hdr and info.rotation == rotation


def test_a_120_fps_slow_motion_file_with_a_variable_frame_rate(files):
    scene = Scene(duration=3, fps=120, seed=9, visits=[Visit(1.0, 2.0, 0.3, 0.6)])
    cfr = encode(
        scene.frames(), files / "cfr120.mp4", scene.width, scene.height, scene.fps, audio=False, preset="ultrafast"
    )
    vfr = files / "IMG_0120.MOV"
    variable_rate_copy(cfr, vfr, 97, (40, 52), "-c:v", "libx264", "-preset", "ultrafast")
    info = probe(vfr)
    assert info.fps > 100 and info.duration == pytest.approx(3.0, abs=0.1) and not info.has_audio


def test_a_live_photo_movie_says_so_and_when_it_was_filmed(files):
    source = make_portrait_mov(files / "src-live.mov", duration=2.0)
    live = files / "IMG_0002.MOV"
    run_ffmpeg(
        "-i",
        str(source),
        "-c",
        "copy",
        "-map_metadata",
        "-1",
        "-metadata",
        "com.apple.quicktime.content.identifier=5F1A7C1E-0C1B-4D6B-9E0A-1D2C3B4A5F60",
        "-metadata",
        "com.apple.quicktime.creationdate=2026-06-01T11:22:03-0700",
        "-metadata",
        "creation_time=2026-06-01T18:22:03.000000Z",
        "-movflags",
        "use_metadata_tags",
        str(live),
    )
    info = probe(live)
    assert info.live_photo and info.recorded_at == "2026-06-01T11:22:03-0700"  # Apple's own key, with its offset


def test_what_is_not_a_video_is_named_and_typed(files):
    audio_only = files / "voice.m4a.mov"
    run_ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", str(audio_only))
    with pytest.raises(VideoError, match=r"voice\.m4a\.mov: not a readable video \(no video stream\)"):
        probe(audio_only)
    notes = files / "notes.mov"
    notes.write_text("shopping list\n" * 50)
    with pytest.raises(UnreadableError, match=r"notes\.mov: not a readable video"):
        probe_apart(notes)
    noise = files / "noise.m4v"
    noise.write_bytes(random.Random(7).randbytes(200_000))  # a demuxer guesses an MPEG-4 stream of no size in it
    with pytest.raises(UnreadableError, match=r"noise\.m4v: not a readable video"):
        probe(noise)
    empty = files / "empty.mov"
    empty.write_bytes(b"")
    with pytest.raises(UnreadableError, match="the file is empty"):
        probe(empty)


def test_a_truncated_file_whose_header_went_with_its_end_is_named_unreadable(files):
    whole = make_portrait_mov(files / "whole.mov")
    data = whole.read_bytes()
    cut = files / "cut.mov"
    cut.write_bytes(data[: len(data) // 2])  # moov at the end: the header is gone with the second half
    with pytest.raises(UnreadableError, match=r"cut\.mov: not a readable video"):
        probe_apart(cut)


def test_a_probe_that_hangs_is_an_unreadable_file_not_a_stuck_service(tmp_path, monkeypatch):
    def hangs(*args, **kwargs):
        raise subprocess.TimeoutExpired(args[0], kwargs["timeout"])

    monkeypatch.setattr(media.subprocess, "run", hangs)  # as on a hung network mount
    path = tmp_path / "slow.mp4"
    path.write_bytes(b"x" * 100)
    with pytest.raises(UnreadableError, match="could not be read in 120 s"):
        probe_apart(path)


def test_a_reader_that_dies_costs_only_its_process(tmp_path, monkeypatch):
    died = subprocess.CompletedProcess([], -11, stdout="", stderr="Segmentation fault")
    monkeypatch.setattr(media.subprocess, "run", lambda *a, **k: died)  # a demuxer crashed on a crafted file
    path = tmp_path / "crafted.mp4"
    path.write_bytes(b"x" * 100)
    with pytest.raises(UnreadableError, match="stopped the reader, which died of SIGSEGV"):
        probe_apart(path)
