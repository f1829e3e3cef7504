"""The ffmpeg binary that imageio-ffmpeg ships, and what a media file is: read through PyAV's
structures (streams, metadata, frame side data), never by parsing ffmpeg's human-readable output.
"""

from __future__ import annotations

import ctypes
import json
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from dunkwatch.errors import UnreadableError, VideoError

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _resolve_prctl() -> Callable[[int, int], int] | None:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: nothing to set
        return None


_PRCTL = _resolve_prctl()  # looked up once here: a forked child should only make the call


def dies_with_parent() -> None:
    """For a subprocess's preexec_fn: the child gets SIGKILL when the thread that started it goes
    (PR_SET_PDEATHSIG), so an ffmpeg writing a `.part` file never outlives a service killed with
    -9, and never writes on into a file the restarted service is writing again."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGKILL)


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    duration: float  # seconds, from the container
    width: int  # as displayed, after rotation
    height: int
    rotation: int  # clockwise degrees a player turns the stored picture to show it: 0, 90, 180, 270
    video_codec: str
    fps: float
    audio_codec: str | None  # None when the file has no audio track
    pix_fmt: str = ""  # e.g. yuv420p, yuv420p10le
    color_matrix: str = ""  # ffmpeg's names: bt709, bt2020nc, ...; "" when not tagged
    color_primaries: str = ""
    color_transfer: str = ""  # arib-std-b67 (HLG), smpte2084 (PQ), bt709, ...
    start: float = 0.0  # the container's start time, seconds
    recorded_at: str | None = None  # when filming began (ISO 8601), from the container's metadata
    live_photo: bool = False  # an Apple Live Photo's companion movie (it has a content identifier)
    dolby_vision: bool = False  # Dolby Vision metadata on top of the base layer

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    @property
    def hdr(self) -> bool:
        return self.color_transfer in HDR_TRANSFERS


HDR_TRANSFERS = ("arib-std-b67", "smpte2084")  # HLG (iPhone's default since the 12), PQ

PROBE_SECONDS = 120  # reading a header takes well under a second; this is a hung mount or file


# ffmpeg's names for the colour codes of ISO/IEC 23091-4 (H.273), as `ffmpeg -i` prints them.
_PRIMARIES = {
    1: "bt709",
    4: "bt470m",
    5: "bt470bg",
    6: "smpte170m",
    7: "smpte240m",
    8: "film",
    9: "bt2020",
    10: "smpte428",
    11: "smpte431",
    12: "smpte432",
    22: "jedec-p22",
}
_TRANSFERS = {
    1: "bt709",
    4: "gamma22",
    5: "gamma28",
    6: "smpte170m",
    7: "smpte240m",
    8: "linear",
    9: "log100",
    10: "log316",
    11: "iec61966-2-4",
    12: "bt1361e",
    13: "iec61966-2-1",
    14: "bt2020-10",
    15: "bt2020-12",
    16: "smpte2084",
    17: "smpte428",
    18: "arib-std-b67",
}
_MATRICES = {
    0: "gbr",
    1: "bt709",
    4: "fcc",
    5: "bt470bg",
    6: "smpte170m",
    7: "smpte240m",
    8: "ycgco",
    9: "bt2020nc",
    10: "bt2020c",
    11: "smpte2085",
    12: "chroma-derived-nc",
    13: "chroma-derived-c",
    14: "ictcp",
}
DOLBY_VISION_TAGS = ("dvh1", "dvhe", "dva1", "dvav")


def read_media_info(path: Path) -> MediaInfo:
    """What PyAV reads of the file's structures: the container, its first video and audio streams,
    and the first decoded frame (the display matrix and Dolby Vision metadata ride on frames)."""
    import av

    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise UnreadableError(
            f"{path}: not a readable video (not a media file ffmpeg can open: {exc.strerror or exc})"
        ) from None
    with container:
        if not container.streams.video:
            raise VideoError(f"{path}: not a readable video (no video stream)")
        stream = container.streams.video[0]
        codec = stream.codec_context
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        frame = _first_frame(container, stream)
        if not (codec.width and codec.height) and frame is None:
            # What a demuxer guesses from noise or a stray header: a stream with no picture in it.
            raise UnreadableError(f"{path}: not a readable video (no picture could be decoded from it)")
        rotation = (-int(round(frame.rotation))) % 360 if frame is not None else 0  # the matrix turns counter-clockwise
        # PyAV's stub types frame.side_data as a TypedDict of str keys; it is a SideDataContainer of SideData
        side = {s.type.name for s in frame.side_data} if frame is not None else set()  # type: ignore[attr-defined]
        meta = dict(container.metadata)
        duration = (
            container.duration / 1e6
            if container.duration
            else float(stream.duration * stream.time_base)
            if stream.duration and stream.time_base
            else 0.0
        )
        width, height = (codec.height, codec.width) if rotation in (90, 270) else (codec.width, codec.height)
        return MediaInfo(
            path=path,
            duration=duration,
            width=width,
            height=height,
            rotation=rotation,
            video_codec=codec.name,
            fps=float(rate) if rate else 0.0,
            audio_codec=audio,
            pix_fmt=codec.pix_fmt or "",
            color_matrix=_MATRICES.get(int(codec.colorspace), ""),
            color_primaries=_PRIMARIES.get(int(codec.color_primaries), ""),
            color_transfer=_TRANSFERS.get(int(codec.color_trc), ""),
            start=container.start_time / 1e6 if container.start_time else 0.0,
            recorded_at=meta.get("com.apple.quicktime.creationdate")
            or meta.get("creation_time")
            or stream.metadata.get("creation_time"),
            live_photo="com.apple.quicktime.content.identifier" in meta,
            dolby_vision=str(codec.codec_tag) in DOLBY_VISION_TAGS or bool(side & {"DOVI_METADATA", "DOVI_RPU_BUFFER"}),
        )


def _first_frame(container: InputContainer, stream: VideoStream) -> VideoFrame | None:
    """The first frame that decodes, or None (a truncated file's header can still be read)."""
    import av

    try:
        for frame in container.decode(stream):
            return frame
    except av.error.FFmpegError:
        pass
    return None


def probe(path: str | Path) -> MediaInfo:
    """The file's MediaInfo, read in this process (the video child, `process`, our own clips)."""
    path = _checked(path)
    return read_media_info(path)


def _checked(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise UnreadableError(f"{path}: not a readable video (the file is empty)")
    return path


def probe_apart(path: str | Path) -> MediaInfo:
    """The same, read in a process of its own: a user's file that hangs a read (a hung mount) or
    crashes a demuxer costs that process, never the service that asked."""
    path = _checked(path)
    code = "import sys; from dunkwatch.media import probe_main; probe_main(sys.argv[1])"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=PROBE_SECONDS
        )
    except subprocess.TimeoutExpired:
        raise UnreadableError(
            f"{path}: not a readable video (its header could not be read in {PROBE_SECONDS} s)"
        ) from None
    try:
        answer = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise UnreadableError(
            f"{path}: not a readable video (reading it stopped the reader, which {describe_exit(proc.returncode)})"
        ) from None
    if "error" in answer:
        error = {"UnreadableError": UnreadableError, "VideoError": VideoError}.get(answer["kind"], VideoError)
        raise error(answer["error"])
    return MediaInfo(**{**answer, "path": path})


def probe_main(path: str) -> None:
    """`probe_apart`'s other end: one JSON line on stdout."""
    try:
        info = probe(path)
        print(json.dumps({k: v for k, v in asdict(info).items() if k != "path"}))
    except (UnreadableError, VideoError) as exc:
        print(json.dumps({"error": str(exc), "kind": type(exc).__name__}))


def describe_exit(code: int | None) -> str:
    """How a child process ended, in words: a signal by name and its likely cause, or its exit code."""
    if code is None:
        return "did not exit"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        why = {
            "SIGSEGV": "a crash in a decoder or native library",
            "SIGABRT": "a native library aborted",
            "SIGBUS": "a crash in a decoder or native library",
            "SIGILL": "an illegal instruction",
            "SIGFPE": "a native arithmetic fault",
            "SIGKILL": "killed, most likely by the out-of-memory killer",
        }.get(name)
        return f"died of {name}" + (f" ({why})" if why else "")
    return f"exited with code {code}"
