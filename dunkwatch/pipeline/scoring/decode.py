"""VideoReader: upright RGB frames with container timestamps, sampled at a given rate, streamed."""

from __future__ import annotations

import logging
import queue
import re
import subprocess
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Generator, Iterable, Iterator, Protocol, Sequence, TypeVar

import cv2
import numpy as np

from dunkwatch.errors import VideoError
from dunkwatch.imageops import output_size
from dunkwatch.media import MediaInfo, dies_with_parent, ffmpeg_exe, probe
from dunkwatch.pipeline.scoring.pyav_decoder import Decoded, decoder_threads, pyav_frames, unreferenced_may_go

log = logging.getLogger(__name__)

_TRUNCATION_SLACK_S = 2.0  # containers may list a little more duration than the last frame


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
        skip = unreferenced_may_go(self.path, self.info, self.sample_fps, grey=self.tap is not None)
        if self.tap is None:
            yield from ffmpeg_frames(
                self.path, self.info, self.max_side, self.sample_fps, self._tolerance(), self.start, skip
            )
            return
        # The tap needs every frame at its own size: ffmpeg sends them all, each sample is shrunk here.
        side = max(self.tap.side, self.max_side or 0)
        width, height = output_size(self.info.width, self.info.height, self.max_side)
        for t, fetch in ffmpeg_frames(self.path, self.info, side, 0.0, self._tolerance(), self.start, skip):
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
        with TapThread(self.tap) as tap:
            yield from self._sampled_into(frames, tap)

    def _sampled_into(self, frames: Iterable[Decoded], tap: TapThread) -> Iterator[Frame]:
        step = 1.0 / self.sample_fps
        tol = self._tolerance()
        next_time = self.start if self.start > 0 else 0.0
        count = 0
        tapped = -1e9
        for t, fetch, *grey in frames:
            if tap.fps and grey and t >= self.start - tol and t >= tapped + 1.0 / tap.fps - 1e-3:
                tap.feed(t, grey[0])
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
        tap.finish()  # the tap has seen every frame before the last one is handed on
        if count == 0:
            raise VideoError(f"{self.path}: not a readable video (no frame could be decoded)")
        # A half-synced or damaged file ends early: say so rather than cut clips from half a video.
        duration = self.info.duration
        if duration > 0 and self.last_time < duration - max(_TRUNCATION_SLACK_S, 0.05 * duration):
            raise VideoError(
                f"{self.path}: truncated or damaged: frames stop at {self.last_time:.1f} s of {duration:.1f} s"
            )


class TapThread:
    """Feeds a GreyTap in a thread of its own, in order, a few frames behind the decoder: the
    tap's work on every frame then runs beside the decoding instead of holding up the thread
    that feeds the decoder (a whole 1080p run on 2 cores: 8% faster). An error in the tap is
    raised in the reader at the next frame."""

    _BEHIND = 6  # frames fed but not done: each holds its decoded picture (3 MB at 1080p)

    def __init__(self, tap: GreyTap | None) -> None:
        self.tap = tap
        self.fps = tap.fps if tap is not None else 0.0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="tap") if tap is not None else None
        self._pending: deque[Future[None]] = deque()

    def feed(self, time: float, grey: Callable[[], np.ndarray]) -> None:
        assert self._pool is not None and self.tap is not None  # fps is 0 without a tap: never fed
        tap = self.tap
        self._pending.append(self._pool.submit(lambda: tap.feed(time, grey())))
        while len(self._pending) > self._BEHIND:
            self._pending.popleft().result()

    def finish(self) -> None:
        while self._pending:
            self._pending.popleft().result()

    def __enter__(self) -> TapThread:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:  # stopped early (closed, or an error): drop what is not begun
            self._pool.shutdown(wait=True, cancel_futures=True)


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
    path: Path,
    info: MediaInfo,
    max_side: int | None,
    sample_fps: float,
    tol: float,
    start: float = 0.0,
    skip_unreferenced: bool = False,
) -> Iterator[tuple[float, Callable[[], np.ndarray]]]:
    """(time, fetch) of the frames the sampling keeps, upright, shrunk and in SDR.

    ffmpeg keeps only frames the sampling wants (the same rule as `_sampled`, as a select
    expression) before it shrinks and converts them, so a 4K60 file costs little more than its
    decoding; showinfo reports each kept frame's time. With `skip_unreferenced`, the pictures
    nothing refers to are not decoded at all, as in the PyAV reader (see unreferenced_may_go)."""
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
        *(["-skip_frame", "noref"] if skip_unreferenced else []),
        "-threads",
        str(decoder_threads()),
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
