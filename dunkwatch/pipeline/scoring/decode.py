"""VideoReader: upright RGB frames with container timestamps, sampled at a given rate, streamed."""

from __future__ import annotations

import logging
import queue
import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Callable, Generator, Iterable, Iterator, Protocol, Sequence, TypeVar

import cv2
import numpy as np

from dunkwatch.errors import VideoError
from dunkwatch.media import MediaInfo, dies_with_parent, ffmpeg_exe, probe

if TYPE_CHECKING:
    from av.video.frame import VideoFrame

log = logging.getLogger(__name__)

_TRUNCATION_SLACK_S = 2.0  # containers may list a little more duration than the last frame

Fetch = Callable[[], np.ndarray | None]  # a decoded frame's RGB picture, made only when called; None: none
Decoded = tuple[float, Fetch] | tuple[float, Fetch, Callable[[], np.ndarray]]  # (time, fetch[, fetch_grey])


class GreyTap(Protocol):
    """Sees the decoded frames, grey and shrunk to `side`, in order, at most `fps` a second (the
    attempt finder's blobs)."""

    side: int
    fps: float

    def feed(self, time: float, grey: np.ndarray) -> None: ...


@dataclass(frozen=True)
class Frame:
    time: float  # seconds, the frame's presentation time in the container
    image: np.ndarray  # uint8 RGB, upright, HxWx3


class VideoReader:
    """Iterate a video's frames at `sample_fps`, never holding more than one decoded frame.

    One reader for the service and for training: PyAV (`pyav_frames`). HDR alone goes through
    the ffmpeg command (`ffmpeg_frames`), because only its zscale maps HLG and PQ to SDR and
    PyAV's own FFmpeg build has no zscale."""

    def __init__(
        self,
        path: str | Path,
        sample_fps: float,
        max_side: int | None = None,
        info: MediaInfo | None = None,
        start: float = 0.0,
        tap: GreyTap | None = None,
    ) -> None:
        self.path = Path(path)
        self.sample_fps = float(sample_fps)
        self.max_side = max_side
        self.info = info or probe(self.path)
        self.last_time = 0.0  # for progress reporting
        self.start = max(0.0, start)  # seconds: training extracts only the ranges it lacks
        self.tap = tap  # sees every decoded frame, grey, before the sampling drops any

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def frames(self) -> Generator[Frame, None, None]:
        """The sampled frames, as a generator: closing it stops the decoding."""
        frames: Iterator[Decoded]
        if self.info.hdr:
            frames = self._hdr_frames()
        else:
            frames = pyav_frames(
                self.path, self.info, self.max_side, self.sample_fps, self.start, self.tap.side if self.tap else None
            )
        yield from self._sampled(frames)

    def _hdr_frames(self) -> Iterator[Decoded]:
        if self.tap is None:
            yield from ffmpeg_frames(
                self.path, self.info, self.max_side, self.sample_fps, self._tolerance(), self.start
            )
            return
        # The tap needs every frame at its own size: ffmpeg sends them all, each sample is shrunk here.
        side = max(self.tap.side, self.max_side or 0)
        width, height = output_size(self.info.width, self.info.height, self.max_side)
        for t, fetch in ffmpeg_frames(self.path, self.info, side, 0.0, self._tolerance(), self.start):
            image = fetch()
            grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
            yield t, _shrunk(image, width, height), _ready(grey)

    def _tolerance(self) -> float:
        # Accept a frame up to half a source frame early, so float timestamps never skip a sample;
        # a microsecond more settles exact ties the same way in PyAV's and ffmpeg's arithmetic.
        step = 1.0 / self.sample_fps
        return (min(step / 2, 0.5 / self.info.fps) if self.info.fps > 0 else 1e-3) + 1e-6

    def _sampled(self, frames: Iterable[Decoded]) -> Iterator[Frame]:
        """(time, fetch[, fetch_grey]) -> the sampled frames; every frame with a grey fetcher goes to the tap."""
        step = 1.0 / self.sample_fps
        tol = self._tolerance()
        next_time = self.start if self.start > 0 else 0.0
        count = 0
        tapped = -1e9
        for t, fetch, *grey in frames:
            if self.tap is not None and grey and t >= self.start - tol and t >= tapped + 1.0 / self.tap.fps - 1e-3:
                self.tap.feed(t, grey[0]())
                tapped = t
            if t < next_time - tol:
                continue
            rgb = fetch()
            if rgb is None:
                continue
            while next_time <= t + tol:
                next_time += step
            self.last_time = t
            count += 1
            yield Frame(t, rgb)
        if count == 0:
            raise VideoError(f"{self.path}: not a readable video (no frame could be decoded)")
        # A half-synced or damaged file ends early: say so rather than cut clips from half a video.
        duration = self.info.duration
        if duration > 0 and self.last_time < duration - max(_TRUNCATION_SLACK_S, 0.05 * duration):
            raise VideoError(
                f"{self.path}: truncated or damaged: frames stop at {self.last_time:.1f} s of {duration:.1f} s"
            )


def frames_at(path: Path, info: MediaInfo, times: Sequence[float], max_side: int | None) -> list[np.ndarray | None]:
    """The first frame at or after each time (RGB, longer side at most max_side): one short read
    per cluster of times within 2 s (a seek between clusters); a time past the last frame takes
    that frame; None where the video gave no frame at all. For the few frames a video's attempts
    need after it was scored."""
    out: list[np.ndarray | None] = [None] * len(times)
    clusters: list[list[int]] = []
    for k in sorted(range(len(times)), key=lambda k: times[k]):
        if clusters and float(times[k]) - float(times[clusters[-1][-1]]) <= 2.0:
            clusters[-1].append(k)
        else:
            clusters.append([k])
    for pending in clusters:
        frames = VideoReader(
            path, 20.0, max_side=max_side, info=info, start=max(0.0, float(times[pending[0]]) - 0.05)
        ).frames()
        last = None
        for frame in frames:
            while pending and frame.time >= float(times[pending[0]]) - 0.03:
                out[pending.pop(0)] = frame.image
            last = frame.image
            if not pending:
                break
        frames.close()
        for k in pending if last is not None else ():
            out[k] = last
    return out


def sdr_filter(info: MediaInfo, pix_fmt: str = "rgb24") -> str:
    """ffmpeg filters from the video's picture to BT.709 SDR in `pix_fmt`, as a player without HDR
    shows it; for an SDR video, only the pixel format.

    HLG is made to be shown on SDR screens: its curve is inverted and the BT.2020 colours are
    converted to BT.709 (zscale). PQ is absolute light: its reference white (203 cd/m2, ITU-R
    BT.2408) becomes SDR white. Highlights brighter than that white clip, which costs nothing in
    finding a player, while a tone curve would flatten the contrast of everything else."""
    if not info.hdr:
        return f"format={pix_fmt}"
    white = ":npl=203" if info.color_transfer == "smpte2084" else ""
    return f"zscale=t=bt709:m=bt709:p=bt709:r=tv{white},format={pix_fmt}"


def output_size(width: int, height: int, side: int | None) -> tuple[int, int]:
    """The size shrink_to_side gives a width x height picture."""
    scale = side / max(width, height) if side else 1.0
    if scale >= 1.0:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def _ready(image: np.ndarray) -> Callable[[], np.ndarray]:
    """A fetcher of a picture already made."""
    return lambda: image


def _shrunk(image: np.ndarray, width: int, height: int) -> Callable[[], np.ndarray]:
    """A fetcher of `image` at width x height, shrunk by area only when called (and only if need be)."""

    def fetch() -> np.ndarray:
        if image.shape[1] == width:
            return image
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)

    return fetch


_PTS_TIME = re.compile(r"\bn:\s*\d+\s+pts:\s*-?\d+\s+pts_time:(-?[\d.]+)")


def ffmpeg_frames(
    path: Path, info: MediaInfo, max_side: int | None, sample_fps: float, tol: float, start: float = 0.0
) -> Iterator[tuple[float, Callable[[], np.ndarray]]]:
    """(time, fetch) of the frames the sampling keeps, upright, shrunk and in SDR.

    ffmpeg keeps only frames the sampling wants (the same rule as `_sampled`, as a select
    expression) before it shrinks and converts them, so a 4K60 file costs little more than its
    decoding; showinfo reports each kept frame's time."""
    width, height = output_size(info.width, info.height, max_side)
    step = 1.0 / sample_fps if sample_fps > 0 else 0.0
    # The sampling grid starts at `start`, as in `_sampled`:
    # next = start + (floor((t + tol - start) / step) + 1) * step.
    keep = (
        f"select='if(gte(t,ld(0)-{tol:.6f}),st(0,{start:.6f}+(floor((t+{tol:.6f}-{start:.6f})/{step:.6f})+1)"
        f"*{step:.6f}),0)'"
        if sample_fps > 0
        else "null"
    )
    chain = f"{keep},showinfo,scale={width}:{height}:flags=area,{sdr_filter(info)}"
    seek = ["-ss", f"{start:.3f}"] if start > 0 else []
    cmd = [
        ffmpeg_exe(),
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "info",
        *seek,
        "-copyts",
        "-i",
        str(path),
        "-map",
        "0:v:0",
        "-vf",
        chain,
        "-fps_mode",
        "passthrough",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-",
    ]
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=dies_with_parent
    )
    assert proc.stdout is not None and proc.stderr is not None  # both are pipes
    times: queue.Queue[float | None] = queue.Queue()
    errors: list[str] = []
    reader = threading.Thread(
        target=_read_showinfo, args=(proc.stderr, info.start, times, errors), name="ffmpeg-stderr", daemon=True
    )
    reader.start()
    size = width * height * 3
    try:
        while True:
            data = proc.stdout.read(size)
            if len(data) < size:
                break
            t = times.get()
            if t is None:
                break
            image = np.frombuffer(data, np.uint8).reshape(height, width, 3)
            yield t, _ready(image)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        reader.join(timeout=5)
        proc.stdout.close()
        proc.stderr.close()
    if proc.returncode not in (0, None, -9) and errors:
        log.warning("%s: ffmpeg: %s", path, errors[-1])


def _read_showinfo(stderr: IO[bytes], start: float, times: queue.Queue[float | None], errors: list[str]) -> None:
    """ffmpeg's log: each kept frame's time (less the video's `start`) into `times`, then None at
    its end; the error lines into `errors`."""
    for raw in stderr:
        line = raw.decode("utf-8", "replace")
        if (m := _PTS_TIME.search(line)) is not None:
            times.put(float(m.group(1)) - start)
        elif "rror" in line or "nvalid" in line:
            errors.append(line.strip())
    times.put(None)


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
        gap = 0.5 / sample_fps if sample_fps > 0 else 0.0
        if grey_side:
            gap = min(gap, 1.0 / GREY_MIN_FPS) if gap else 1.0 / GREY_MIN_FPS
        if (
            sample_fps > 0
            and info.fps >= 2 * sample_fps
            and info.fps >= 1.0 / gap
            and _reference_frames_suffice(path, gap)
        ):
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
                    yield t, _fetcher(frame, "rgb24", stored, turns), _luma_fetcher(frame, grey_stored, turns)
                else:
                    yield t, _fetcher(frame, "rgb24", stored, turns)
        except av.error.FFmpegError as exc:  # a damaged tail: the frames so far count, _sampled judges the rest
            log.warning("%s: decoding stopped: %s", path, exc.strerror or exc)


# A ball's flight lasts most of a second: at this rate it is seen in a dozen frames, enough for an arc.
GREY_MIN_FPS = 14.0


def _fetcher(frame: VideoFrame, fmt: str, stored: tuple[int, int], turns: int) -> Callable[[], np.ndarray]:
    """Converts and shrinks a decoded frame (in swscale, in C) only when called, then turns it upright."""

    def fetch() -> np.ndarray:
        image = frame.to_ndarray(format=fmt, width=stored[0], height=stored[1], interpolation="AREA")
        return np.ascontiguousarray(np.rot90(image, turns)) if turns else image

    return fetch


def _luma_fetcher(frame: VideoFrame, stored: tuple[int, int], turns: int) -> Callable[[], np.ndarray]:
    """The frame's own luma plane, shrunk by OpenCV: a quarter of what converting it in swscale costs."""

    def fetch() -> np.ndarray:
        fmt = frame.format.name
        if not fmt.startswith(("yuv", "yuvj", "nv12", "nv21", "p010")) or len(frame.planes) < 2:
            image: np.ndarray = frame.to_ndarray(format="gray", width=stored[0], height=stored[1], interpolation="AREA")
        else:
            plane = frame.planes[0]
            deep = plane.line_size >= 2 * frame.width and ("10" in fmt or "12" in fmt or "16" in fmt)
            dtype = np.uint16 if deep else np.uint8
            luma: np.ndarray = np.frombuffer(plane, dtype)  # type: ignore[call-overload]  # stub: any buffer is fine
            luma = luma.reshape(frame.height, -1)[:, : frame.width]
            if deep:  # 10 or 12 bits in 16: the top eight are enough to see a ball move
                shift = 8 if fmt.startswith("p010") or "16" in fmt else 2 if "10" in fmt else 4
                luma = (luma >> shift).astype(np.uint8)
            image = cv2.resize(luma, stored, interpolation=cv2.INTER_AREA)
            if not fmt.startswith("yuvj") and getattr(frame, "color_range", 0) != 2:
                image = cv2.convertScaleAbs(image, alpha=255 / 219, beta=-16 * 255 / 219)  # video range to full
        return np.ascontiguousarray(np.rot90(image, turns)) if turns else image

    return fetch


SKIP_CHECK_SECONDS = 3.0  # long enough to span a phone's group of pictures a few times


def _reference_frames_suffice(path: Path, gap: float) -> bool:
    """Whether the frames left after skipping non-reference ones come at least every `gap` seconds."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.codec_context.skip_frame = "NONREF"
            assert stream.time_base is not None  # a demuxed stream always has one
            times = []
            for frame in container.decode(stream):
                if frame.pts is not None:
                    times.append(float(frame.pts * stream.time_base))
                if times and times[-1] - times[0] > SKIP_CHECK_SECONDS:
                    break
    except av.error.FFmpegError:
        return False
    return len(times) > 2 and float(np.max(np.diff(np.sort(times)))) <= gap + 1e-6


T = TypeVar("T")
_DONE = object()


def prefetched(items: Iterable[T], depth: int = 8) -> Generator[T, None, None]:
    """Iterate `items` in a thread, `depth` ahead: decoding (which releases the GIL) overlaps
    with scoring on another core. Errors surface in the consumer; closing the consumer stops it."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it in its own thread
            buffer.put(exc)

    thread = threading.Thread(target=produce, name="decode", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full buffer
            try:
                buffer.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.1)
