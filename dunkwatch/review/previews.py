"""What the page shows of a clip, made on first request and cached in the state dir under a name
that changes with the clip: a browser-playable copy (Chromium and Firefox on Linux play H.264,
not HEVC or 10-bit HDR), and a poster frame from the middle of the action."""

from __future__ import annotations

import hashlib
import subprocess
import threading
from pathlib import Path

from dunkwatch.fsutil import atomic_target
from dunkwatch.media import MediaInfo, dies_with_parent, ffmpeg_exe, probe
from dunkwatch.pipeline.scoring.decode import sdr_filter

PREVIEW_SECONDS_LIMIT = 600  # a preview of a long reel at 720p takes a while, a hang longer
_lock = threading.Lock()  # one ffmpeg at a time: the page asks for several clips at once


def needs_preview(info: MediaInfo) -> bool:
    return info.video_codec != "h264" or info.pix_fmt not in ("yuv420p", "yuvj420p") or info.hdr


def _cache_key(clip: Path, extra: str = "") -> str:
    st = clip.stat()
    return hashlib.sha256(f"{clip.resolve()}|{st.st_size}|{st.st_mtime_ns}|{extra}".encode()).hexdigest()[:24]


def playable(clip: Path, cache_dir: Path) -> Path:
    """`clip` itself when a browser plays it, else its cached H.264 preview (made now if needed)."""
    info = probe(clip)
    if not needs_preview(info):
        return clip
    preview = cache_dir / f"{_cache_key(clip)}.mp4"
    with _lock:
        if not preview.exists():
            cache_dir.mkdir(parents=True, exist_ok=True)
            filters = [sdr_filter(info, "yuv420p"), "scale='min(1280,iw)':-2"]
            with atomic_target(preview) as tmp:
                subprocess.run(
                    [
                        ffmpeg_exe(),
                        "-nostdin",
                        "-hide_banner",
                        "-loglevel",
                        "error",
                        "-y",
                        "-i",
                        str(clip),
                        "-vf",
                        ",".join(filters),
                        "-c:v",
                        "libx264",
                        "-preset",
                        "veryfast",
                        "-crf",
                        "26",
                        "-c:a",
                        "aac",
                        "-b:a",
                        "96k",
                        "-movflags",
                        "+faststart",
                        "-f",
                        "mp4",
                        str(tmp),
                    ],
                    check=True,
                    capture_output=True,
                    timeout=PREVIEW_SECONDS_LIMIT,
                    preexec_fn=dies_with_parent,
                )
    return preview


def poster(clip: Path, at: float, cache_dir: Path) -> Path:
    """A JPEG of the clip's frame `at` seconds in (the middle of the action), 480 px wide, in SDR."""
    image = cache_dir / f"{_cache_key(clip, f'{at:.2f}')}.jpg"
    with _lock:
        if not image.exists():
            info = probe(clip)
            cache_dir.mkdir(parents=True, exist_ok=True)
            filters = [sdr_filter(info, "yuv420p")] if info.hdr else []
            filters.append("scale='min(480,iw)':-2")
            with atomic_target(image) as tmp:
                subprocess.run(
                    [
                        ffmpeg_exe(),
                        "-nostdin",
                        "-hide_banner",
                        "-loglevel",
                        "error",
                        "-y",
                        "-ss",
                        f"{max(0.0, min(at, info.duration - 0.05)):.3f}",
                        "-i",
                        str(clip),
                        "-frames:v",
                        "1",
                        "-vf",
                        ",".join(filters),
                        "-q:v",
                        "4",
                        "-f",
                        "image2",
                        str(tmp),
                    ],
                    check=True,
                    capture_output=True,
                    timeout=60,
                    preexec_fn=dies_with_parent,
                )
    return image
