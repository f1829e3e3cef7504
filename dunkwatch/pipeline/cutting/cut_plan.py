"""Where a smart cut copies and where it re-encodes, worked out from the source's packets alone.

`index_packets` demuxes the video stream (nothing is decoded): each packet's presentation time,
keyframe flag, and whether it can open a copy. `plan_cut` is pure: from that index and a clip's
[start, end) it says which frames are re-encoded before the copy (the head), which packets are
copied, and which frames are re-encoded after it (the tail), or raises NotSmart with the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from dunkwatch.nal_bits import length_size, nal_units

FRAME_EPS = 1e-4  # seconds: frame times compare equal within this


class NotSmart(Exception):
    """Why this clip cannot be smart-cut; the caller re-encodes it and logs the reason once."""


@dataclass(frozen=True)
class PacketIndex:
    """A video stream's packets in decode order: presentation times (seconds from the video's
    start, as the analysis counts them), raw pts and dts, keyframe flags, and which keyframes a
    copy can start from: H.264's IDR pictures; HEVC's IDR, CRA and BLA pictures, whose leading
    pictures (shown before them, decoded after) the copy leaves out, since the head re-encodes
    their frames and nothing after the keyframe refers to them."""

    times: np.ndarray
    pts: np.ndarray
    dts: np.ndarray
    key: np.ndarray
    opens: np.ndarray
    time_base: Fraction
    drops_leading: bool = False
    length_size: int = 4  # bytes of each NAL unit's length field in the samples


@dataclass(frozen=True)
class CutPlan:
    """What a clip of [start, end) is made of, in the source's frames."""

    cut_in: float  # the clip's first frame's time
    head_frames: int  # frames from cut_in re-encoded before the copy
    copy_first: int  # decode-order index of the first packet copied (a keyframe); -1: none copied
    copy_last: int  # decode-order index of the last packet copied; -1: none
    copy_count: int  # packets copied: those from first to last not shown before the first
    tail_start: float  # time of the first frame after the copy
    tail_frames: int  # frames from tail_start re-encoded after the copy
    frames: int  # frames in the clip


_OPENING = {"h264": {5}, "hevc": set(range(16, 22))}  # IDR; BLA, IDR, CRA


def _nal_types(data: bytes, codec: str, length: int) -> set[int]:
    return {nal[0] & 0x1F if codec == "h264" else (nal[0] >> 1) & 0x3F for _, nal in nal_units(data, length) if nal}


def index_packets(path: Path, start_offset: float) -> PacketIndex:
    """Every video packet's timing and key flag, by demuxing only (nothing is decoded)."""
    import av

    pts, dts, key, opens = [], [], [], []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        extradata = bytes(stream.codec_context.extradata or b"")
        assert stream.time_base is not None  # a demuxable video stream always has one
        time_base = Fraction(stream.time_base)
        length = length_size(codec, extradata)
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            pts.append(packet.pts)
            dts.append(packet.dts if packet.dts is not None else packet.pts)
            key.append(packet.is_keyframe)
            opens.append(
                packet.is_keyframe and bool(_nal_types(bytes(packet), codec, length) & _OPENING.get(codec, set()))
            )
    pts_arr = np.asarray(pts, np.int64)
    times = pts_arr.astype(np.float64) * float(time_base) - start_offset
    return PacketIndex(
        times,
        pts_arr,
        np.asarray(dts, np.int64),
        np.asarray(key, bool),
        np.asarray(opens, bool),
        time_base,
        codec == "hevc",
        length,
    )


def frames_in(index: PacketIndex, start: float, end: float) -> int:
    """How many frames a clip of [start, end) shows: those shown from start to before end, to FRAME_EPS."""
    return int(np.count_nonzero((index.times >= start - FRAME_EPS) & (index.times < end - FRAME_EPS)))


def decode_start(index: PacketIndex, time: float) -> float:
    """The time of the last keyframe a decoder can start from (an IDR, CRA or BLA) shown at or
    before `time`: every frame from `time` on decodes from it. 0 when there is none."""
    before = index.opens & (index.times <= time + FRAME_EPS)
    return float(index.times[before].max()) if before.any() else 0.0


def plan_cut(index: PacketIndex, start: float, end: float) -> CutPlan:
    """The copy runs from the first keyframe at or after the cut-in that can open it (no frame
    before it in decode order shows after it; none after it shows before it, unless those leading
    pictures may be left out), to the longest run of packets whose frames all show before `end`
    and before every later packet's frame (so the copy never needs a frame it does not hold)."""
    t = index.times
    shown = np.flatnonzero((t >= start - FRAME_EPS) & (t < end - FRAME_EPS))
    if not len(shown):
        raise NotSmart("no frame inside the clip")
    cut_in = float(t[shown].min())
    later_min = np.concatenate([np.minimum.accumulate(t[::-1])[::-1][1:], [np.inf]])  # min of t[i+1:]
    earlier_max = np.concatenate([[-np.inf], np.maximum.accumulate(t)[:-1]])  # max of t[:i]
    clean = index.opens & (earlier_max < t) & (t >= cut_in - FRAME_EPS) & (t < end - FRAME_EPS)
    if not index.drops_leading:
        clean &= later_min > t
    # A head shorter than the keyframe's decode delay is refused: the clip's edit list then starts
    # (at the head's first frame) later than the keyframe's decode time, and VLC starts an edit list
    # at the last keyframe decoded by then, skipping the head. The copy starts a keyframe later.
    delay = (index.pts - index.dts).astype(np.float64) * float(index.time_base)
    clean &= (t - cut_in < FRAME_EPS) | (t - cut_in > delay + FRAME_EPS)
    if not clean.any():
        # Nothing to copy (a clip shorter than the source's group of pictures): all of it is the
        # head, encoded as the other clips' ends are, so every clip of the video shares one sample
        # description and the reel joins them by stream copy.
        return CutPlan(cut_in, len(shown), -1, -1, 0, math.inf, 0, len(shown))
    first = int(np.flatnonzero(clean)[0])
    run = first + np.flatnonzero(t[first:] >= t[first] - FRAME_EPS)  # leading pictures left out
    ts = t[run]
    rest_min = np.concatenate([np.minimum.accumulate(ts[::-1])[::-1][1:], [np.inf]])
    run_max = np.maximum.accumulate(ts)  # frames of the first m packets show up to run_max[m-1]
    closed = (run_max < rest_min) & (run_max < end - FRAME_EPS)
    if not closed.any():
        raise NotSmart("the copy cannot end inside the clip")
    count = int(np.flatnonzero(closed)[-1]) + 1
    tail_start = float(rest_min[count - 1])
    head = int(np.count_nonzero((t >= cut_in - FRAME_EPS) & (t < t[first] - FRAME_EPS)))
    in_tail = (t >= tail_start - FRAME_EPS) & (t < end - FRAME_EPS)
    tail = int(np.count_nonzero(in_tail)) if math.isfinite(tail_start) else 0
    if head + count + tail != len(shown):  # a frame shown twice or missed: the index is not one frame a packet
        raise NotSmart("the stream's packets are not one frame each")
    return CutPlan(cut_in, head, first, int(run[count - 1]), count, tail_start, tail, len(shown))
