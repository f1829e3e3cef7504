"""The ffmpeg arguments every clip and reel shares, in one place (as Frigate keeps its presets):
how a clip is dated, its audio, its video encoding when re-encoded, its colour tags, and the mp4
it is written as. export.py and smart_cut.py build every clip's and reel's command from these.
Two callers keep their own, on purpose: decoding (scoring/decode.py) asks ffmpeg for frames, not
files, and the review page's previews are small H.264 copies for a phone's browser.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from dunkwatch.config import ExportConfig
from dunkwatch.media import MediaInfo
from dunkwatch.pipeline.scoring.decode import sdr_filter

# A clip's audio: AAC, which every player and the mp4 container take.
AAC = ["-c:a", "aac", "-b:a", "160k"]
# The mp4 a clip or reel is written as: its index first, so a phone plays it while it loads.
# Composition offsets stay positive (the edit list starts at the first frame shown): with negative
# ones (ctts version 1) VLC lost the last frame of clips with a re-encoded tail (test_players.py).
MP4_FILE = ["-movflags", "+faststart+use_metadata_tags", "-f", "mp4"]
# ... and a clip cut from the original is not half of a Live Photo: without the empty identifier,
# Photos could pair it with the still. (A reel joins clips that carry it already.)
MP4 = ["-metadata", "com.apple.quicktime.content.identifier=", *MP4_FILE]


def source_cut(path: Path, start: float, duration: float) -> list[str]:
    """The original as an input from `start` for `duration` seconds: the seek before -i, so that a
    re-encode starts on the exact frame, and -t before -i, so that slow motion stretches the
    output rather than cutting it short."""
    return ["-ss", f"{max(0.0, start):.6f}", "-t", f"{duration:.6f}", "-i", str(path)]


def clip_streams(video: int, source: int) -> list[str]:
    """A clip's streams: the video of input `video`; the audio (when there is any) and the metadata
    of input `source`, the original; no subtitles or data tracks."""
    return ["-map", f"{video}:v:0", "-map", f"{source}:a:0?", "-map_metadata", str(source), "-sn", "-dn"]


def hvc1_tag(codec: str | None) -> list[str]:
    """Apple players only play HEVC in mp4 tagged hvc1."""
    return ["-tag:v", "hvc1"] if codec in ("hevc", "h265") else []


def recorded(recorded_at: str | None, offset: float = 0.0) -> dt.datetime | None:
    """The moment `offset` seconds into a video whose recording began at `recorded_at` (ISO 8601;
    Apple's creationdate carries the phone's local offset, creation_time is UTC)."""
    if not recorded_at:
        return None
    try:
        when = dt.datetime.fromisoformat(recorded_at)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)  # QuickTime's creation_time is UTC
    return when + dt.timedelta(seconds=offset)


def recording_time(recorded_at: str | None, offset: float) -> dict[str, str]:
    """The metadata that dates a clip at the moment it was filmed: `creation_time` (UTC) and
    Apple's `creationdate` (local time), which Photos sorts by."""
    when = recorded(recorded_at, offset)
    if when is None:
        return {}
    utc = when.astimezone(dt.timezone.utc)
    return {
        "creation_time": utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "com.apple.quicktime.creationdate": when.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def dating_args(recorded_at: str | None, offset: float) -> list[str]:
    args = []
    for key, value in recording_time(recorded_at, offset).items():
        args += ["-metadata", f"{key}={value}"]
        if key == "creation_time":  # the tracks carry their own copy of the source's
            args += ["-metadata:s", f"{key}={value}"]
    return args


def atempo_chain(speed: float) -> str:
    """atempo takes 0.5..2 per stage; chain stages for slower speeds, pitch unchanged."""
    stages = []
    while speed < 0.5:
        stages.append("atempo=0.5")
        speed /= 0.5
    stages.append(f"atempo={speed:.6f}")
    return ",".join(stages)


def colour_options(info: MediaInfo) -> tuple[list[str], list[str]]:
    """The source's colour tags as ffmpeg options (the container's `colr`) and as encoder
    parameters (the bitstream's VUI: this ffmpeg's libx264 and libx265 do not copy them over)."""
    options, vui = [], []
    for option, name, value in (
        ("-color_primaries", "colorprim", info.color_primaries),
        ("-color_trc", "transfer", info.color_transfer),
        ("-colorspace", "colormatrix", info.color_matrix),
    ):
        if value:
            options += [option, value]
            vui.append(f"{name}={value}")
    return options, vui


def video_encoding(info: MediaInfo, cfg: ExportConfig) -> tuple[list[str], list[str]]:
    """(encoder arguments, filters) for a re-encoded clip: H.264 for SDR; for HDR, 10-bit HEVC
    with the source's colour tags (export.hdr = keep) or tone-mapped H.264 in BT.709 (sdr)."""
    if info.hdr and cfg.hdr == "keep":
        tags = f"colorprim={info.color_primaries}:transfer={info.color_transfer}:colormatrix={info.color_matrix}"
        return (
            [
                "-c:v",
                "libx265",
                "-preset",
                cfg.preset,
                "-crf",
                str(cfg.crf),
                "-pix_fmt",
                "yuv420p10le",
                "-x265-params",
                f"log-level=error:{tags}",
                *hvc1_tag("hevc"),
                "-color_primaries",
                info.color_primaries,
                "-color_trc",
                info.color_transfer,
                "-colorspace",
                info.color_matrix,
                "-color_range",
                "tv",
                "-dolbyvision",
                "0",
            ],
            [],
        )  # its Dolby Vision layer cannot be re-encoded: plain HLG/PQ
    sdr = ["-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709"] if info.hdr else []
    filters = [sdr_filter(info, "yuv420p")] if info.hdr else []
    return ["-c:v", "libx264", "-preset", cfg.preset, "-crf", str(cfg.crf), "-pix_fmt", "yuv420p", *sdr], filters
