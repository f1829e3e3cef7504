"""The PyAV decoder: every frame of an SDR video, in FFmpeg's own threads, each with fetchers that
convert and shrink it only when the sampling or the grey tap wants it; and whether the pictures
nothing refers to may go undecoded. VideoReader (decode.py) samples what it yields."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

import cv2
import numpy as np

from dunkwatch.errors import VideoError
from dunkwatch.imageops import output_size, shrink_grey
from dunkwatch.media import MediaInfo
from dunkwatch.nal_bits import length_size, unreferenced

if TYPE_CHECKING:
    from fractions import Fraction

    from av.packet import Packet
    from av.video.frame import VideoFrame
    from av.video.reformatter import VideoReformatter

log = logging.getLogger(__name__)

Fetch = Callable[[], np.ndarray | None]  # a decoded frame's RGB picture, made only when called; None: none
Decoded = tuple[float, Fetch] | tuple[float, Fetch, Callable[[], np.ndarray]]  # (time, fetch[, fetch_grey])


def pyav_frames(
    path: Path,
    info: MediaInfo,
    max_side: int | None,
    sample_fps: float,
    start: float = 0.0,
    grey_side: int | None = None,
) -> Iterator[Decoded]:
    """(time, fetch) of every frame PyAV decodes, in its own threads; `fetch` shrinks and converts
    in swscale (in C) and turns the picture upright, only for the frames the sampling keeps.

    Frames no other frame refers to are not decoded at all (skip_frame NONREF) when the frames
    that are left still come at least every half sample interval, as measured on the video's
    first seconds: a sample then takes the nearest decoded frame, with that frame's own time.
    SDR only: this build of FFmpeg has no zscale, so HDR goes through the ffmpeg reader.

    With `grey_side`, each decoded frame comes with a third item: a fetcher of its luma, upright and
    shrunk to that longer side, for a tap that follows the ball; frames are then skipped only where
    those left still come GREY_MIN_FPS times a second."""
    import av
    from av.video.reformatter import VideoReformatter

    scaler = VideoReformatter()  # fetchers are called in one thread, the reader's
    rotation = info.rotation
    width, height = output_size(info.width, info.height, max_side)
    stored = (height, width) if rotation in (90, 270) else (width, height)
    turns = {90: -1, 180: 2, 270: 1}.get(rotation, 0)  # np.rot90 turns counter-clockwise
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise VideoError(f"{path}: not a readable video ({exc.strerror or exc})") from None
    with container:
        stream = container.streams.video[0]
        assert stream.time_base is not None  # a demuxed stream always has one
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = decoder_threads()
        if unreferenced_may_go(path, info, sample_fps, grey=bool(grey_side)):
            stream.codec_context.skip_frame = "NONREF"
        if start > 0:
            container.seek(int((start + info.start) / stream.time_base), stream=stream, backward=True)

        grey_w, grey_h = output_size(info.width, info.height, grey_side) if grey_side else (0, 0)
        grey_stored = (grey_h, grey_w) if rotation in (90, 270) else (grey_w, grey_h)
        try:
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                t = float(frame.pts * stream.time_base) - info.start
                if grey_side:
                    yield t, _fetcher(frame, "rgb24", stored, turns, scaler), _luma_fetcher(frame, grey_stored, turns)
                else:
                    yield t, _fetcher(frame, "rgb24", stored, turns, scaler)
        except av.error.FFmpegError as exc:  # a damaged tail: the frames so far count, _sampled judges the rest
            log.warning("%s: decoding stopped: %s", path, exc.strerror or exc)


def decoder_threads() -> int:
    """Frame threads for FFmpeg's decoder: two per core, where FFmpeg's own choice is one more
    than the cores (one on one core). A frame thread waits while the frame it refers to is still
    being decoded; with a second frame in flight per core, the core has other work then. Decoding
    in_view alone on 2 cores: 5.8 s with 3 threads, 5.1 with 4, the same CPU-seconds. The pictures
    are the same with any count. At most 16, FFmpeg's own limit on the threads it chooses."""
    try:
        cores = len(os.sched_getaffinity(0))  # the cores this process may run on, as FFmpeg counts them
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return min(16, 2 * cores) if cores > 1 else 1


# A ball's flight lasts most of a second: at this rate it is seen in a dozen frames, enough for an arc.
GREY_MIN_FPS = 14.0


def _fetcher(
    frame: VideoFrame, fmt: str, stored: tuple[int, int], turns: int, scaler: VideoReformatter
) -> Callable[[], np.ndarray]:
    """Converts and shrinks a decoded frame (in swscale, in C) only when called, then turns it upright.
    `scaler` is the video's one converter, in one thread: a frame's own would set up swscale and
    start two threads for every frame (1.6 CPU-ms a 1080p frame, against 1.3), same pixels."""

    def fetch() -> np.ndarray:
        small = scaler.reformat(frame, width=stored[0], height=stored[1], format=fmt, interpolation="AREA", threads=1)
        image = small.to_ndarray()
        return np.ascontiguousarray(np.rot90(image, turns)) if turns else image

    return fetch


def _luma_fetcher(frame: VideoFrame, stored: tuple[int, int], turns: int) -> Callable[[], np.ndarray]:
    """The frame's own luma plane, shrunk by OpenCV: a quarter of what converting it in swscale costs."""

    def fetch() -> np.ndarray:
        fmt = frame.format.name
        if not fmt.startswith(("yuv", "yuvj", "nv12", "nv21", "p010")) or len(frame.planes) < 2:
            from av.video.reformatter import VideoReformatter

            # A converter of its own: the frame's own one may be converting its RGB in the reader's
            # thread while this runs in the tap's.
            grey = VideoReformatter().reformat(
                frame, width=stored[0], height=stored[1], format="gray", interpolation="AREA"
            )
            image: np.ndarray = grey.to_ndarray()
        else:
            plane = frame.planes[0]
            deep = plane.line_size >= 2 * frame.width and ("10" in fmt or "12" in fmt or "16" in fmt)
            dtype = np.uint16 if deep else np.uint8
            luma: np.ndarray = np.frombuffer(plane, dtype)  # type: ignore[call-overload]  # stub: any buffer is fine
            luma = luma.reshape(frame.height, -1)[:, : frame.width]
            if deep:  # 10 or 12 bits in 16: the top eight are enough to see a ball move
                shift = 8 if fmt.startswith("p010") or "16" in fmt else 2 if "10" in fmt else 4
                luma = (luma >> shift).astype(np.uint8)
            image = shrink_grey(luma, stored)
            if not fmt.startswith("yuvj") and getattr(frame, "color_range", 0) != 2:
                image = cv2.convertScaleAbs(image, alpha=255 / 219, beta=-16 * 255 / 219)  # video range to full
        return np.ascontiguousarray(np.rot90(image, turns)) if turns else image

    return fetch


def unreferenced_may_go(path: Path, info: MediaInfo, sample_fps: float, grey: bool) -> bool:
    """Whether the pictures nothing refers to may go undecoded (skip_frame NONREF): the frames left
    must still come at least every half sample interval, and GREY_MIN_FPS times a second for a
    grey tap, as measured on the video's first seconds. Both readers ask: PyAV, and the ffmpeg
    command that tone-maps HDR, which decodes every frame for the tap."""
    if sample_fps <= 0:
        return False
    gap = 0.5 / sample_fps
    if grey:
        gap = min(gap, 1.0 / GREY_MIN_FPS)
    return info.fps >= 2 * sample_fps and info.fps >= 1.0 / gap and _reference_frames_suffice(path, gap)


SKIP_CHECK_SECONDS = 3.0  # long enough to span a phone's group of pictures a few times


def _reference_frames_suffice(path: Path, gap: float) -> bool:
    """Whether the frames left after skipping non-reference ones come at least every `gap` seconds,
    over the first SKIP_CHECK_SECONDS. H.264 and HEVC in MP4 say which pictures those are in each
    sample's NAL headers, read without decoding (decoding 3 s of 1080p to see it held up the
    start); any other stream is decoded with the skip to see what is left."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert stream.time_base is not None  # a demuxed stream always has one
            codec = stream.codec_context.name
            record = bytes(stream.codec_context.extradata or b"")
            if codec in ("h264", "hevc") and record[:1] == b"\x01":  # avcC or hvcC: length-prefixed samples
                times = _referenced_times(container.demux(stream), stream.time_base, codec, length_size(codec, record))
            else:
                stream.codec_context.skip_frame = "NONREF"
                times = []
                for frame in container.decode(stream):
                    if frame.pts is not None:
                        times.append(float(frame.pts * stream.time_base))
                    if times and times[-1] - times[0] > SKIP_CHECK_SECONDS:
                        break
    except av.error.FFmpegError:
        return False
    return len(times) > 2 and float(np.max(np.diff(np.sort(times)))) <= gap + 1e-6


_REORDER_S = 1.0  # packets come in decoding order: a picture shown this much earlier may still follow


def _referenced_times(packets: Iterable[Packet], time_base: Fraction, codec: str, length: int) -> list[float]:
    """Presentation times of the first SKIP_CHECK_SECONDS' pictures that others refer to."""
    times: list[float] = []
    first: float | None = None
    for packet in packets:
        if packet.pts is None or packet.size == 0:
            continue
        t = float(packet.pts * time_base)
        first = t if first is None else min(first, t)
        if t - first > SKIP_CHECK_SECONDS + _REORDER_S:
            break
        if not unreferenced(bytes(packet), codec, length):
            times.append(t)
    return [t for t in times if first is not None and t - first <= SKIP_CHECK_SECONDS]
