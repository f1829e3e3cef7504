"""The players people use, asked how many frames of a file they show (issue 31's players suite).

Each runs as a user would run it on a desktop, but headless and from the command line:
  - GStreamer: `qtdemux` alone (its samples), then with libav's decoder or OpenH264;
  - VLC 3: every picture its video output is handed, written by the scene filter;
  - mediainfo's frame count; `ffmpeg -v error`'s complaints.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dunkwatch.media import ffmpeg_exe

THUMB = (64, 36)  # frames are compared at this size: enough to tell a moving pattern's frames apart


def thumb(image: np.ndarray) -> np.ndarray:
    return cv2.resize(image, THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)


def nearest(image: np.ndarray, reference: list[np.ndarray]) -> int:
    """Which of the reference's frames an image is (by mean absolute difference)."""
    return int(np.argmin([np.abs(image - frame).mean() for frame in reference]))


def ffmpeg_errors(path: Path) -> list[str]:
    done = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return [line for line in done.stderr.splitlines() if line.strip()]


def gst_frames(path: Path, chain: str) -> int:
    """Buffers that reach the sink through `qtdemux ! {chain}`: samples with an empty chain."""
    pipeline = f"filesrc location={path} ! qtdemux name=d d.video_0 ! {chain} fakesink sync=false silent=false"
    done = subprocess.run(["gst-launch-1.0", "-v", *pipeline.split()], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"gst-launch-1.0 {chain or 'qtdemux'} failed on {path.name}: {done.stderr.strip()[-300:]}")
    return done.stdout.count("chain   *******")


def mediainfo_frames(path: Path) -> int:
    done = subprocess.run(
        ["mediainfo", "--Inform=Video;%FrameCount%", str(path)], capture_output=True, text=True, timeout=60
    )
    return int(done.stdout.strip() or -1)


@dataclass(frozen=True)
class VlcPlay:
    frames: int  # in the reference
    shown: tuple[int, ...]  # the reference frame each written picture is, in the order written
    plays: int  # how many plays it took

    @property
    def missing(self) -> list[int]:
        return sorted(set(range(self.frames)) - set(self.shown))

    def in_order(self) -> bool:
        return all(a <= b for a, b in zip(self.shown, self.shown[1:]))


# VLC's output now and then loses the first picture of any file while it starts, the plain sources
# included (1 play in 16 with the two cores busy): a play that loses frames is played again. A
# frame lost in every play is what a viewer would always miss.
VLC_PLAYS = 5


def vlc_shown(path: Path, reference: list[np.ndarray]) -> VlcPlay:
    """The reference frames VLC's video output shows, in order; VLC may show one twice. It plays in
    real time, with sound (to a silent output), as a viewer plays it: played faster, it showed a
    last frame that it drops at normal speed; and without sound it ends a file once its video
    output has taken the last picture off its queue, a frame before showing it (a race the README
    describes, lost by plain encoder files too). `path` must be readable by `nobody`
    when this runs as root (VLC refuses root)."""
    play = VlcPlay(len(reference), (), 0)
    for attempt in range(1, VLC_PLAYS + 1):
        play = VlcPlay(len(reference), _vlc_once(path, reference), attempt)
        if not play.missing and play.in_order():
            break
    return play


def _vlc_once(path: Path, reference: list[np.ndarray]) -> tuple[int, ...]:
    with tempfile.TemporaryDirectory(prefix="vlc-") as out:
        os.chmod(out, 0o777)
        cmd = ["cvlc", "-q", "--aout=adummy", "--vout=dummy", "--video-filter=scene", "--scene-format=png"]
        cmd += ["--scene-ratio=1", "--scene-width=160", "--scene-height=90", "--scene-prefix=f"]
        cmd += [f"--scene-path={out}", "--play-and-exit", str(path)]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "nobody", "--", *cmd]
        subprocess.run(cmd, capture_output=True, timeout=120, check=True)
        return tuple(nearest(thumb(_rgb(p)), reference) for p in sorted(Path(out).glob("*.png")))


def _rgb(png: Path) -> np.ndarray:
    image = cv2.imread(str(png))
    assert image is not None, f"VLC wrote an unreadable picture: {png}"
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
