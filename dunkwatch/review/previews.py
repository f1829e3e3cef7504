"""Browser-playable copies of clips: Chromium and Firefox on Linux play H.264, not HEVC or 10-bit
HDR. Made on first request, cached in the state dir under a name that changes with the clip."""

from __future__ import annotations

import hashlib
import subprocess
import threading
from pathlib import Path

from dunkwatch.fsutil import atomic_target
from dunkwatch.media import MediaInfo, ffmpeg_exe, probe
from dunkwatch.pipeline.decode import sdr_filter

PREVIEW_SECONDS_LIMIT = 600  # a preview of a long reel at 720p takes a while, a hang longer
_lock = threading.Lock()  # one ffmpeg at a time: the page asks for several clips at once


def needs_preview(info: MediaInfo) -> bool:
    return info.video_codec != "h264" or info.pix_fmt not in ("yuv420p", "yuvj420p") or info.hdr


def playable(clip: Path, cache_dir: Path) -> Path:
    """`clip` itself when a browser plays it, else its cached H.264 preview (made now if needed)."""
    info = probe(clip)
    if not needs_preview(info):
        return clip
    st = clip.stat()
    key = hashlib.sha256(f"{clip.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:24]
    preview = cache_dir / f"{key}.mp4"
    with _lock:
        if not preview.exists():
            cache_dir.mkdir(parents=True, exist_ok=True)
            filters = [sdr_filter(info, "yuv420p"), "scale='min(1280,iw)':-2"]
            with atomic_target(preview) as tmp:
                subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(clip),
                                "-vf", ",".join(filters), "-c:v", "libx264", "-preset", "veryfast", "-crf", "26",
                                "-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart", "-f", "mp4", str(tmp)],
                               check=True, capture_output=True, timeout=PREVIEW_SECONDS_LIMIT)
    return preview
