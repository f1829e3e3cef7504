"""Labelled frames of the archived originals, upright, resized, cached as uint8 under the state dir.

The cache holds one file per (video sha256, input size): the frame times and the frames. A later
run extracts only the times it lacks, seeking to the first of them. Validation is split by
video, never by frame, because neighbouring frames are near copies.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from dunkwatch.fsutil import atomic_target
from dunkwatch.imageops import decode_side, model_input
from dunkwatch.pipeline.scoring.decode import VideoReader
from dunkwatch.zones import ZoneFilter, Zones

log = logging.getLogger(__name__)

_KEY_MS = 1000.0  # cache keys are times rounded to the millisecond


@dataclass
class LabelledVideo:
    sha256: str
    name: str
    path: Path  # the archived original
    times: np.ndarray  # frame times that carry a label
    labels: np.ndarray  # 1.0 player in view, 0.0 empty
    weights: np.ndarray  # > 0
    corrected: bool = False  # the user corrected some of its frames
    zones: Zones = ()  # greyed out, as when it was scored

    @property
    def positives(self) -> int:
        return int(np.sum(self.labels > 0.5))


def sample_times(duration: float, fps: float) -> np.ndarray:
    """Training frame times: every 1/fps seconds, from the first frame."""
    return np.arange(0.0, max(0.0, duration - 1e-6), 1.0 / fps)


class FrameCache:
    """uint8 (size x size x 3) frames keyed by (sha256, time), extracted only once."""

    def __init__(self, root: Path, size: int, sample_fps: float) -> None:
        # Frames decoded by the one reader the service uses; the OpenCV reader's, cached before it
        # went (frames_<size>/), differ by a level here and there and are not mixed in.
        self.root = Path(root) / f"frames_{size}_pyav"
        shutil.rmtree(Path(root) / f"frames_{size}", ignore_errors=True)  # our cache: rebuilt as needed
        self.size = size
        self.sample_fps = sample_fps

    def _file(self, sha256: str, zones: Zones = ()) -> Path:
        if not zones:
            return self.root / f"{sha256}.npz"
        drawn = hashlib.sha256(repr(zones).encode()).hexdigest()[:12]  # other zones: other frames
        return self.root / f"{sha256}-{drawn}.npz"

    def _load(self, sha256: str, zones: Zones = ()) -> tuple[np.ndarray, np.ndarray]:
        try:
            with np.load(self._file(sha256, zones)) as data:
                return data["keys"], data["frames"]
        except (OSError, ValueError, KeyError):
            return np.zeros(0, np.int64), np.zeros((0, self.size, self.size, 3), np.uint8)

    def frames(self, video: LabelledVideo) -> tuple[np.ndarray, np.ndarray]:
        """(frames, found): the frames at video.times that could be decoded, in order; missing
        ones are decoded now and cached. `found` marks which of video.times they are."""
        wanted = np.round(np.asarray(video.times) * _KEY_MS).astype(np.int64)
        keys, frames = self._load(video.sha256, video.zones)
        missing = np.setdiff1d(wanted, keys)
        if len(missing):
            new_keys, new_frames = self._extract(video.path, missing / _KEY_MS, ZoneFilter(video.zones))
            keys = np.concatenate([keys, new_keys])
            frames = np.concatenate([frames, new_frames])
            order = np.argsort(keys, kind="stable")
            keys, frames = keys[order], frames[order]
            self.root.mkdir(parents=True, exist_ok=True)
            with atomic_target(self._file(video.sha256, video.zones)) as tmp:
                with open(tmp, "wb") as fh:
                    np.savez(fh, keys=keys, frames=frames)
        index = {int(k): i for i, k in enumerate(keys)}
        positions = [index.get(int(k)) for k in wanted]
        found = np.array([i is not None for i in positions], dtype=bool)
        if not found.all():
            log.warning("%s: %d labelled frame(s) could not be decoded; left out", video.path, int((~found).sum()))
        picked = np.asarray([i for i in positions if i is not None], dtype=np.int64)
        return frames[picked], found

    def _extract(self, path: Path, times: np.ndarray, zones: ZoneFilter) -> tuple[np.ndarray, np.ndarray]:
        """Decode from the first missing time on; keep the frame nearest each missing time."""
        times = np.sort(times)
        step = 1.0 / self.sample_fps
        best: dict[int, tuple[float, np.ndarray]] = {}
        reader = VideoReader(
            path, max(self.sample_fps, 1.0) * 4, max_side=decode_side(self.size), start=max(0.0, float(times[0]) - step)
        )
        try:
            for frame in reader:
                if frame.time > times[-1] + step:
                    break
                i = int(np.argmin(np.abs(times - frame.time)))
                gap = abs(times[i] - frame.time)
                if gap <= step / 2 and (i not in best or gap < best[i][0]):
                    best[i] = (gap, model_input(zones.apply(frame.image), self.size))
        except Exception as exc:  # a damaged archive file loses its frames, not the whole training run
            log.warning("%s: decoding stopped early (%s)", path, exc)
        kept = sorted(best)
        keys = np.round(times[kept] * _KEY_MS).astype(np.int64)
        frames = np.stack([best[i][1] for i in kept]) if kept else np.zeros((0, self.size, self.size, 3), np.uint8)
        return keys, frames


def split_by_video(
    videos: Sequence[LabelledVideo], share: float, max_uncorrected: int | None = None
) -> tuple[list[LabelledVideo], list[LabelledVideo]]:
    """(train, validation): whole videos, chosen by a hash so the split is stable from run to run.

    Both sides keep at least one video with a player in view when there are two such videos, and
    at least one corrected video when there are two: a model can only show it beats the scoring in
    use where the user corrected that scoring, and can only learn from corrections it trains on.
    At most `max_uncorrected` uncorrected videos are held out (the last chosen go back to training):
    each is judged by running the whole pipeline over it, and a month of archive would otherwise
    make a night's run grow with every video kept.
    """
    order = sorted(videos, key=lambda v: hashlib.sha256(("split:" + v.sha256).encode()).hexdigest())
    n_val = min(len(order) - 1, max(1, round(share * len(order))))
    corrected = [v for v in order if v.corrected]
    with_player = [v for v in order if v.positives]
    val: list[LabelledVideo] = []
    chosen: set[int] = set()  # id() of the videos in val: membership in O(1) for a month of videos
    players_left, corrected_left = len(with_player), len(corrected)  # of those, how many are not in val

    def can_leave(v: LabelledVideo) -> bool:
        """Training keeps a video with a player, and a corrected one when there are two or more."""
        return (not with_player or players_left - bool(v.positives) > 0) and (
            len(corrected) < 2 or corrected_left - v.corrected > 0
        )

    def hold_out(v: LabelledVideo) -> None:
        nonlocal players_left, corrected_left
        val.append(v)
        chosen.add(id(v))
        players_left -= bool(v.positives)
        corrected_left -= v.corrected

    # A single corrected video is validated on: its figures show, and promotion waits for a second.
    for kind in (corrected, with_player if len(with_player) >= 2 else []):
        if not any(id(v) in chosen for v in kind):
            for v in kind:
                if can_leave(v):
                    hold_out(v)
                    break
    for v in order:
        if len(val) >= n_val:
            break
        if id(v) not in chosen and can_leave(v):
            hold_out(v)
    if max_uncorrected is not None:
        uncorrected = [v for v in val if not v.corrected]
        back = {id(v) for v in uncorrected[max(max_uncorrected, 1) :]}  # the first one may be there for its player
        val = [v for v in val if id(v) not in back]
        chosen -= back
    train = [v for v in order if id(v) not in chosen]
    return train, val


def cap_frames(video: LabelledVideo, keep: int, rng: np.random.Generator) -> LabelledVideo:
    """At most `keep` frames of a video: corrected frames first, then an even mix of the rest."""
    n = len(video.times)
    if n <= keep:
        return video
    corrected = np.flatnonzero(video.weights > 1.0)
    rest = np.setdiff1d(np.arange(n), corrected)
    pos = rest[video.labels[rest] > 0.5]
    neg = rest[video.labels[rest] <= 0.5]
    chosen = list(corrected[:keep])
    room = keep - len(chosen)
    take_pos = min(len(pos), max(room // 2, room - len(neg)))
    chosen += list(rng.choice(pos, take_pos, replace=False)) if take_pos else []
    room = keep - len(chosen)
    chosen += list(rng.choice(neg, min(room, len(neg)), replace=False)) if room > 0 and len(neg) else []
    idx = np.sort(np.asarray(chosen, dtype=np.int64))
    return LabelledVideo(
        video.sha256, video.name, video.path, video.times[idx], video.labels[idx], video.weights[idx], video.corrected
    )


def assemble(
    videos: Sequence[LabelledVideo], cache: FrameCache, progress: Callable[[str], None] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int], list[np.ndarray]]:
    """(frames, labels, weights, per-video frame counts, per-video frame times) for a list of videos;
    frames that could not be decoded are left out of all five."""
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    ws: list[np.ndarray] = []
    counts: list[int] = []
    times: list[np.ndarray] = []
    for v in videos:
        if progress:
            progress(v.name)
        frames, found = cache.frames(v)
        xs.append(frames)
        ys.append(v.labels[found])
        ws.append(v.weights[found])
        counts.append(len(frames))
        times.append(v.times[found])
    size = cache.size
    if not xs:
        return np.zeros((0, size, size, 3), np.uint8), np.zeros(0, np.float32), np.zeros(0, np.float32), [], []
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ws), counts, times
