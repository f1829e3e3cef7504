"""Parsing ffmpeg's stream listing is pure: canned text, no file."""

from pathlib import Path

import pytest

from dunkwatch.errors import VideoError
from dunkwatch.media import parse_ffmpeg_listing

IPHONE = """Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'IMG_0001.MOV':
  Duration: 00:01:02.50, start: 0.000000, bitrate: 8000 kb/s
  Stream #0:0[0x1](und): Video: hevc (Main) (hvc1 / 0x31637668), yuv420p(tv, bt709), 1920x1080, 7800 kb/s, 29.98 fps, 30 tbr, 600 tbn (default)
      Metadata:
        handler_name    : Core Media Video
      Side data:
        displaymatrix: rotation of -90.00 degrees
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, stereo, fltp, 160 kb/s (default)
"""


def test_iphone_portrait_listing():
    info = parse_ffmpeg_listing(Path("IMG_0001.MOV"), IPHONE)
    assert (info.width, info.height, info.rotation) == (1080, 1920, 90)
    assert info.duration == pytest.approx(62.5)
    assert info.video_codec == "hevc" and info.audio_codec == "aac" and info.has_audio
    assert info.fps == pytest.approx(29.98)


def test_old_rotate_tag_and_no_audio():
    text = IPHONE.replace("displaymatrix: rotation of -90.00 degrees", "").replace(
        "handler_name    : Core Media Video", "rotate          : 180").split("  Stream #0:1")[0]
    info = parse_ffmpeg_listing(Path("a.mov"), text)
    assert info.rotation == 180 and (info.width, info.height) == (1920, 1080)
    assert not info.has_audio


def test_audio_rotation_does_not_leak_into_video():
    text = IPHONE.replace("displaymatrix: rotation of -90.00 degrees", "")
    assert parse_ffmpeg_listing(Path("a.mov"), text).rotation == 0


def test_no_video_stream_names_the_file():
    text = "Input #0, wav, from 'x.mov':\n  Duration: 00:00:01.00\n  Stream #0:0: Audio: pcm_s16le, 44100 Hz\n"
    with pytest.raises(VideoError, match=r"x\.mov: not a readable video \(no video stream\)"):
        parse_ffmpeg_listing(Path("x.mov"), text)


def test_garbage_names_the_file():
    with pytest.raises(VideoError, match="notes.mov: not a readable video"):
        parse_ffmpeg_listing(Path("notes.mov"), "notes.mov: Invalid data found when processing input\n")


def test_a_probe_that_times_out_is_an_unreadable_file_not_a_crash(tmp_path, monkeypatch):
    import subprocess

    from dunkwatch import media
    from dunkwatch.errors import UnreadableError

    def hangs(*args, **kwargs):
        raise subprocess.TimeoutExpired(args[0], kwargs.get("timeout"))

    monkeypatch.setattr(media.subprocess, "run", hangs)  # as on a hung network mount
    path = tmp_path / "slow.mp4"
    path.write_bytes(b"x" * 100)
    with pytest.raises(UnreadableError, match="could not read its header in 120 s"):
        media.probe(path)


IPHONE_HDR_LIVE_PHOTO = """Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'IMG_0002.MOV':
  Metadata:
    major_brand     : qt
    creation_time   : 2026-06-01T18:22:03.000000Z
    com.apple.quicktime.make: Apple
    com.apple.quicktime.creationdate: 2026-06-01T11:22:03-0700
    com.apple.quicktime.content.identifier: 6F1A2B3C-0000-4D5E-8F90-ABCDEF012345
  Duration: 00:00:02.87, start: 0.000000, bitrate: 8510 kb/s
  Stream #0:0[0x1](und): Video: hevc (Main 10) (hvc1 / 0x31637668), yuv420p10le(tv, bt2020nc/bt2020/arib-std-b67), 1920x1080, 8124 kb/s, 30 fps, 30 tbr, 600 tbn (default)
      Metadata:
        creation_time   : 2026-06-01T18:22:03.000000Z
      Side data:
        DOVI configuration record: version: 1.0, profile: 8, level: 4, rpu flag: 1, el flag: 0, bl flag: 1, compatibility id: 4
        displaymatrix: rotation of -90.00 degrees
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, stereo, fltp, 160 kb/s (default)
"""


def test_iphone_hdr_listing_colours_recording_time_live_photo_and_dolby_vision():
    info = parse_ffmpeg_listing(Path("IMG_0002.MOV"), IPHONE_HDR_LIVE_PHOTO)
    assert (info.pix_fmt, info.color_matrix, info.color_primaries, info.color_transfer) == (
        "yuv420p10le", "bt2020nc", "bt2020", "arib-std-b67")
    assert info.hdr and info.dolby_vision and info.live_photo
    assert info.recorded_at == "2026-06-01T11:22:03-0700"  # Apple's own key, with the local offset, wins
    assert (info.width, info.height, info.rotation) == (1080, 1920, 90)


def test_sdr_listing_has_one_colour_name_and_no_hdr():
    info = parse_ffmpeg_listing(Path("IMG_0001.MOV"), IPHONE)
    assert (info.pix_fmt, info.color_matrix, info.color_transfer) == ("yuv420p", "bt709", "bt709")
    assert not info.hdr and not info.live_photo and not info.dolby_vision and info.recorded_at is None
    pq = IPHONE.replace("yuv420p(tv, bt709)", "yuv420p10le(tv, bt2020nc/bt2020/smpte2084, progressive)")
    assert parse_ffmpeg_listing(Path("a.mov"), pq).hdr
    plain = IPHONE.replace("yuv420p(tv, bt709)", "yuv420p(progressive)")
    assert parse_ffmpeg_listing(Path("a.mov"), plain).color_transfer == ""
