"""Smart cuts: a clip whose frames are the original's bytes wherever they can be, re-encoded only
from the cut-in frame to the first keyframe the source can be copied from (the head), and from the
last frame the copy can end on to the cut-out frame (the tail), so it starts and ends on the exact
frames at a fraction of a re-encode's time.

cut_plan.py says what is copied and what is re-encoded. `smart_cut_video` does it: ffmpeg
encodes the head and tail in the source's codec, profile, level, size, pixel format and colour
tags; their parameter sets join the source's in the clip's one sample description under ids the
source does not use (avc_sets: x264 numbers them as told; hevc_sets: x265's are renumbered, with
its slice headers); PyAV joins the packets. An HEVC CRA keyframe is renamed a BLA picture and its
leading pictures left out, so an open GOP splices cleanly. `smart_clip` then adds the audio, cut
to the sample, the rotation and the recording time: export.py asks for a clip (`smart_index`,
`smart_clip`) and falls back to a whole re-encode where this module says NotSmart.
"""

from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np

from dunkwatch.config import ExportConfig
from dunkwatch.fsutil import PART_SUFFIX, atomic_target
from dunkwatch.media import MediaInfo
from dunkwatch.nal_bits import ParameterSetError, nal_units
from dunkwatch.pipeline.cutting.bitstream.avc_sets import AvcConfig, free_ids
from dunkwatch.pipeline.cutting.bitstream.hevc_sets import HvcConfig, renumbering
from dunkwatch.pipeline.cutting.cut_plan import (
    CutPlan,
    NotSmart,
    PacketIndex,
    decode_start,
    index_packets,
    plan_cut,
)
from dunkwatch.pipeline.cutting.ffmpeg_presets import (
    AAC,
    MP4,
    clip_streams,
    colour_options,
    dating_args,
    hvc1_tag,
    source_cut,
)

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.packet import Packet as AvPacket
    from av.video.stream import VideoStream

FfmpegRun = Callable[[list[str], Path, float], None]  # (args, target, media seconds): export._run_ffmpeg


@dataclass(frozen=True)
class _Source:
    """What the re-encoded parts must match, read from the source's stream."""

    codec: str  # "h264" or "hevc"
    profile: str  # the encoder's name for it
    level: str  # "4.1", or "" when the stream does not say
    pix_fmt: str
    extradata: bytes  # avcC or hvcC

    @property
    def high_tier(self) -> bool:
        """HEVC: the hvcC's general_tier_flag (byte 1, bit 5); False for H.264 or an unreadable record."""
        return (
            self.codec == "hevc"
            and len(self.extradata) > 1
            and self.extradata[0] == 1
            and bool(self.extradata[1] & 0x20)
        )


_PROFILES = {
    "h264": {
        "Baseline": "baseline",
        "Constrained Baseline": "baseline",
        "Main": "main",
        "High": "high",
        "High 10": "high10",
        "High 4:2:2": "high422",
        "High 4:4:4 Predictive": "high444",
    },
    "hevc": {"Main": "main", "Main 10": "main10"},
}


# The coding tools that make x264 write the source's profile_idc, not the lowest its preset needs
# (ultrafast alone writes Constrained Baseline): CABAC for Main, and the 8x8 transform for High.
_AVC_TOOLS = {"main": ["cabac=1"]} | {
    high: ["cabac=1", "8x8dct=1"] for high in ("high", "high10", "high422", "high444")
}


def _source(info: MediaInfo) -> _Source:
    import av

    with av.open(str(info.path)) as container:
        codec = container.streams.video[0].codec_context
        profile = _PROFILES[codec.name].get(codec.profile or "")
        if profile is None:
            raise NotSmart(f"{codec.name} profile {codec.profile!r} has no encoder counterpart here")
        level = codec.level if codec.name == "h264" else codec.level / 3  # HEVC's level_idc is 30 x the level
        if codec.pix_fmt is None:
            raise NotSmart(f"{codec.name} stream of no known pixel format")
        return _Source(
            codec.name,
            profile,
            f"{int(level) // 10}.{int(level) % 10}" if level > 0 else "",
            codec.pix_fmt,
            bytes(codec.extradata or b""),
        )


def smart_safe(info: MediaInfo, cfg: ExportConfig) -> None:
    """Raises NotSmart when this source or these settings rule a smart cut out."""
    if cfg.slow_motion > 1.0:
        raise NotSmart("slow motion re-times every frame")
    if info.hdr and cfg.hdr == "sdr":
        raise NotSmart("export.hdr = sdr tone-maps every frame")
    if info.dolby_vision:
        raise NotSmart("Dolby Vision: the re-encoded ends would carry no Dolby Vision metadata")
    if info.video_codec not in ("h264", "hevc"):
        raise NotSmart(f"codec {info.video_codec}: only H.264 and HEVC are smart-cut")


def _encode(
    info: MediaInfo,
    src: _Source,
    first_time: float,
    decode_from: float,
    frames: int,
    set_id: int,
    dest: Path,
    cfg: ExportConfig,
    run: FfmpegRun,
) -> None:
    """`frames` frames from `first_time` on, decoded from the keyframe at `decode_from`, in stored
    orientation, in the source's codec, profile, level, pixel format and colour tags: one IDR, then
    P-frames only (decode order is presentation order, so its timestamps fit before and after the
    copied packets), one slice per picture. H.264's parameter sets are numbered `set_id`; HEVC's
    are renumbered afterwards (hevc_sets)."""
    half_frame = 0.25 / info.fps if info.fps > 0 else 0.005
    colour, vui = colour_options(info)
    if src.codec == "h264":
        encoder = [
            "-c:v",
            "libx264",
            "-x264-params",
            ":".join([f"sps-id={set_id}:bframes=0:keyint=infinite:scenecut=0", *_AVC_TOOLS.get(src.profile, []), *vui]),
            *(["-level:v", src.level] if src.level else []),
        ]
    else:  # the settings hevc_sets can read the slice headers of
        encoder = [
            "-c:v",
            "libx265",
            "-x265-params",
            ":".join(
                [
                    "log-level=error:bframes=0:keyint=-1:scenecut=0:open-gop=0:weightp=0:"
                    "weightb=0:slices=1:repeat-headers=0:info=0",
                    *vui,
                    *([f"level-idc={src.level}"] if src.level else []),
                    # The source's tier: x265 would raise it to High, beyond what the hvcC declares.
                    f"high-tier={int(src.high_tier)}",
                ]
            ),
        ]
    # ffmpeg's input seek starts at the last keyframe whose decode time is before the target: just
    # before an open GOP's keyframe, that is the keyframe itself, whose leading pictures (the
    # frames wanted) cannot be decoded from it. So it seeks to the keyframe the frames are
    # decoded from, and the frames before `first_time` are dropped after decoding.
    seek = max(0.0, decode_from - half_frame)
    skip = ["-ss", f"{first_time - half_frame - seek:.6f}"] if first_time - half_frame > seek else []
    args = [
        "-noautorotate",
        "-ss",
        f"{seek:.6f}",
        "-i",
        str(info.path),
        *skip,
        "-map",
        "0:v:0",
        "-frames:v",
        str(frames),
        "-an",
        "-sn",
        "-dn",
        "-fps_mode",
        "passthrough",
        *encoder,
        "-preset",
        cfg.smart_preset,
        "-crf",
        str(cfg.crf),
        "-profile:v",
        src.profile,
        "-pix_fmt",
        src.pix_fmt,
        *colour,
        "-f",
        "mp4",
        str(dest),
    ]
    run(args, dest, frames / max(info.fps, 1.0))


class _Description:
    """The clip's one sample description, growing by each re-encoded part's parameter sets, and how
    each part's packets must change to name them."""

    def __init__(self, src: _Source) -> None:
        self.src = src
        try:
            self.avc = AvcConfig.parse(src.extradata) if src.codec == "h264" else None
            self.hvc = HvcConfig.parse(src.extradata) if src.codec == "hevc" else None
            self.set_id = free_ids(self.avc, 1)[0] if self.avc else 0
            self.dpb = self.avc.dpb() if self.avc else None
        except ParameterSetError as exc:
            raise NotSmart(f"its parameter sets cannot be read ({exc})") from None
        self.source_hvc = self.hvc

    def add(self, part_extradata: bytes) -> Callable[[bytes], bytes] | None:
        """Takes in a part's parameter sets; returns how its packets are rewritten (None: as they are)."""
        try:
            if self.avc is not None:
                assert self.dpb is not None  # read with self.avc
                self.avc = self.avc.merged(AvcConfig.parse(part_extradata).with_dpb(self.dpb))
                return None
            assert self.hvc is not None and self.source_hvc is not None  # smart_safe: h264 or hevc
            renamed = renumbering(self.source_hvc, HvcConfig.parse(part_extradata))
            have = {k: self.hvc.units(k) for k in renamed.sets}
            new = {k: [u for u in units if u not in have[k]] for k, units in renamed.sets.items()}
            if any(new.values()) and any(have[k] != self.source_hvc.units(k) for k in have):
                raise ParameterSetError("the head's and the tail's parameter sets differ")
            self.hvc = self.hvc.with_units(new)
            length = self.hvc.length_size
            return lambda data: renamed.packet(data, length)
        except ParameterSetError as exc:
            raise NotSmart(f"the re-encoded part's parameter sets do not fit beside the source's ({exc})") from None

    def to_bytes(self) -> bytes:
        if self.avc is not None:
            return self.avc.to_bytes()
        assert self.hvc is not None  # smart_safe: h264 or hevc
        return self.hvc.to_bytes()


def smart_cut_video(
    info: MediaInfo, plan: CutPlan, dest: Path, cfg: ExportConfig, run: FfmpegRun, index: PacketIndex
) -> None:
    """The clip's video alone (no audio, no rotation): head, copied packets, tail, in one track."""
    import av

    description = _Description(_source(info))
    # Head and tail are encoded alike, so their sets are the same bytes under the same ids in every
    # clip of the video: the clips' sample descriptions match and the reel joins them by copy.
    with tempfile.TemporaryDirectory(prefix=".smart-", dir=dest.parent) as work:
        ends = {
            name: (frames, first_time, Path(work) / f"{name}.mp4")
            for frames, first_time, name in (
                (plan.head_frames, plan.cut_in, "head"),
                (plan.tail_frames, plan.tail_start, "tail"),
            )
            if frames
        }
        # Both ends at once: each spends a good part of its time starting up and decoding from
        # the keyframe before it, which the other's encoding overlaps.
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="smart-end") as pool:
            for done in [
                pool.submit(
                    _encode,
                    info,
                    description.src,
                    first_time,
                    decode_start(index, first_time),
                    frames,
                    description.set_id,
                    path,
                    cfg,
                    run,
                )
                for frames, first_time, path in ends.values()
            ]:
                done.result()
        parts: dict[str, tuple[Path, Callable[[bytes], bytes] | None]] = {}
        for name, (_, _, path) in ends.items():
            with av.open(str(path)) as encoded:
                rewrite = description.add(bytes(encoded.streams.video[0].codec_context.extradata or b""))
            parts[name] = (path, rewrite)
        _mux(info, plan, index, parts, description.to_bytes(), dest)


Packet = tuple[bytes, int, int, bool]  # (data, pts, dts, keyframe) on the clip's clock, in source ticks


def _encoded_packets(
    part: tuple[Path, Callable[[bytes], bytes] | None],
    offset: int,
    tb: Fraction,
    after_dts: int | None,
    before_dts: int | None,
    step: int,
) -> list[Packet]:
    """A re-encoded part's packets at `offset` ticks into the clip. It has no B-frames, so its dts
    follow its pts, all moved by one amount: the head's so its last comes a frame (`step` ticks)
    before `before_dts` (the copy's first), the tail's so its first comes a frame after
    `after_dts` (the copy's last). An mp4 sample lasts until the next one's dts, so a dts squeezed
    to a tick before the next would make a 1-tick frame, which players drop."""
    import av

    path, rewrite = part
    with av.open(str(path)) as encoded:
        stream = encoded.streams.video[0]
        found = [p for p in encoded.demux(stream) if p.size]
        assert stream.time_base is not None  # an mp4 track always has one
        scale = Fraction(stream.time_base) / tb
        pts = [offset + int(round((_pts(p) - _pts(found[0])) * scale)) for p in found]
        shift = pts[-1] + step - before_dts if before_dts is not None else 0
        if after_dts is not None:
            shift = pts[0] - after_dts - step
        out = []
        for packet, value in zip(found, pts):
            dts = value - shift
            data = bytes(packet)
            out.append((rewrite(data) if rewrite else data, value, dts, packet.is_keyframe))
        return out


def _pts(packet: AvPacket) -> int:
    assert packet.pts is not None  # every sample of an mp4 track has one
    return packet.pts


def _leading_gap(index: PacketIndex, plan: CutPlan) -> int:
    """Ticks of decode time that the first keyframe's leading pictures, left out of the copy, took
    up. The packets after them are decoded that much earlier, so that the keyframe's sample lasts
    one frame: with the gap in, the track's decode times outrun its frames, and GStreamer's qtdemux
    drops the clip's last sample."""
    if not index.drops_leading or plan.copy_count < 2:
        return 0
    after = np.arange(plan.copy_first + 1, plan.copy_last + 1)
    leading = index.pts[after] < index.pts[plan.copy_first]
    if not leading.any() or leading.all():
        return 0
    # Leading pictures come straight after their keyframe in decode order (HEVC 7.4.3.2).
    return int(index.dts[after[np.argmin(leading)]] - index.dts[after[0]])


def _copied_packets(
    source: InputContainer, stream: VideoStream, index: PacketIndex, plan: CutPlan, origin: int, gap: int
) -> Iterator[Packet]:
    """The source's packets of the plan's copy, as they are, re-timed by `origin` ticks; leading
    pictures of the first keyframe left out, the packets after them decoded `gap` ticks earlier
    (_leading_gap), and an HEVC CRA keyframe named a BLA picture (one byte of its NAL headers): it
    then starts a coded video sequence of its own after the re-encoded head, as a splice point
    should, instead of continuing the head's picture order."""
    wanted = plan.copy_count
    first_pts = int(index.pts[plan.copy_first])
    source.seek(int(index.dts[plan.copy_first]), stream=stream, backward=True, any_frame=False)
    started = False
    shift = 0
    for packet in source.demux(stream):
        if packet.pts is None or packet.size == 0:
            continue
        if not started:
            if packet.pts != first_pts or not packet.is_keyframe:
                continue
            started = True
            data = _as_bla(bytes(packet), index.length_size) if index.drops_leading else bytes(packet)
        elif packet.pts < first_pts:
            continue  # a leading picture: its frame is in the re-encoded head
        else:
            data = bytes(packet)
        assert packet.dts is not None  # a demuxed mp4 sample always has one
        yield data, packet.pts - origin, packet.dts - origin - shift, packet.is_keyframe
        shift = gap  # every packet after the keyframe
        wanted -= 1
        if wanted == 0:
            return
    raise NotSmart("the source's packets could not be found again where the index put them")


_CRA, _BLA_N_LP = 21, 18


def _as_bla(data: bytes, length_size: int) -> bytes:
    out = bytearray(data)
    for at, nal in nal_units(data, length_size):
        if nal and (nal[0] >> 1) & 0x3F == _CRA:
            out[at] = (out[at] & 0x81) | (_BLA_N_LP << 1)
    return bytes(out)


def _mux(
    info: MediaInfo,
    plan: CutPlan,
    index: PacketIndex,
    parts: dict[str, tuple[Path, Callable[[bytes], bytes] | None]],
    extradata: bytes,
    dest: Path,
) -> None:
    """Head, copy and tail into one track under `extradata`, on the clip's clock (0 = cut-in)."""
    import av

    tb = index.time_base
    origin = int(round((plan.cut_in + (float(index.pts[0] * tb) - index.times[0])) / tb))  # cut-in, source ticks
    copied = plan.copy_count > 0
    gap = _leading_gap(index, plan)
    first_dts = int(index.dts[plan.copy_first] - origin) if copied else None
    last_dts = int(index.dts[plan.copy_last] - origin - gap) if copied else None
    with av.open(str(info.path)) as source, av.open(str(dest), "w", format="mp4") as out:
        in_stream = source.streams.video[0]
        assert in_stream.time_base is not None  # index_packets read the same stream's
        stream = out.add_stream_from_template(in_stream)
        stream.codec_context.extradata = extradata
        stream.time_base = in_stream.time_base
        step = _usual_step(index)
        head = _encoded_packets(parts["head"], 0, tb, None, first_dts, step) if "head" in parts else []
        tail = (
            _encoded_packets(parts["tail"], int(round((plan.tail_start - plan.cut_in) / tb)), tb, last_dts, None, step)
            if "tail" in parts
            else []
        )
        copy = _copied_packets(source, in_stream, index, plan, origin, gap) if copied else []
        held = None  # the last packet waits: it alone needs a duration (the others' come from the next dts)
        for group in (head, copy, tail):
            for data, pts, dts, key in group:
                if held is not None:
                    out.mux(held)
                held = av.Packet(data)
                held.pts, held.dts, held.time_base, held.stream = pts, dts, in_stream.time_base, stream
                held.is_keyframe = key
        if held is not None:
            # Without a duration the muxer gives the last sample 1 tick, so the track ends a frame
            # early: GStreamer's qtdemux drops that sample, and a reel's next clip lands on it.
            held.duration = step
            out.mux(held)


def _usual_step(index: PacketIndex) -> int:
    """The source's most common frame duration, in its ticks."""
    steps = np.diff(np.unique(index.pts))
    return int(np.median(steps)) if len(steps) else 1


def smart_index(info: MediaInfo, cfg: ExportConfig) -> PacketIndex:
    """The source's packet index, for smart cuts of its clips; NotSmart when this source or these
    settings rule them out, or when its packets cannot be indexed."""
    smart_safe(info, cfg)
    try:
        return index_packets(info.path, info.start)
    except Exception as exc:  # noqa: BLE001 - an index that cannot be read costs speed, never the clips
        raise NotSmart(f"its packets could not be indexed ({exc})") from None


def smart_clip(
    info: MediaInfo, start: float, end: float, dest: Path, cfg: ExportConfig, run: FfmpegRun, index: PacketIndex
) -> Path:
    """A smart cut of [start, end) to `dest`: the video joined from re-encoded ends and copied
    packets, then the audio cut to the sample, the rotation and the recording time added in one
    stream copy. `run` runs ffmpeg (export's runner, which stops with the service)."""
    plan = plan_cut(index, start, end)
    duration = max(0.0, end - plan.cut_in)

    with tempfile.TemporaryDirectory(prefix=f".{dest.stem}.smart", suffix=PART_SUFFIX, dir=dest.parent) as work:
        video = Path(work) / "video.mp4"
        smart_cut_video(info, plan, video, cfg, run, index)
        turn = ["-display_rotation:v:0", str(-info.rotation)] if info.rotation else []
        colour = colour_options(info)[0]  # the track's colr box; the bitstream's VUI came with the copy
        args = [
            *turn,
            "-i",
            str(video),
            *source_cut(info.path, plan.cut_in, duration),
            *clip_streams(0, 1),
            "-c:v",
            "copy",
            *hvc1_tag(info.video_codec),
            *colour,
            *AAC,
            *dating_args(info.recorded_at, plan.cut_in),
            *MP4,
        ]
        with atomic_target(dest) as tmp:
            run([*args, str(tmp)], dest, duration / 10)
    return dest
