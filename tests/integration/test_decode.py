"""VideoReader on files the tests make: rotation, container timestamps, sampling, bad files."""

import cv2
import numpy as np
import pytest
from conftest import REAL_NAME, SHARED_REAL, encode, run_ffmpeg, upright_marker_frames

from dunkwatch.errors import VideoError
from dunkwatch.media import probe
from dunkwatch.pipeline.scoring.decode import VideoReader, ffmpeg_frames
from dunkwatch.pipeline.scoring.pyav_decoder import _reference_frames_suffice, unreferenced_may_go


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


class RecordingTap:
    """A GreyTap that keeps the times it was fed; raises on the frame at `fail_at` seconds."""

    side = 64
    fps = 28.0

    def __init__(self, fail_at: float | None = None):
        self.times: list[float] = []
        self.fail_at = fail_at

    def feed(self, time: float, grey: np.ndarray) -> None:
        if self.fail_at is not None and time >= self.fail_at:
            raise RuntimeError(f"tap failed at {time:.2f} s")
        assert grey.ndim == 2 and max(grey.shape) == self.side
        self.times.append(time)


def test_the_tap_sees_every_frame_in_order_before_the_reader_ends(tmp_path):
    """The tap runs in a thread of its own; still, every frame reaches it, in order, by the time
    the last sampled frame is handed on."""
    path = encode(upright_marker_frames(160, 96, 25, 3), tmp_path / "t.mp4", 160, 96, 25, audio=False)
    tap = RecordingTap()
    frames = list(VideoReader(path, sample_fps=5, tap=tap))
    assert len(frames) == 15
    assert tap.times == sorted(tap.times) and len(tap.times) == 75
    assert tap.times[-1] == pytest.approx(frames[-1].time + 4 / 25)


def test_an_error_in_the_tap_reaches_whoever_reads_the_frames(tmp_path):
    path = encode(upright_marker_frames(160, 96, 25, 3), tmp_path / "e.mp4", 160, 96, 25, audio=False)
    with pytest.raises(RuntimeError, match="tap failed at 1.00 s"):
        list(VideoReader(path, sample_fps=5, tap=RecordingTap(fail_at=1.0)))


def test_closing_the_reader_early_stops_the_tap(tmp_path):
    path = encode(upright_marker_frames(160, 96, 25, 3), tmp_path / "c.mp4", 160, 96, 25, audio=False)
    tap = RecordingTap()
    frames = VideoReader(path, sample_fps=5, tap=tap).frames()
    next(frames)
    frames.close()
    seen = len(tap.times)
    assert seen < 75
    assert len(tap.times) == seen  # nothing fed after the close


def _decoded_with_skip(path) -> set[int]:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONREF"
        return {frame.pts for frame in container.decode(stream) if frame.pts is not None}


def _predicted(path) -> set[int]:
    import av

    from dunkwatch.nal_bits import length_size, unreferenced

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        length = length_size(codec, bytes(stream.codec_context.extradata or b""))
        return {
            p.pts
            for p in container.demux(stream)
            if p.pts is not None and p.size and not unreferenced(bytes(p), codec, length)
        }


@pytest.mark.parametrize(
    "codec, params",
    [
        ("libx264", ["-bf", "3", "-x264-params", "b-pyramid=normal"]),  # some B pictures are references
        ("libx264", ["-bf", "3", "-x264-params", "b-pyramid=none"]),  # no B picture is
        ("libx264", ["-bf", "0"]),  # nothing to skip
        ("libx265", ["-x265-params", "bframes=4:b-pyramid=1:log-level=error", "-tag:v", "hvc1"]),
    ],
)
def test_nal_headers_name_the_pictures_the_decoder_skips(tmp_path, codec, params):
    """The reader decides whether to skip pictures nothing refers to from the NAL headers alone;
    those must be exactly the pictures FFmpeg's skip_frame NONREF leaves out."""
    path = tmp_path / "v.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", "3", "-c:v", codec, *params, str(path))
    kept = _decoded_with_skip(path)
    assert _predicted(path) == kept
    assert len(kept) < 90 or params == ["-bf", "0"]


def test_nal_headers_agree_with_the_decoder_on_the_phone_and_the_real_footage(portrait_mov):
    for path in (portrait_mov, SHARED_REAL / REAL_NAME):
        assert _predicted(path) == _decoded_with_skip(path), path


def test_skipping_is_chosen_only_where_the_pictures_left_come_often_enough(tmp_path):
    path = tmp_path / "p.mp4"
    run_ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", "5",
        "-c:v", "libx264", "-bf", "3", "-x264-params", "b-pyramid=none", str(path),
    )  # fmt: skip
    # Of each four pictures, three are unreferenced B pictures: those left come every 4/30 s.
    assert _reference_frames_suffice(path, 4.5 / 30)
    assert not _reference_frames_suffice(path, 3.5 / 30)


def test_a_video_stored_as_rgb_gives_the_tap_its_grey_frames_too(tmp_path):
    """Not every file is YUV (screen recordings, lossless exports): the tap's grey copy is then
    converted by swscale in the tap's thread, beside the reader converting the same frames."""
    path = tmp_path / "rgb.mkv"
    run_ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=160x96:rate=25", "-t", "2", "-c:v", "ffv1", "-pix_fmt", "bgr0", str(path)
    )
    tap = RecordingTap()
    frames = list(VideoReader(path, sample_fps=25, tap=tap))
    assert len(frames) == 50 and len(tap.times) == 50


def test_the_ffmpeg_command_skips_the_same_pictures_as_pyav(portrait_mov):
    """HDR goes through the ffmpeg command, which skips unreferenced pictures too (an iPhone's
    HLG is HEVC with B-frames): both readers then take the very same frames."""
    info = probe(portrait_mov)
    assert unreferenced_may_go(portrait_mov, info, 5.0, grey=False)
    ours = [
        t for t, _ in ffmpeg_frames(portrait_mov, info, 64, 5.0, VideoReader(portrait_mov, 5.0)._tolerance(), 0.0, True)
    ]
    theirs = [f.time for f in VideoReader(portrait_mov, sample_fps=5, max_side=64, info=info)]
    assert ours == pytest.approx(theirs, abs=1e-6)
    every = [t for t, _ in ffmpeg_frames(portrait_mov, info, 64, 0.0, 1e-6, 0.0, True)]
    assert len(every) < info.fps * info.duration * 0.9  # pictures were left undecoded


def test_the_decoder_has_two_frame_threads_per_core():
    from dunkwatch.pipeline.scoring import pyav_decoder

    for cores, threads in (({0}, 1), ({0, 1}, 4), (set(range(6)), 12), (set(range(32)), 16)):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(pyav_decoder.os, "sched_getaffinity", lambda _pid, cores=cores: cores)
            assert pyav_decoder.decoder_threads() == threads


def _tasks() -> int:
    import os

    return len(os.listdir("/proc/self/task"))


def _sampled(path, monkeypatch, threads: int) -> tuple[list[np.ndarray], list[np.ndarray], int]:
    """The RGB and grey pictures pyav_frames gives with `threads` frame threads, and how many more
    threads the process had while it decoded."""
    from dunkwatch.pipeline.scoring import pyav_decoder

    monkeypatch.setattr(pyav_decoder, "decoder_threads", lambda: threads)
    before = _tasks()
    rgb: list[np.ndarray] = []
    grey: list[np.ndarray] = []
    during = 0
    for k, decoded in enumerate(pyav_decoder.pyav_frames(path, probe(path), 240, 5.0, grey_side=160)):
        during = max(during, _tasks())
        assert len(decoded) == 3  # with grey_side: (time, fetch, fetch_grey)
        if k % 3 == 0:
            picture = decoded[1]()
            assert picture is not None
            rgb.append(picture)
            grey.append(decoded[2]())
    return rgb, grey, during - before


def test_frame_threads_change_no_picture(tmp_path, monkeypatch):
    """More frame threads than FFmpeg's own choice decode faster on two cores (a frame thread
    waiting on the frame it refers to leaves its core to another); the pictures are the same."""
    path = tmp_path / "b.mp4"
    run_ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=480x270:rate=30", "-t", "3", "-c:v", "libx264",
        "-bf", "3", "-x264-params", "b-pyramid=normal", str(path),
    )  # fmt: skip
    one_rgb, one_grey, one_extra = _sampled(path, monkeypatch, 1)
    six_rgb, six_grey, six_extra = _sampled(path, monkeypatch, 6)
    assert six_extra - one_extra >= 5  # the six threads ran
    assert len(one_rgb) == len(six_rgb) >= 10
    assert all(np.array_equal(a, b) for a, b in zip(one_rgb, six_rgb))
    assert all(np.array_equal(a, b) for a, b in zip(one_grey, six_grey))
