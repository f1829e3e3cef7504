"""VideoReader on files the tests make: rotation, container timestamps, sampling, bad files."""

import cv2
import numpy as np
import pytest
from conftest import encode, run_ffmpeg, upright_marker_frames

from dunkwatch.errors import VideoError
from dunkwatch.media import probe
from dunkwatch.pipeline.scoring.decode import VideoReader, ffmpeg_frames


def is_upright(image: np.ndarray) -> bool:
    top, bottom = image[: image.shape[0] // 10].mean(axis=(0, 1)), image[-image.shape[0] // 10 :].mean(axis=(0, 1))
    return top[0] > 150 and top[2] < 100 and bottom[2] > 150 and bottom[0] < 100


def test_portrait_hevc_mov_frames_come_out_upright(portrait_mov):
    reader = VideoReader(portrait_mov, sample_fps=2)
    assert reader.info.rotation == 90
    assert (reader.info.width, reader.info.height) == (180, 320)
    assert reader.info.video_codec == "hevc" and reader.info.audio_codec == "aac"
    frames = list(reader)
    assert frames, "no frames"
    for f in frames:
        assert f.image.shape == (320, 180, 3)
        assert f.image.dtype == np.uint8
        assert is_upright(f.image)


def test_h264_mp4_is_read(tmp_path):
    path = encode(upright_marker_frames(160, 96, 25, 2), tmp_path / "a.mp4", 160, 96, 25, audio=False)
    frames = list(VideoReader(path, sample_fps=25))
    assert len(frames) == 50
    assert is_upright(frames[0].image)


def test_sampling_rate_and_times(tmp_path):
    path = encode(upright_marker_frames(64, 64, 30, 3), tmp_path / "s.mp4", 64, 64, 30, audio=False)
    times = [f.time for f in VideoReader(path, sample_fps=5)]
    assert len(times) == 15
    assert np.allclose(np.diff(times), 0.2, atol=0.02)


def test_times_come_from_the_container_for_variable_frame_rate(tmp_path):
    src = encode(upright_marker_frames(64, 64, 30, 4), tmp_path / "cfr.mp4", 64, 64, 30, audio=False)
    vfr = tmp_path / "vfr.mp4"
    # The second half plays at half speed: 120 frames over 6 s, not 120 / 30 = 4 s.
    run_ffmpeg(
        "-i",
        str(src),
        "-vf",
        "setpts='if(lt(T,2),PTS,2/TB+(PTS-2/TB)*2)'",
        "-fps_mode",
        "vfr",
        "-c:v",
        "libx264",
        str(vfr),
    )
    times = [f.time for f in VideoReader(vfr, sample_fps=30)]
    assert len(times) == 120
    assert times[-1] == pytest.approx(5.93, abs=0.05)
    assert np.diff(times)[-10:] == pytest.approx([1 / 15] * 10, abs=0.005)


def open_position(path) -> int:
    """How far this process has read the file, as the kernel says (/proc/self/fdinfo); -1 when not open."""
    import os

    positions = [-1]
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                info = dict(line.split(":", 1) for line in open(f"/proc/self/fdinfo/{fd}").read().splitlines())
                positions.append(int(info["pos"]))
        except OSError:
            continue
    return max(positions)


def test_reader_streams_lazily(tmp_path):
    # Ten seconds of noise: megabytes that a reader decoding everything first would read to the end.
    rng = np.random.default_rng(0)
    frames = (rng.integers(0, 256, (240, 320, 3), dtype=np.uint8) for _ in range(300))
    path = encode(frames, tmp_path / "l.mp4", 320, 240, 30, audio=False, preset="ultrafast")
    it = VideoReader(path, sample_fps=30).frames()
    first = next(it)
    assert first.time == 0.0
    read = open_position(path)
    assert 0 <= read < path.stat().st_size / 4, (read, path.stat().st_size)
    it.close()  # releasing mid-way must not raise


def test_max_side_shrinks_frames(portrait_mov):
    f = next(iter(VideoReader(portrait_mov, sample_fps=1, max_side=64)))
    assert max(f.image.shape[:2]) == 64 and f.image.shape[0] > f.image.shape[1]


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "empty"),
        (b"this is my shopping list, not a video\n" * 20, "not a readable video"),
    ],
)
def test_bad_files_raise_one_line_naming_the_file(tmp_path, content, reason):
    bad = tmp_path / "fake.mov"
    bad.write_bytes(content)
    with pytest.raises(VideoError) as err:
        list(VideoReader(bad, sample_fps=5))
    assert str(bad) in str(err.value) and reason in str(err.value) and "\n" not in str(err.value)


def test_audio_only_file_has_no_video_stream(tmp_path):
    audio = tmp_path / "voice.mov"
    run_ffmpeg("-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac", str(audio))
    with pytest.raises(VideoError, match="no video stream"):
        VideoReader(audio, sample_fps=5)


def test_a_truncated_video_is_reported_not_half_processed(tmp_path):
    whole = encode(upright_marker_frames(96, 64, 30, 20), tmp_path / "whole.mp4", 96, 64, 30, audio=False)
    faststart = tmp_path / "faststart.mp4"
    run_ffmpeg("-i", str(whole), "-c", "copy", "-movflags", "+faststart", str(faststart))
    cut = tmp_path / "half-synced.mp4"
    cut.write_bytes(faststart.read_bytes()[: faststart.stat().st_size // 2])
    with pytest.raises(VideoError, match=r"half-synced.mp4: truncated or damaged: frames stop at \d"):
        list(VideoReader(cut, sample_fps=5))
    assert len(list(VideoReader(faststart, sample_fps=5))) == 100


def test_the_ffmpeg_command_and_pyav_give_the_same_times_and_pictures(portrait_mov, tmp_path):
    # The ffmpeg command reads HDR only; on SDR it must agree with PyAV, so HDR videos are sampled alike.
    for path in (
        portrait_mov,
        encode(upright_marker_frames(160, 96, 30, 3), tmp_path / "b.mp4", 160, 96, 30, audio=False),
    ):
        info = probe(path)
        ours = list(ffmpeg_frames(path, info, 64, 5.0, VideoReader(path, 5.0, info=info)._tolerance()))
        theirs = list(VideoReader(path, sample_fps=5, max_side=64, info=info))
        # PyAV may skip frames nothing refers to: a sample then takes a frame within half an interval.
        assert len(ours) == len(theirs) and np.all(np.abs([t - f.time for (t, _), f in zip(ours, theirs)]) <= 0.1)
        for (_, fetch), b in zip(ours, theirs):
            a = fetch()
            assert a.shape == b.image.shape and is_upright(a) == is_upright(b.image)
            # Both shrink by area, in a different order to turning; an edge may land a pixel apart.
            blurred = [cv2.blur(x, (5, 5)).astype(int) for x in (a, b.image)]
            assert np.abs(blurred[0] - blurred[1]).mean() < 3.0


def test_reading_from_a_later_start_keeps_the_sampling_grid_of_that_start(tmp_path):
    path = encode(upright_marker_frames(64, 64, 30, 4), tmp_path / "g.mp4", 64, 64, 30, audio=False)
    # Training seeks like this, sampling at 4x its rate: 20 of the 30 frames a second, none skipped.
    reader = VideoReader(path, sample_fps=20, start=1.1)
    grid = [round(1.1 + k / 20, 3) for k in range(3)]
    times = [round(f.time, 3) for f in reader]
    assert len(times) == 58 and np.all(np.abs(np.array(times[:3]) - grid) <= 1 / 30 + 1e-3), times
    ffmpeg = [round(t, 3) for t, _ in ffmpeg_frames(path, reader.info, None, 20.0, reader._tolerance(), 1.1)]
    assert ffmpeg == times  # the ffmpeg command, which reads HDR, keeps the same grid
