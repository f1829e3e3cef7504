"""Smart clips and reels through the players people use, frame by frame (issue 31).

    .venv/bin/python bench/players.py [--keep DIR]

Makes three small sources the way phones and cameras store them:
  - h264_bframes: H.264 High with B-frames (x264 medium) and a 2 s GOP, AAC;
  - hevc_iphone: HEVC with open GOPs of 1 s, stored sideways with a -90 display rotation, AAC;
  - hlg_10bit: 10-bit HLG HEVC with open GOPs of 1 s.
It cuts three clips of each (export.mode = smart) and their reel, and counts the frames each
player shows, against PyAV's count:
  - ffmpeg: `-v error` lines while decoding (0 expected);
  - GStreamer: qtdemux's samples, then its libav decoder, and OpenH264 for H.264;
  - VLC 3: every displayed frame written out (the scene filter), matched to PyAV's frames by
    content, since VLC may show a frame twice; run as `nobody` when this is root (VLC refuses root);
  - mediainfo's frame count.
A player that is not installed is reported as such (Debian: gstreamer1.0-tools,
gstreamer1.0-plugins-good, gstreamer1.0-plugins-bad, gstreamer1.0-libav, vlc-bin,
vlc-plugin-base, mediainfo). VLC plays in real time: the run takes about two minutes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dunkwatch.config import from_dict  # noqa: E402
from dunkwatch.media import ffmpeg_exe, probe  # noqa: E402
from dunkwatch.pipeline.cutting.export import write_clips  # noqa: E402
from dunkwatch.pipeline.scoring.segment import Segment  # noqa: E402

CLIPS = ((1.4, 4.6), (6.2, 8.9), (9.1, 11.3))  # none on a keyframe; the last ends near the source's end
SOURCES = {
    "h264_bframes": (
        ["-c:v", "libx264", "-preset", "medium", "-profile:v", "high", "-g", "60", "-bf", "3"],
        ["-pix_fmt", "yuv420p"],
        [],
    ),
    "hevc_iphone": (
        ["-c:v", "libx265", "-preset", "fast", "-x265-params", "log-level=error:keyint=30:min-keyint=30:open-gop=1"],
        ["-pix_fmt", "yuv420p", "-tag:v", "hvc1"],
        ["-display_rotation", "-90"],
    ),
    "hlg_10bit": (
        [
            "-c:v",
            "libx265",
            "-preset",
            "fast",
            "-x265-params",
            "log-level=error:keyint=30:min-keyint=30:open-gop=1:colorprim=bt2020:transfer=arib-std-b67:"
            "colormatrix=bt2020nc",
        ],
        ["-pix_fmt", "yuv420p10le", "-tag:v", "hvc1", "-color_primaries", "bt2020", "-color_trc", "arib-std-b67"],
        [],
    ),
}


def ffmpeg(*args: str) -> str:
    done = subprocess.run([ffmpeg_exe(), "-hide_banner", *args], capture_output=True, text=True)
    return done.stderr


def make_source(name: str, folder: Path) -> Path:
    encoder, tags, rotation = SOURCES[name]
    stored = folder / f"{name}_stored.mov"
    ffmpeg(
        "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=640x360:r=30:d=12",
        "-f", "lavfi", "-i", "sine=d=12:sample_rate=48000", *encoder, *tags, "-c:a", "aac", str(stored),
    )  # fmt: skip
    if not rotation:
        return stored
    path = folder / f"{name}.mov"
    ffmpeg("-v", "error", "-y", *rotation, "-i", str(stored), "-c", "copy", str(path))
    return path


def pyav_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [_small(f.to_ndarray(format="rgb24")) for f in container.decode(container.streams.video[0])]


def _small(image: np.ndarray) -> np.ndarray:
    return cv2.resize(image, (64, 36), interpolation=cv2.INTER_AREA).astype(np.float32)


def gst_count(path: Path, chain: str) -> str:
    if shutil.which("gst-launch-1.0") is None:
        return "not installed"
    pipeline = f"filesrc location={path} ! qtdemux name=d d.video_0 ! {chain} fakesink sync=false silent=false"
    done = subprocess.run(["gst-launch-1.0", "-v", *pipeline.split()], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        return "failed: " + (done.stderr.strip().splitlines() or ["?"])[-1][:60]
    return str(done.stdout.count("chain   *******"))


def vlc_shown(path: Path, reference: list[np.ndarray]) -> str:
    if shutil.which("cvlc") is None:
        return "not installed"
    with tempfile.TemporaryDirectory(prefix="vlc-") as out:
        os.chmod(out, 0o777)
        cmd = ["cvlc", "-q", "--no-audio", "--vout=dummy", "--video-filter=scene", "--scene-format=png"]
        cmd += ["--scene-ratio=1", "--scene-prefix=f", f"--scene-path={out}", "--play-and-exit", str(path)]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "nobody", "--", *cmd]
        subprocess.run(cmd, capture_output=True, timeout=120)
        shown = {_nearest(png, reference) for png in Path(out).glob("*.png")}
    missing = sorted(set(range(len(reference))) - shown)
    return f"{len(shown)}" + (f" (missing {missing[:6]})" if missing else "")


def _nearest(png: Path, reference: list[np.ndarray]) -> int:
    """Which of the clip's frames a frame VLC showed is."""
    image = _small(cv2.cvtColor(cv2.imread(str(png)), cv2.COLOR_BGR2RGB))
    return int(np.argmin([np.abs(image - frame).mean() for frame in reference]))


def mediainfo_count(path: Path) -> str:
    if shutil.which("mediainfo") is None:
        return "not installed"
    return subprocess.run(
        ["mediainfo", "--Inform=Video;%FrameCount%", str(path)], capture_output=True, text=True
    ).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, help="write the sources and clips here and keep them")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="players-"))
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o755)
    print("| source | file | PyAV | ffmpeg -v error lines | qtdemux samples | GStreamer libav | "
          "GStreamer OpenH264 | VLC (distinct frames) | mediainfo |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    try:
        for name in SOURCES:
            source = make_source(name, folder)
            out = folder / name
            out.mkdir(exist_ok=True)
            segments = [Segment(start=s, end=e, clip_start=s, clip_end=e, peak=1.0) for s, e in CLIPS]
            clips, reel = write_clips(
                probe(source), segments, out, from_dict({"export": {"mode": "smart"}}, out).export
            )
            for path in [*clips, *([reel] if reel else [])]:
                os.chmod(path, 0o644)
                reference = pyav_frames(path)
                errors = len(
                    [line for line in ffmpeg("-v", "error", "-i", str(path), "-f", "null", "-").splitlines() if line]
                )
                decoder = "h264parse ! avdec_h264 !" if name.startswith("h264") else "h265parse ! avdec_h265 !"
                openh264 = gst_count(path, "h264parse ! openh264dec !") if name.startswith("h264") else ""
                print(
                    f"| {name} | {'reel' if path == reel else path.name} | {len(reference)} | {errors} | "
                    f"{gst_count(path, '')} | {gst_count(path, decoder)} | {openh264} | "
                    f"{vlc_shown(path, reference)} | {mediainfo_count(path)} |",
                    flush=True,
                )
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
