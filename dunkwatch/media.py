"""The ffmpeg binary that imageio-ffmpeg ships, and what it tells about a media file.

imageio-ffmpeg ships ffmpeg but no ffprobe, so probing parses `ffmpeg -i`'s stream listing.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from dunkwatch.errors import UnreadableError, VideoError


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


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

_DURATION = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_START = re.compile(r"Duration:[^\n]*?start: (-?\d+(?:\.\d+)?)")
_PIX_FMT = re.compile(r", ((?:yuv|yuvj|rgb|bgr|gbr|gray|nv|p0)[a-z0-9_]*)(?:\(([^)]*)\))?")
_META = re.compile(r"^\s+([\w.\-]+)\s*: (.*)$", re.M)
_VIDEO = re.compile(r"Stream #\d+:\d+.*?: Video: (\w+).*?, (\d{2,5})x(\d{2,5})")
_AUDIO = re.compile(r"Stream #\d+:\d+.*?: Audio: (\w+)")
_FPS = re.compile(r"([\d.]+) (?:fps|tbr)")
_DISPLAY_MATRIX = re.compile(r"rotation of (-?[\d.]+) degrees")
_ROTATE_TAG = re.compile(r"^\s*rotate\s*:\s*(-?\d+)", re.M)


def parse_ffmpeg_listing(path: Path, text: str) -> MediaInfo:
    """Turn `ffmpeg -i` stderr into MediaInfo; pure, so it is testable without a file."""
    video = _VIDEO.search(text)
    if not video:
        if "Stream #" in text:
            raise VideoError(f"{path}: not a readable video (no video stream)")
        raise UnreadableError(f"{path}: not a readable video (not a media file ffmpeg can open)")
    duration_match = _DURATION.search(text)
    duration = 0.0
    if duration_match:
        h, m, s = duration_match.groups()
        duration = int(h) * 3600 + int(m) * 60 + float(s)
    # Rotation metadata follows its own stream's line; look only after the video stream.
    after_video = text[video.end():]
    next_stream = after_video.find("Stream #")
    video_block = after_video if next_stream < 0 else after_video[:next_stream]
    rotation = 0
    if (m := _DISPLAY_MATRIX.search(video_block)) is not None:
        rotation = int(round(-float(m.group(1)))) % 360  # display matrix angles are counter-clockwise
    elif (m := _ROTATE_TAG.search(video_block)) is not None:
        rotation = int(m.group(1)) % 360
    stored_w, stored_h = int(video.group(2)), int(video.group(3))
    width, height = (stored_h, stored_w) if rotation in (90, 270) else (stored_w, stored_h)
    line_end = text.find("\n", video.start())
    video_line = text[video.start(): line_end if line_end >= 0 else None]
    fps_match = _FPS.search(video_line)
    audio = _AUDIO.search(text)
    pix_fmt, matrix, primaries, transfer = _colours(video_line)
    start_match = _START.search(text)
    meta = _container_metadata(text)
    recorded = meta.get("com.apple.quicktime.creationdate") or meta.get("creation_time")
    return MediaInfo(path=path, duration=duration, width=width, height=height, rotation=rotation,
                     video_codec=video.group(1), fps=float(fps_match.group(1)) if fps_match else 0.0,
                     audio_codec=audio.group(1) if audio else None, pix_fmt=pix_fmt, color_matrix=matrix,
                     color_primaries=primaries, color_transfer=transfer,
                     start=float(start_match.group(1)) if start_match else 0.0, recorded_at=recorded,
                     live_photo="com.apple.quicktime.content.identifier" in meta,
                     dolby_vision="DOVI configuration record" in video_block or "dvh1" in video_line
                     or "dvhe" in video_line)


def _colours(video_line: str) -> tuple[str, str, str, str]:
    """(pix_fmt, matrix, primaries, transfer) from "yuv420p10le(tv, bt2020nc/bt2020/arib-std-b67, progressive)";
    ffmpeg prints one name when all three agree: "yuv420p(tv, bt709)"."""
    m = _PIX_FMT.search(video_line)
    if not m:
        return "", "", "", ""
    matrix = primaries = transfer = ""
    for part in (m.group(2) or "").split(", "):
        part = part.strip()
        if "/" in part:
            matrix, primaries, transfer = (part.split("/") + ["", ""])[:3]
        elif part and part not in ("tv", "pc", "progressive", "top first", "bottom first", "top coded first (swapped)",
                                   "bottom coded first (swapped)", "unknown"):
            matrix = primaries = transfer = part
    return m.group(1), matrix, primaries, transfer


def _container_metadata(text: str) -> dict[str, str]:
    """The file-level metadata block (between "Input #0" and "Duration:"): creation_time, Apple's keys."""
    start, end = text.find("Input #0"), text.find("Duration:")
    if start < 0 or end < start:
        return {}
    return {k: v.strip() for k, v in _META.findall(text[start:end])}


PROBE_SECONDS = 120  # reading a header takes well under a second; this is a hung mount or file


def probe(path: str | Path) -> MediaInfo:
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise UnreadableError(f"{path}: not a readable video (the file is empty)")
    try:
        proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
                              capture_output=True, text=True, errors="replace", timeout=PROBE_SECONDS)
    except subprocess.TimeoutExpired:
        # A file on a hung mount, or one ffmpeg cannot make sense of: the file's problem, not the service's.
        raise UnreadableError(f"{path}: not a readable video (ffmpeg could not read its header in "
                              f"{PROBE_SECONDS} s)") from None
    return parse_ffmpeg_listing(path, proc.stderr)
