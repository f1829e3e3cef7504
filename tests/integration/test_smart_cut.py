"""Smart cuts (issue 24): the clip starts on the action's cut-in frame and ends on its last, the
frames between the first copied keyframe and the re-encoded tail are the source's own bytes, the
result decodes without a single error, and it keeps what the phone wrote (rotation, colour tags,
recording time, hvc1). H.264 with B-frames, and 10-bit HLG HEVC with open GOPs. A source that
cannot be smart-cut is re-encoded whole, with a reason."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path
from typing import TypeVar

import av
import numpy as np
import pytest
from conftest import SHAPES_TOML, Scene, Visit, run_ffmpeg
from test_review_page import video_packets as packets

from dunkwatch.config import from_dict
from dunkwatch.media import ffmpeg_exe, probe
from dunkwatch.pipeline.cutting.bitstream.avc_sets import AvcConfig, sps_fields
from dunkwatch.pipeline.cutting.bitstream.hevc_sets import PPS, SPS, VPS, HvcConfig
from dunkwatch.pipeline.cutting.cut_plan import index_packets, plan_cut
from dunkwatch.pipeline.cutting.export import cut_clip, write_clips
from dunkwatch.pipeline.scoring.segment import Segment

T = TypeVar("T")

START, END = 2.5, 7.4  # not on a keyframe (every 1 s), nor where a copy can end (x264 B-frame groups)
RECORDED = "2026-11-28T18:04:05.000000Z"


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """12 s of a moving test pattern, 30 fps H.264 with B-frames and a keyframe every second, AAC
    audio, turned 90 degrees by its display matrix, BT.709 tags and a recording time: an iPhone's
    "Most Compatible" video in small."""
    folder = tmp_path_factory.mktemp("smart")
    stored = folder / "stored.mp4"
    run_ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x180:r=30:d=12",
        "-f",
        "lavfi",
        "-i",
        "sine=d=12:sample_rate=44100",
        "-c:v",
        "libx264",
        "-preset",
        "medium",
        "-g",
        "30",
        "-pix_fmt",
        "yuv420p",
        "-x264-params",
        "colorprim=bt709:transfer=bt709:colormatrix=bt709",
        "-color_primaries",
        "bt709",
        "-color_trc",
        "bt709",
        "-colorspace",
        "bt709",
        "-c:a",
        "aac",
        "-metadata",
        f"creation_time={RECORDED}",
        str(stored),
    )
    path = folder / "IMG_0300.MP4"
    run_ffmpeg("-display_rotation", "-90", "-i", str(stored), "-c", "copy", "-map_metadata", "0", str(path))
    return path


def known(value: T | None) -> T:
    """What PyAV types as optional (pts, dts, time base, duration, extradata), where these files have it."""
    assert value is not None
    return value


def decoded(path: Path) -> list[tuple[float, np.ndarray]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [
            (float(known(f.pts) * known(stream.time_base)), f.to_ndarray(format="rgb24").astype(np.int16))
            for f in container.decode(stream)
        ]


def errors_decoding(path: Path) -> str:
    return subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, text=True
    ).stderr


def smart(tmp_path: Path, **export):
    return from_dict({"export": {"mode": "smart", **export}}, tmp_path).export


def test_the_plan_copies_from_the_first_clean_keyframe_and_ends_where_the_copy_needs_no_later_frame(source):
    index = index_packets(source, probe(source).start)
    plan = plan_cut(index, START, END)
    assert plan.cut_in == pytest.approx(START, abs=1e-3)
    assert index.key[plan.copy_first] and index.times[plan.copy_first] == pytest.approx(3.0, abs=1e-3)
    assert plan.head_frames == 15  # 2.5 s .. 3.0 s at 30 fps
    copied = index.times[plan.copy_first : plan.copy_first + plan.copy_count]
    assert copied.max() < plan.tail_start <= END and plan.tail_frames >= 1
    assert plan.frames == 147 == plan.head_frames + plan.copy_count + plan.tail_frames


def test_a_smart_clip_starts_on_the_cut_in_frame_and_copies_the_rest_bit_for_bit(source, tmp_path):
    info = probe(source)
    index = index_packets(source, info.start)
    plan = plan_cut(index, START, END)
    clip = cut_clip(info, START, END, tmp_path / "clip.mp4", smart(tmp_path), index=index)
    assert errors_decoding(clip) == ""

    ours, theirs = decoded(clip), dict((round(t, 4), img) for t, img in decoded(source))
    assert len(ours) == plan.frames
    at = [theirs[round(t + plan.cut_in, 4)] for t, _ in ours]  # the source's frame at each clip time
    # The first frame is the cut-in frame: re-encoded, so close to it and far from its neighbours.
    first = ours[0][1]
    assert np.abs(first - at[0]).mean() < 2.0
    assert np.abs(first - theirs[round(plan.cut_in + 1 / 30, 4)]).mean() > 4 * np.abs(first - at[0]).mean()
    # Every frame from the first copied keyframe to the tail is the source's, exactly.
    copied = range(plan.head_frames, plan.head_frames + plan.copy_count)
    assert all(np.array_equal(ours[k][1], at[k]) for k in copied)
    assert not np.array_equal(ours[-1][1], at[-1]) and np.abs(ours[-1][1] - at[-1]).mean() < 2.0  # the tail
    # ... and so are the packets: the copy is the source's bitstream.
    source_packets = set(packets(source))
    assert sum(p in source_packets for p in packets(clip)) == plan.copy_count


def test_a_smart_clip_keeps_rotation_colour_tags_recording_time_and_cuts_audio_to_the_frame(source, tmp_path):
    info = probe(source)
    clip = probe(
        cut_clip(info, START, END, tmp_path / "clip.mp4", smart(tmp_path), index=index_packets(source, info.start))
    )
    assert clip.rotation == info.rotation == 90 and (clip.width, clip.height) == (info.width, info.height)
    assert (clip.color_primaries, clip.color_transfer, clip.color_matrix) == ("bt709", "bt709", "bt709")
    assert clip.video_codec == "h264" and clip.pix_fmt == info.pix_fmt
    with av.open(str(clip.path)) as container:
        # Dated at the moment of the cut-in frame, in the file and in each track.
        assert container.metadata["creation_time"].startswith("2026-11-28T18:04:07.5")
        assert container.streams.video[0].metadata["creation_time"].startswith("2026-11-28T18:04:07")  # whole s
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert video.codec_context.codec_tag == "avc1"
        # The source's parameter sets and the re-encoded parts' own, each under its own id.
        config = AvcConfig.parse(bytes(known(video.codec_context.extradata)))
        assert len(config.sps_ids()) == 2 and len(config.pps_ids()) == 2
        # ... both of the source's profile (High) and decoded picture buffer: a decoder meeting the
        # tail's IDR under another DPB drops the copy's frames still to be shown (Annex C.4.4).
        fields = {(f.profile, f.dpb) for f in map(sps_fields, config.sps)}
        assert len(fields) == 1 and next(iter(fields))[0] == 100 and next(iter(fields))[1].reorder > 0
        audio_seconds = float(known(audio.duration) * known(audio.time_base))
    assert audio_seconds == pytest.approx(END - START, abs=1024 / 44100 + 1e-3)  # one AAC frame at most
    assert clip.duration == pytest.approx(END - START, abs=0.05)


@pytest.mark.parametrize("video", ["source", "hevc_hlg"])
def test_a_reel_of_smart_clips_is_joined_by_stream_copy_and_plays_through(video, tmp_path, request):
    info = probe(request.getfixturevalue(video))
    # The last clip lies inside one group of pictures: nothing to copy, all re-encoded as the
    # others' ends are, so its sample description is theirs and the reel is still a stream copy.
    segments = [
        Segment(start=s, end=e, clip_start=s, clip_end=e, peak=1.0) for s, e in ((1.4, 4.6), (6.2, 8.9), (9.1, 9.8))
    ]
    clips, reel = write_clips(info, segments, tmp_path, smart(tmp_path))
    assert len(clips) == 3 and reel is not None
    assert all(errors_decoding(c) == "" for c in clips) and errors_decoding(reel) == ""
    assert len(decoded(clips[2])) == 21
    assert len(decoded(reel)) == sum(len(decoded(c)) for c in clips)
    assert set(packets(reel)) == set().union(*(packets(c) for c in clips))  # a stream copy
    # Every sample lasts a whole frame, the last one too: a squeezed 1-tick sample (a re-encoded
    # end's decode time pushed against the copy's) is dropped by GStreamer's qtdemux, ends the
    # track a frame early, and makes the reel's next clip start on top of it. No sample lasts
    # longer either: the decode-time gap that an open GOP's left-out leading pictures leave made
    # the track's decode times outrun its frames, and qtdemux dropped the clip's last sample.
    for path in clips:
        shown, steps, track = timing(path)
        assert shown == {1 / 30} and steps == pytest.approx((1 / 30, 1 / 30), abs=1e-4), path.name
        assert track == pytest.approx(len(decoded(path)) / 30, abs=1e-4), path.name
    # The reel shows every frame a frame apart: no clip starts on top of the last one's end.
    assert timing(reel)[0] == {1 / 30}


def timing(path: Path) -> tuple[set[float], tuple[float, float], float]:
    """(the steps between shown frames, rounded to 0.1 ms; the shortest and the longest step between
    samples' decode times; the video track's duration), in seconds."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = known(stream.time_base)
        pts = sorted(known(f.pts) for f in container.decode(stream))
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        dts = [known(p.dts) for p in container.demux(stream) if p.size]
        track = float(known(stream.duration) * tb)
    shown = {
        1 / 30 if abs(float((b - a) * tb) - 1 / 30) < 1e-4 else round(float((b - a) * tb), 4)
        for a, b in zip(pts, pts[1:])
    }
    steps = [float((b - a) * tb) for a, b in zip(dts, dts[1:])]
    return shown, (min(steps), max(steps)), track


def test_a_source_that_cannot_be_smart_cut_is_re_encoded_whole_with_one_line_saying_why(source, tmp_path, caplog):
    info = probe(source)
    segments = [Segment(start=s, end=e, clip_start=s, clip_end=e, peak=1.0) for s, e in ((1.4, 4.6), (6.2, 9.9))]
    with caplog.at_level(logging.INFO, logger="dunkwatch.pipeline.cutting.export"):
        clips, _ = write_clips(info, segments, tmp_path, smart(tmp_path, slow_motion=2.0))
    said = [r.getMessage() for r in caplog.records if "not smart-cut" in r.getMessage()]
    assert said == ["IMG_0300.MP4: clips re-encoded, not smart-cut: slow motion re-times every frame"]
    assert probe(clips[0]).duration == pytest.approx(2 * 3.2, abs=0.1)
    assert not set(packets(clips[0])) & set(packets(source))


@pytest.fixture(scope="module")
def hevc_hlg(tmp_path_factory) -> Path:
    """An iPhone's default in small: 10-bit HLG HEVC tagged hvc1, open GOPs of one second (x265's
    CRA keyframes, whose leading pictures need the frames before them), portrait by its matrix."""
    folder = tmp_path_factory.mktemp("hevc")
    stored = folder / "stored.mov"
    run_ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x180:r=30:d=10",
        "-f",
        "lavfi",
        "-i",
        "sine=d=10:sample_rate=48000",
        "-c:v",
        "libx265",
        "-preset",
        "fast",
        "-pix_fmt",
        "yuv420p10le",
        "-x265-params",
        "log-level=error:keyint=30:min-keyint=30:open-gop=1:colorprim=bt2020:"
        "transfer=arib-std-b67:colormatrix=bt2020nc",
        "-color_primaries",
        "bt2020",
        "-color_trc",
        "arib-std-b67",
        "-colorspace",
        "bt2020nc",
        "-tag:v",
        "hvc1",
        "-c:a",
        "aac",
        "-metadata",
        f"creation_time={RECORDED}",
        str(stored),
    )
    path = folder / "IMG_0400.MOV"
    run_ffmpeg("-display_rotation", "-90", "-i", str(stored), "-c", "copy", "-map_metadata", "0", str(path))
    return path


def test_an_open_gop_hevc_hlg_clip_is_smart_cut_under_renumbered_parameter_sets(hevc_hlg, tmp_path):
    info = probe(hevc_hlg)
    index = index_packets(hevc_hlg, info.start)
    assert index.drops_leading and index.opens.sum() == 10
    plan = plan_cut(index, START, END)
    # x265's keyframes at 3.0 s have leading pictures: they are left out, their frames re-encoded.
    assert index.times[plan.copy_first] == pytest.approx(3.0) and plan.copy_last - plan.copy_first + 1 > plan.copy_count
    clip = cut_clip(info, START, END, tmp_path / "clip.mp4", smart(tmp_path), index=index)
    assert errors_decoding(clip) == ""
    ours, theirs = decoded(clip), dict((round(t, 4), img) for t, img in decoded(hevc_hlg))
    assert len(ours) == plan.frames
    at = [theirs[round(t + plan.cut_in, 4)] for t, _ in ours]
    assert np.abs(ours[0][1] - at[0]).mean() < 2.0
    assert all(np.array_equal(ours[k][1], at[k]) for k in range(plan.head_frames, plan.head_frames + plan.copy_count))
    # The keyframe is renamed a BLA picture (one byte); every packet after it is the source's own.
    assert len(set(packets(clip)) & set(packets(hevc_hlg))) == plan.copy_count - 1
    kept = probe(clip)
    assert (kept.video_codec, kept.pix_fmt, kept.rotation) == ("hevc", "yuv420p10le", 90)
    assert (kept.color_primaries, kept.color_transfer, kept.color_matrix) == ("bt2020", "arib-std-b67", "bt2020nc")
    with av.open(str(clip)) as container:
        assert container.streams.video[0].codec_context.codec_tag == "hvc1"
        config = HvcConfig.parse(bytes(known(container.streams.video[0].codec_context.extradata)))
        assert [len(config.units(kind)) for kind in (VPS, SPS, PPS)] == [2, 2, 2]
        assert container.metadata["creation_time"].startswith("2026-11-28T18:04:07.5")


@pytest.mark.slow
def test_the_review_page_plays_an_hevc_smart_clip_through_its_preview(tmp_path):
    """A court filmed as an iPhone films it (10-bit HLG HEVC, open GOPs), processed by the service
    in the default mode: its clip is a smart cut, and the page plays it (as the H.264 preview that
    Chromium can decode) to the end without an error."""
    from test_review_page import chromium, free_port, serving

    from dunkwatch.config import load
    from dunkwatch.service.daemon import Daemon

    for name in ("inbox", "outbox", "archive", "quarantine", "state"):
        (tmp_path / name).mkdir()
    scene = Scene(duration=12, fps=30, seed=11, visits=[Visit(4.3, 7.6, 0.25, 0.65)])
    run_ffmpeg(
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{scene.width}x{scene.height}",
        "-r",
        "30",
        "-i",
        "-",
        "-f",
        "lavfi",
        "-i",
        "sine=d=12:sample_rate=48000",
        "-shortest",
        "-c:v",
        "libx265",
        "-preset",
        "fast",
        "-pix_fmt",
        "yuv420p10le",
        "-x265-params",
        "log-level=error:keyint=30:min-keyint=30:open-gop=1:"
        "colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc",
        "-color_primaries",
        "bt2020",
        "-color_trc",
        "arib-std-b67",
        "-colorspace",
        "bt2020nc",
        "-tag:v",
        "hvc1",
        "-c:a",
        "aac",
        str(tmp_path / "inbox" / "IMG_0500.MOV"),
        stdin=b"".join(f.tobytes() for f in scene.frames()),
    )
    (tmp_path / "config.toml").write_text(
        '[watch]\nstable_seconds = 0.2\n[score]\nscorer = "motion"\n'
        f'[review]\nlisten = "127.0.0.1:{free_port()}"\n' + SHAPES_TOML
    )
    cfg = load(tmp_path / "config.toml")
    assert Daemon(cfg, once=True).run() == 0
    clip = next((cfg.paths.outbox / "IMG_0500").glob("IMG_0500_01_*.mp4"))
    assert probe(clip).video_codec == "hevc" and errors_decoding(clip) == ""
    assert set(packets(clip)) & set(packets(cfg.paths.archive / "IMG_0500.MOV"))  # smart: the original's bytes
    with serving(cfg) as url, chromium() as browser:
        page = browser.new_page()
        page.goto(url)
        video = page.locator("article.video video").first
        video.evaluate("v => { v.muted = true; return v.play(); }")
        page.wait_for_function("v => v.ended || v.error", arg=video.element_handle(), timeout=60000)
        assert video.evaluate("v => v.error === null && v.currentTime > v.duration - 0.2")


def test_a_smart_cut_that_fails_falls_back_to_a_re_encode_but_a_stopping_service_gets_through(
    source, tmp_path, monkeypatch, caplog
):
    import dunkwatch.pipeline.cutting.smart_cut as smart_cut

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the muxing")

    monkeypatch.setattr(smart_cut, "_mux", broken)
    info = probe(source)
    index = index_packets(source, info.start)
    with caplog.at_level(logging.WARNING, logger="dunkwatch.pipeline.cutting.export"):
        clip = cut_clip(info, START, END, tmp_path / "clip.mp4", smart(tmp_path), index=index)
    assert "the smart cut failed (RuntimeError: a bug in the muxing); re-encoded whole instead" in caplog.text
    assert errors_decoding(clip) == "" and not set(packets(clip)) & set(packets(source))

    class Stopping(Exception):
        pass

    def stop():
        raise Stopping()

    # The service stops while the head is being encoded (ffmpeg polls the check as it runs).
    monkeypatch.undo()
    import dunkwatch.pipeline.cutting.export as export

    running = export._run_ffmpeg

    def polled(args, target, seconds, stop=None):
        if stop:
            stop()
        return running(args, target, seconds, stop)

    monkeypatch.setattr(export, "_run_ffmpeg", polled)
    with pytest.raises(Stopping):
        cut_clip(info, START, END, tmp_path / "stopped.mp4", smart(tmp_path), stop, index=index)
    assert not (tmp_path / "stopped.mp4").exists()
    assert "stopped.mp4: the smart cut failed" not in caplog.text  # it stopped, no fallback was tried


def test_a_re_encoded_clip_keeps_exactly_the_frames_a_smart_clip_keeps(source, tmp_path):
    """[3.333, 3.9) at 30 fps: the frames shown at 3.3333 .. 3.8667, 17 of them; the one shown at
    exactly 3.9 is the next clip's. -t alone counted from the first frame and kept 18."""
    info = probe(source)
    clips, _ = write_clips(
        info,
        [Segment(3.333, 3.9, 3.333, 3.9, 1.0), Segment(5.0, 5.5, 5.0, 5.5, 1.0)],
        tmp_path,
        from_dict({"export": {"mode": "reencode", "highlight_reel": False}}, tmp_path).export,
    )
    theirs = dict((round(t, 4), img) for t, img in decoded(source))
    for clip, first, last, count in zip(clips, (3.3333, 5.0), (3.8667, 5.4667), (17, 15)):
        ours = decoded(clip)
        assert len(ours) == count, clip.name

        def nearest(img: np.ndarray) -> float:  # the source is stored turned; the clip shows it upright
            turns = [np.rot90(img, k) for k in (1, 3)]
            return min(theirs, key=lambda t: min(np.abs(theirs[t] - x).mean() for x in turns))

        assert nearest(ours[0][1]) == first and nearest(ours[-1][1]) == last, clip.name


def tiers_and_levels(record: bytes) -> tuple[tuple[int, int], set[tuple[int, int]]]:
    """(the hvcC's (general_tier_flag, general_level_idc), those of each VPS and SPS in it)."""
    config = HvcConfig.parse(record)
    found = set()
    for kind, before in ((VPS, 4), (SPS, 1)):  # bytes of each before its profile_tier_level
        for unit in config.units(kind):
            raw = unit[2:].replace(b"\x00\x00\x03", b"\x00\x00")  # emulation prevention out
            found.add(((raw[before] >> 5) & 1, raw[before + 11]))
    return ((record[1] >> 5) & 1, record[12]), found


def test_hevc_ends_never_raise_the_tier_or_level_the_hvcc_declares(tmp_path):
    """At 1080p x265 flags its sets High tier unless told the source's: the hvcC (Main) must cover
    every set it holds (ISO/IEC 14496-15)."""
    source = tmp_path / "IMG_0500.MP4"
    run_ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=1920x1080:r=30:d=2",
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-x265-params",
        "log-level=error:keyint=30",
        "-tag:v",
        "hvc1",
        "-pix_fmt",
        "yuv420p",
        str(source),
    )
    info = probe(source)
    clip = cut_clip(info, 0.5, 1.6, tmp_path / "clip.mp4", smart(tmp_path), index=index_packets(source, info.start))
    with av.open(str(clip)) as container:
        (tier, level), sets = tiers_and_levels(bytes(known(container.streams.video[0].codec_context.extradata)))
    assert len(sets) >= 1 and all(t <= tier and lv <= level for t, lv in sets), (tier, level, sets)
