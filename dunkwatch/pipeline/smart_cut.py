"""Smart cuts: a clip whose frames are the original's bytes wherever they can be, re-encoded only
from the cut-in frame to the first keyframe the source can be copied from (the head), and from the
last frame the copy can end on to the cut-out frame (the tail), so it starts and ends on the exact
frames at a fraction of a re-encode's time.

`plan_cut` is pure: it reads the packet index (decode order, presentation times, keyframe flags)
and says what is copied and what is re-encoded, or why no smart cut is safe. `smart_cut` does it:
ffmpeg encodes the head and tail with the source's codec, profile, level, size, pixel format and
colour tags, PyAV joins their packets with the source's under one sample description that names
every parameter set (parameter_sets.py), and ffmpeg adds the audio, cut to the sample, the
rotation and the recording time.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import numpy as np

from dunkwatch.config import ExportConfig
from dunkwatch.media import MediaInfo
from dunkwatch.pipeline.parameter_sets import AvcConfig, ParameterSetError, free_ids

_EPS = 1e-4  # seconds: frame times compare equal within this

FfmpegRun = Callable[[list[str], Path, float], None]  # (args, target, media seconds): export._run_ffmpeg


class NotSmart(Exception):
    """Why this clip cannot be smart-cut; the caller re-encodes it and logs the reason once."""


@dataclass(frozen=True)
class PacketIndex:
    """A video stream's packets in decode order: presentation times (seconds from the video's
    start, as the analysis counts them), raw pts and dts, and keyframe flags."""

    times: np.ndarray
    pts: np.ndarray
    dts: np.ndarray
    key: np.ndarray
    time_base: Fraction


@dataclass(frozen=True)
class CutPlan:
    """What a clip of [start, end) is made of, in the source's frames."""

    cut_in: float  # the clip's first frame's time
    head_frames: int  # frames from cut_in re-encoded before the copy
    copy_first: int  # decode-order index of the first packet copied (a keyframe)
    copy_count: int  # packets copied, in decode order
    tail_start: float  # time of the first frame after the copy
    tail_frames: int  # frames from tail_start re-encoded after the copy
    frames: int  # frames in the clip


def index_packets(path: Path, start_offset: float) -> PacketIndex:
    """Every video packet's timing and key flag, by demuxing only (nothing is decoded)."""
    import av

    pts, dts, key = [], [], []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        time_base = Fraction(stream.time_base)
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            pts.append(packet.pts)
            dts.append(packet.dts if packet.dts is not None else packet.pts)
            key.append(packet.is_keyframe)
    pts_arr = np.asarray(pts, np.int64)
    times = pts_arr.astype(np.float64) * float(time_base) - start_offset
    return PacketIndex(times, pts_arr, np.asarray(dts, np.int64), np.asarray(key, bool), time_base)


def plan_cut(index: PacketIndex, start: float, end: float) -> CutPlan:
    """The copy runs from the first keyframe at or after the cut-in that starts clean (no frame
    before it in decode order shows after it, none after it shows before it: no leading
    pictures of an open GOP), to the longest run of packets whose frames all show before `end`
    and before every later packet's frame (so the copy never needs a frame it does not hold)."""
    t = index.times
    n = len(t)
    shown = np.flatnonzero((t >= start - _EPS) & (t < end - _EPS))
    if not len(shown):
        raise NotSmart("no frame inside the clip")
    cut_in = float(t[shown].min())
    later_min = np.concatenate([np.minimum.accumulate(t[::-1])[::-1][1:], [np.inf]])  # min of t[i+1:]
    earlier_max = np.concatenate([[-np.inf], np.maximum.accumulate(t)[:-1]])  # max of t[:i]
    clean = index.key & (later_min > t) & (earlier_max < t) & (t >= cut_in - _EPS) & (t < end - _EPS)
    if not clean.any():
        raise NotSmart("no keyframe the source can be copied from inside the clip")
    first = int(np.flatnonzero(clean)[0])
    run_max = np.maximum.accumulate(t[first:])  # frames of the first m packets show up to run_max[m-1]
    closed = (run_max < later_min[first:]) & (run_max < end - _EPS)
    if not closed.any():
        raise NotSmart("the copy cannot end inside the clip")
    count = int(np.flatnonzero(closed)[-1]) + 1
    tail_start = float(later_min[first + count - 1]) if first + count < n else math.inf
    head = int(np.count_nonzero((t >= cut_in - _EPS) & (t < t[first] - _EPS)))
    tail = int(np.count_nonzero((t >= tail_start - _EPS) & (t < end - _EPS))) if math.isfinite(tail_start) else 0
    if head + count + tail != len(shown):  # a frame shown twice or missed: the index is not one frame a packet
        raise NotSmart("the stream's packets are not one frame each")
    return CutPlan(cut_in, head, first, count, tail_start, tail, len(shown))


@dataclass(frozen=True)
class _Source:
    """What the re-encoded parts must match, read from the source's stream."""

    profile: str  # x264's name
    level: str
    pix_fmt: str
    config: AvcConfig
    extradata: bytes


_X264_PROFILES = {"Baseline": "baseline", "Constrained Baseline": "baseline", "Main": "main", "High": "high",
                  "High 10": "high10", "High 4:2:2": "high422", "High 4:4:4 Predictive": "high444"}


def _source(info: MediaInfo) -> _Source:
    import av

    with av.open(str(info.path)) as container:
        codec = container.streams.video[0].codec_context
        profile = _X264_PROFILES.get(codec.profile or "")
        if profile is None:
            raise NotSmart(f"H.264 profile {codec.profile!r} has no x264 counterpart")
        extradata = bytes(codec.extradata or b"")
        level = codec.level
    try:
        config = AvcConfig.parse(extradata)
    except ParameterSetError as exc:
        raise NotSmart(f"its parameter sets cannot be read ({exc})") from None
    return _Source(profile, f"{level // 10}.{level % 10}" if level > 0 else "auto", codec.pix_fmt, config,
                   extradata)


def smart_safe(info: MediaInfo, cfg: ExportConfig) -> None:
    """Raises NotSmart when this source or these settings rule a smart cut out."""
    if cfg.slow_motion > 1.0:
        raise NotSmart("slow motion re-times every frame")
    if info.hdr and cfg.hdr == "sdr":
        raise NotSmart("export.hdr = sdr tone-maps every frame")
    if info.video_codec in ("hevc", "h265"):
        raise NotSmart("HEVC: x265 numbers its parameter sets 0, as the source does, and an hvc1 track "
                       "cannot carry both sets under one number")
    if info.video_codec != "h264":
        raise NotSmart(f"codec {info.video_codec}: only H.264 is smart-cut")


def _encode(info: MediaInfo, src: _Source, first_time: float, frames: int, set_id: int, dest: Path,
            cfg: ExportConfig, run: FfmpegRun) -> None:
    """`frames` frames from `first_time` on, in stored orientation, as H.264 that matches the
    source: one IDR, then P-frames only (decode order is presentation order, so its timestamps
    fit before and after the copied packets), parameter sets numbered `set_id`."""
    half_frame = 0.25 / info.fps if info.fps > 0 else 0.005
    colour, vui = [], []  # the container's tags, and the SPS's (this ffmpeg's libx264 does not copy them over)
    for option, name, value in (("-color_primaries", "colorprim", info.color_primaries),
                                ("-color_trc", "transfer", info.color_transfer),
                                ("-colorspace", "colormatrix", info.color_matrix)):
        if value:
            colour += [option, value]
            vui.append(f"{name}={value}")
    args = ["-noautorotate", "-ss", f"{max(0.0, first_time - half_frame):.6f}", "-i", str(info.path),
            "-map", "0:v:0", "-frames:v", str(frames), "-an", "-sn", "-dn", "-fps_mode", "passthrough",
            "-c:v", "libx264", "-preset", cfg.preset, "-crf", str(cfg.crf), "-profile:v", src.profile,
            "-pix_fmt", src.pix_fmt, "-x264-params", ":".join([f"sps-id={set_id}:bframes=0:keyint=infinite:scenecut=0", *vui]),
            *(["-level:v", src.level] if src.level != "auto" else []), *colour, "-f", "mp4", str(dest)]
    run(args, dest, frames / max(info.fps, 1.0))


def smart_cut_video(info: MediaInfo, plan: CutPlan, dest: Path, cfg: ExportConfig, run: FfmpegRun,
                    index: PacketIndex) -> None:
    """The clip's video alone (no audio, no rotation): head, copied packets, tail, in one track."""
    import av

    src = _source(info)
    # Head and tail share one id: encoded alike, their sets are the same bytes, in every clip of the
    # video, so the clips' sample descriptions match and the reel can join them by stream copy.
    (set_id,) = free_ids(src.config, 1)
    with tempfile.TemporaryDirectory(prefix=".smart-", dir=dest.parent) as work:
        parts: list[tuple[Path, float]] = []  # (encoded file, its first frame's time)
        merged = src.config
        for frames, first_time, name in ((plan.head_frames, plan.cut_in, "head"),
                                         (plan.tail_frames, plan.tail_start, "tail")):
            if frames:
                part = Path(work) / f"{name}.mp4"
                _encode(info, src, first_time, frames, set_id, part, cfg, run)
                with av.open(str(part)) as enc:
                    try:
                        merged = merged.merged(AvcConfig.parse(bytes(enc.streams.video[0].codec_context.extradata)))
                    except ParameterSetError as exc:
                        raise NotSmart(f"the re-encoded part's parameter sets do not fit beside the source's "
                                       f"({exc})") from None
                parts.append((part, first_time))
        _mux(info, plan, index, parts, merged.to_bytes(), dest)


def _mux(info: MediaInfo, plan: CutPlan, index: PacketIndex, parts: list[tuple[Path, float]],
         extradata: bytes, dest: Path) -> None:
    import av

    tb = index.time_base
    origin = int(round((plan.cut_in + (float(index.pts[0] * tb) - index.times[0])) / tb))  # cut-in, source ticks
    copy = slice(plan.copy_first, plan.copy_first + plan.copy_count)
    copy_dts = index.dts[copy] - origin
    with av.open(str(info.path)) as source, av.open(str(dest), "w", format="mp4") as out:
        in_stream = source.streams.video[0]
        stream = out.add_stream_from_template(in_stream)
        stream.codec_context.extradata = extradata
        stream.time_base = in_stream.time_base

        def encoded(part: Path, first_time: float, after_dts: int | None, before_dts: int | None):
            """The part's packets, re-timed onto the clip's clock in source ticks."""
            offset = int(round((first_time - plan.cut_in) / tb))
            with av.open(str(part)) as enc:
                es = enc.streams.video[0]
                packets = [p for p in enc.demux(es) if p.size]
                base = packets[0].pts
                pts = [offset + int(round((p.pts - base) * Fraction(es.time_base) / tb)) for p in packets]
                shift = max(0, pts[-1] - before_dts + 1) if before_dts is not None else 0
                for p, value in zip(packets, pts):
                    dts = value - shift
                    if after_dts is not None:
                        dts = max(dts, after_dts + 1)
                        after_dts = dts
                    yield bytes(p), value, dts, p.is_keyframe

        def write(data: bytes, pts: int, dts: int, key: bool) -> None:
            packet = av.Packet(data)
            packet.pts, packet.dts, packet.time_base, packet.stream = pts, dts, in_stream.time_base, stream
            packet.is_keyframe = key
            out.mux(packet)

        head = [p for p, t in parts if abs(t - plan.cut_in) < _EPS and plan.head_frames]
        tail = [p for p, t in parts if p not in head]
        for item in (encoded(head[0], plan.cut_in, None, int(copy_dts[0])) if head else ()):
            write(*item)
        wanted = plan.copy_count
        first_pts = int(index.pts[plan.copy_first])
        source.seek(int(index.dts[plan.copy_first]), stream=in_stream, backward=True, any_frame=False)
        started = False
        for packet in source.demux(in_stream):
            if packet.pts is None or packet.size == 0:
                continue
            if not started:
                if packet.pts != first_pts or not packet.is_keyframe:
                    continue
                started = True
            write(bytes(packet), packet.pts - origin, packet.dts - origin, packet.is_keyframe)
            wanted -= 1
            if wanted == 0:
                break
        if wanted:
            raise NotSmart("the source's packets could not be found again where the index put them")
        for item in (encoded(tail[0], plan.tail_start, int(copy_dts[-1]), None) if tail else ()):
            write(*item)
