"""Scorers: frames in, one probability of "player in view" per frame out. No file I/O here.

Both scorers stream: `score()` consumes an iterable of uint8 RGB frames and yields floats in
frame order, so memory stays flat however long the video is.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Iterable, Iterator, Protocol

import cv2
import numpy as np

from dunkwatch.config import MotionConfig


class Scorer(Protocol):
    name: str  # "motion" or "cnn", written to the sidecar
    model_version: str | None  # registry version for cnn, None for motion
    frame_side: int | None  # the decoder may shrink frames to this longer side before scoring

    def score(self, frames: Iterable[np.ndarray]) -> Iterator[float]: ...


# --- motion -------------------------------------------------------------------------------

_THUMB_SIDE = 48  # background clustering compares tiny thumbnails: cheap and noise-free
_THUMB_CHANGE = 0.15  # relative brightness change that counts a thumbnail pixel as different
_SAME_SCENE = 0.01  # thumbnails differing in under 1% of pixels show the same scene
_BG_EVERY_S = 1.0  # one background candidate per second is plenty for a static scene
_MAX_CANDIDATES = 300  # caps clustering cost (quadratic) for very long windows
_LUMA_FLOOR = 10.0  # absolute brightness change below this is compression noise, not a person
_CHROMA_MIN_LUMA = 40.0  # chromaticity of near-black pixels is noise


def _odd(n: float) -> int:
    n = max(3, int(n))
    return n if n % 2 else n + 1


class MotionScorer:
    """Scores the share of each frame that differs from a model of the empty scene.

    The empty scene is the per-pixel median of the frames alike to the medoid of a window of
    frames around the frame (the one least different from all others): every frame is the empty
    scene plus its own player, so a player who stands still for a while is still foreground. Brightness
    changes that are global (exposure, lights) or smooth over a large area (clouds) are divided
    out before pixels are compared.
    """

    name = "motion"
    model_version = None

    def __init__(self, cfg: MotionConfig, sample_fps: float):
        self.cfg = cfg
        self.frame_side = cfg.analysis_size
        self.fps = float(sample_fps)
        self.window = max(1, round(cfg.background_window * self.fps))  # frames
        self.chunk = max(1, self.window // 4)
        self.every = max(1, round(max(_BG_EVERY_S, cfg.background_window / _MAX_CANDIDATES) * self.fps))
        self._luma_log = math.log1p(cfg.luma_change)

    # streaming ---------------------------------------------------------------------------
    def score(self, frames: Iterable[np.ndarray]) -> Iterator[float]:
        pending: deque[np.ndarray] = deque()  # analysis images not scored yet
        first = 0  # global index of pending[0]
        candidates: deque[tuple[int, np.ndarray, np.ndarray]] = deque()  # (index, image, thumb)
        half = self.window // 2
        background = None
        index = 0
        for frame in frames:
            image = self._prepare(frame)
            pending.append(image)
            if index % self.every == 0:
                candidates.append((index, image, self._thumb(image)))
            index += 1
            # Score a chunk once the window reaches half a window past its end.
            if len(pending) >= self.chunk + half:
                background = self._background(candidates, first, first + self.chunk + half, background)
                for _ in range(self.chunk):
                    yield self._score_one(pending.popleft(), background)
                first += self.chunk
                while candidates and candidates[0][0] < first - half:
                    candidates.popleft()
        while pending:
            n = min(self.chunk, len(pending))
            background = self._background(candidates, first, first + n + half, background)
            for _ in range(n):
                yield self._score_one(pending.popleft(), background)
            first += n

    # steps -------------------------------------------------------------------------------
    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        scale = self.cfg.analysis_size / max(h, w)
        if scale < 1.0:
            frame = cv2.resize(frame, (max(1, round(w * scale)), max(1, round(h * scale))),
                               interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(frame, (5, 5), 1.0)

    @staticmethod
    def _thumb(image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        scale = _THUMB_SIDE / max(h, w)
        small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                           interpolation=cv2.INTER_AREA)
        return small.astype(np.float32).mean(axis=2).ravel()

    def _background(self, candidates, lo: int, hi: int, previous):
        chosen = [(img, th) for i, img, th in candidates if lo - self.window // 2 <= i < hi]
        if not chosen:
            return previous
        thumbs = np.stack([th for _, th in chosen])
        n = len(thumbs)
        # Phones re-expose when a dark player walks in: divide out each pair's overall gain,
        # taken as the median per-pixel ratio so the player's own pixels do not sway it.
        logs = np.log(thumbs + 16.0)
        tolerance = math.log1p(_THUMB_CHANGE)
        differs = np.empty((n, n), dtype=np.float32)
        for i in range(n):
            delta = logs - logs[i]
            delta -= np.median(delta, axis=1, keepdims=True)
            differs[i] = (np.abs(delta) > tolerance).mean(axis=1)
        # A frame differs from an empty one only where its own player is, and from a frame with
        # a player also where that player is: the empty scene is the candidate with the least
        # total difference to all others, even when a player stood still for most of the window.
        best = int(np.argmin(differs.sum(axis=1)))
        alike = differs < _SAME_SCENE
        members = [chosen[j][0] for j in np.flatnonzero(alike[best])]
        return np.median(np.stack(members), axis=0).astype(np.float32)

    @staticmethod
    def _retone(background: np.ndarray, frame: np.ndarray) -> np.ndarray:
        """The background as the camera would expose it now: a monotone curve per channel,
        fitted with per-brightness-bin medians, so a player's own pixels (a minority in every
        bin) do not bend it."""
        out = np.empty_like(background)
        for c in range(3):
            b = background[..., c].ravel()
            f = frame[..., c].ravel()
            idx = np.minimum((b / 8.0).astype(np.int64), 31)
            order = np.lexsort((f, idx))
            counts = np.bincount(idx, minlength=32)
            starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
            valid = counts >= max(20, int(0.002 * b.size))
            if not valid.any():
                out[..., c] = background[..., c]
                continue
            mid_f = f[order][(starts + counts // 2)[valid]]
            mid_b = (np.flatnonzero(valid) + 0.5) * 8.0
            curve = np.maximum.accumulate(mid_f)
            out[..., c] = np.interp(b, mid_b, curve).reshape(background.shape[:2])
        return out

    def foreground(self, image: np.ndarray, background: np.ndarray) -> np.ndarray:
        """Boolean mask of the pixels that do not belong to the empty scene."""
        frame = image.astype(np.float32)
        background = self._retone(background, frame)
        y_f = frame.mean(axis=2)
        y_b = background.mean(axis=2)
        log_ratio = np.log((y_f + 8.0) / (y_b + 8.0))
        # Smooth, large-area brightness changes (cloud shadows, a light switched on) are the
        # scene's lighting, not a player: estimate them with a wide median and divide them out.
        k = _odd(max(log_ratio.shape) * 0.4)
        quant = np.clip(128.0 + log_ratio * 64.0, 0, 255).astype(np.uint8)
        lighting = (cv2.medianBlur(quant, k).astype(np.float32) - 128.0) / 64.0
        residual = log_ratio - lighting
        y_expected = (y_b + 8.0) * np.exp(lighting) - 8.0
        luma_fg = (np.abs(residual) > self._luma_log) & (np.abs(y_f - y_expected) > _LUMA_FLOOR)
        # Colour catches a player whose brightness matches the floor behind them.
        sum_f = frame.sum(axis=2) + 3.0
        sum_b = background.sum(axis=2) + 3.0
        chroma_f = frame[..., :2] / sum_f[..., None]
        chroma_b = background[..., :2] / sum_b[..., None]
        shift = chroma_f - chroma_b
        shift -= np.median(shift.reshape(-1, 2), axis=0)  # white-balance drift is global
        chroma_fg = (np.abs(shift).sum(axis=2) > self.cfg.chroma_change) & \
                    (np.minimum(y_f, y_b) > _CHROMA_MIN_LUMA)
        mask = (luma_fg | chroma_fg).astype(np.uint8)
        # An opening removes isolated speckle from compression noise.
        return cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(bool)

    def _score_one(self, image: np.ndarray, background) -> float:
        if background is None:
            return 0.0
        share = float(self.foreground(image, background).mean())
        # 0.5 at min_area, rising towards 1 as more of the frame is foreground.
        return 1.0 - math.exp(-math.log(2.0) * share / self.cfg.min_area)


# --- cnn ----------------------------------------------------------------------------------

class CnnScorer:
    """The article's ResNet50 classifier, loaded from the model registry, predicting in batches."""

    name = "cnn"
    frame_side = None

    def __init__(self, model_path, version: str, batch_size: int = 32):
        from dunkwatch.learn.model import load_model

        self.model = load_model(model_path)
        self.model_version = version
        self.batch_size = batch_size
        shape = self.model.input_shape
        self.size = (int(shape[2]), int(shape[1]))  # cv2 wants (width, height)

    def _predict(self, batch: list[np.ndarray]) -> np.ndarray:
        x = np.stack(batch).astype(np.uint8)
        return np.asarray(self.model.predict_on_batch(x), dtype=np.float32).reshape(-1)

    def score(self, frames: Iterable[np.ndarray]) -> Iterator[float]:
        batch: list[np.ndarray] = []
        for frame in frames:
            batch.append(cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA))
            if len(batch) == self.batch_size:
                yield from (float(p) for p in self._predict(batch))
                batch = []
        if batch:
            yield from (float(p) for p in self._predict(batch))
