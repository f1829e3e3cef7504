"""Every smart clip and reel plays frame for frame in the players people use (issue 31).

Three small 8 s sources, stored as phones and cameras store them:
  - h264_bframes: H.264 High with B-frames (x264 medium) and a 2 s GOP, AAC;
  - hevc_iphone: HEVC with open GOPs of 1 s, stored sideways with a -90 display rotation, AAC;
  - hlg_10bit: 10-bit HLG HEVC with open GOPs of 1 s.
Three smart clips of each, each holding a keyframe and starting on none (the last three frames
before one: a head shorter than the keyframe's decode delay), and their reel. PyAV's frames must
be the source's frames from each segment's first to its last; then every player must show as many:
`ffmpeg -v error` silent, GStreamer's qtdemux samples and its libav decoder (and OpenH264 for
H.264), VLC's video output (matched to PyAV's frames by content, every one in order), mediainfo's
count; and an HEVC `hvcC` covers the tier and level of every set it holds.

The players are Debian packages `make test` brings (`system-packages`). Run with `-s` for the table.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import run_ffmpeg
from test_smart_cut import tiers_and_levels

from dunkwatch.config import from_dict
from dunkwatch.media import probe
from dunkwatch.pipeline.cutting.export import write_clips
from dunkwatch.pipeline.scoring.segment import Segment

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helpers"))
from players import ffmpeg_errors, gst_frames, mediainfo_frames, nearest, thumb, vlc_shown  # noqa: E402

FPS = 30
SECONDS = 8
# Each holds a keyframe of both GOPs (2 s and 1 s) and starts on none; the last ends near the source's end.
SEGMENTS = ((1.4, 3.3), (3.7, 5.5), (5.9, 7.6))
SOURCES = {
    "h264_bframes": (
        ["-c:v", "libx264", "-preset", "medium", "-profile:v", "high", "-g", "60", "-bf", "3", "-pix_fmt", "yuv420p"],
        [],
    ),
    "hevc_iphone": (
        ["-c:v", "libx265", "-preset", "fast", "-x265-params", "log-level=error:keyint=30:min-keyint=30:open-gop=1"]
        + ["-pix_fmt", "yuv420p", "-tag:v", "hvc1"],
        ["-display_rotation", "-90"],
    ),
    "hlg_10bit": (
        [
            "-c:v",
            "libx265",
            "-preset",
            "fast",
            "-x265-params",
            "log-level=error:keyint=30:min-keyint=30:open-gop=1:"
            "colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc",
            "-pix_fmt",
            "yuv420p10le",
            "-tag:v",
            "hvc1",
        ]
        + ["-color_primaries", "bt2020", "-color_trc", "arib-std-b67", "-colorspace", "bt2020nc"],
        [],
    ),
}


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder VLC can read when it runs as `nobody` (pytest's own are private to this user)."""
    folder = Path(tempfile.mkdtemp(prefix="players-"))
    os.chmod(folder, 0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def make_source(name: str, folder: Path) -> Path:
    encoder, rotation = SOURCES[name]
    stored = folder / f"{name}.mov"
    pattern, tone = f"testsrc2=s=320x180:r={FPS}:d={SECONDS}", f"sine=d={SECONDS}:sample_rate=48000"
    run_ffmpeg("-f", "lavfi", "-i", pattern, "-f", "lavfi", "-i", tone, *encoder, "-c:a", "aac", str(stored))
    if not rotation:
        return stored
    turned = folder / f"{name}_turned.mov"
    run_ffmpeg(*rotation, "-i", str(stored), "-c", "copy", str(turned))
    return turned


def thumbs(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [thumb(f.to_ndarray(format="rgb24")) for f in container.decode(container.streams.video[0])]


def hvcc_covers_its_sets(path: Path) -> bool:
    with av.open(str(path)) as container:
        record = container.streams.video[0].codec_context.extradata
    assert record is not None, path.name
    (tier, level), sets = tiers_and_levels(bytes(record))
    return bool(sets) and all(t <= tier and lv <= level for t, lv in sets)


@pytest.mark.slow  # VLC plays each file in real time (the reel: 5.4 s), mostly waiting: it starts early
@pytest.mark.parametrize("name", list(SOURCES))
def test_every_player_shows_every_frame_of_every_clip_and_reel(name: str, shared_folder: Path) -> None:
    source = make_source(name, shared_folder)
    segments = [Segment(start=a, end=b, clip_start=a, clip_end=b, peak=1.0) for a, b in SEGMENTS]
    clips, reel = write_clips(
        probe(source), segments, shared_folder, from_dict({"export": {"mode": "smart"}}, shared_folder).export
    )
    assert reel is not None and len(clips) == len(SEGMENTS)
    # The sidecar's segments, in the source's frames: from the one at clip_start to the last before clip_end.
    wanted = [list(range(round(a * FPS), round(b * FPS))) for a, b in SEGMENTS]
    source_frames = thumbs(source)
    files = [*zip(clips, wanted), (reel, [i for clip in wanted for i in clip])]
    for path, _ in files:
        os.chmod(path, 0o644)
    references = {path: thumbs(path) for path, _ in files}
    codec = "h264" if name.startswith("h264") else "h265"
    rows, wrong = [], []
    checked: list[tuple[Path, str, dict[str, int], int]] = []
    # VLC plays in real time and costs little CPU: all four files play at once while the rest is checked.
    with ThreadPoolExecutor(len(files)) as pool:
        plays = {path: pool.submit(vlc_shown, path, references[path]) for path, _ in files}
        for path, frames in files:
            reference = references[path]
            label = "reel" if path == reel else path.name
            if [nearest(f, source_frames) for f in reference] != frames:
                wrong.append(f"{label}: PyAV's frames are not the source's {frames[0]} to {frames[-1]}")
            counts = {
                "qtdemux samples": gst_frames(path, ""),
                "GStreamer libav": gst_frames(path, f"{codec}parse ! avdec_{codec} !"),
                "mediainfo": mediainfo_frames(path),
            }
            if codec == "h264":
                counts["GStreamer OpenH264"] = gst_frames(path, "h264parse ! openh264dec !")
            errors = ffmpeg_errors(path)
            wrong += [
                f"{label}: {player} {n} of {len(reference)}" for player, n in counts.items() if n != len(reference)
            ]
            wrong += [f"{label}: ffmpeg -v error: {line}" for line in errors[:3]]
            if codec == "h265" and not hvcc_covers_its_sets(path):
                wrong.append(f"{label}: the hvcC does not cover its sets' tier and level")
            checked.append((path, label, counts, len(errors)))
    for path, label, counts, error_count in checked:
        vlc = plays[path].result()
        if vlc.missing or not vlc.in_order():
            # Played again alone: four real-time plays at once, beside the rest of a loaded suite,
            # lost both ends of the reel in five plays once, and alone it showed every frame.
            vlc = vlc_shown(path, references[path])
        if vlc.missing or not vlc.in_order():
            wrong.append(
                f"{label}: VLC missed {vlc.missing[:8]} or showed them out of order, in {vlc.plays} plays alone"
            )
        rows.append(
            f"| {name} | {label} | {len(references[path])} | {error_count} | "
            + " | ".join(f"{p} {n}" for p, n in counts.items())
            + f" | VLC {len(set(vlc.shown))} ({vlc.plays} plays) |"
        )
    print("\n" + "\n".join(rows))
    assert not wrong, "\n".join(wrong)
