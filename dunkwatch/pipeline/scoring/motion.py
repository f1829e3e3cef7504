"""The cold-start motion scorer: share of each frame that differs from the empty scene.

Pure numpy and OpenCV on frames handed in; no file I/O, no Keras.
"""

from __future__ import annotations

import math
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Generator, Iterable, Iterator, Sequence, TypeVar

import cv2
import numpy as np

from dunkwatch.config import MotionConfig
from dunkwatch.imageops import shrink_to_side
from dunkwatch.outputs import ScorerKind
from dunkwatch.pipeline.scoring.courts import LearnedEmpty, RememberedScene
from dunkwatch.pipeline.scoring.empty_scene import EmptyScene, EmptySceneModel, same_scene_share
from dunkwatch.pipeline.scoring.person import PersonDetector
from dunkwatch.pipeline.scoring.thumbnails import THUMB_CHANGE

_BG_EVERY_S = 1.0  # one background candidate per second is plenty for a static scene
_MAX_CANDIDATES = 300  # caps clustering cost (quadratic) for very long windows
_LUMA_FLOOR = 10.0  # absolute brightness change below this is compression noise, not a person
_LIGHT_RADIUS = 0.2  # lighting varies over a fifth of the frame or more; players are smaller
_CHROMA_MIN_LUMA = 40.0  # chromaticity of near-black pixels is noise
# A pixel must change by more than this many times the deviation it shows in 90% of the empty
# frames: about 4 sigma for sensor noise, and more than a leaf that flips now and then.
_SPREADS = 2.5
_WORKERS = min(4, os.cpu_count() or 1)  # threads scoring a chunk's frames
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class _GuidedFilter:
    """He et al.'s guided filter over a guide: src smoothed over `radius`, keeping the guide's
    edges; pixels with zero weight do not take part, and get the value their neighbourhood
    predicts. What depends on the guide and the weights alone is worked out once, so the first
    pass (every weight 1) over one empty scene serves every frame scored against it."""

    guide: np.ndarray
    size: tuple[int, int]  # the box
    weight: np.ndarray | None  # None: every pixel takes part (x * 1.0 is x, so left out)
    norm: np.ndarray  # the weights' box sums
    mean: np.ndarray  # the guide's weighted mean over the box
    var: np.ndarray  # and its variance

    @classmethod
    def over(cls, guide: np.ndarray, radius: int, weight: np.ndarray | None = None) -> _GuidedFilter:
        size = (2 * radius + 1, 2 * radius + 1)
        w = None if weight is None else weight.astype(np.float32)
        norm = np.maximum(
            cv2.boxFilter(np.ones_like(guide) if w is None else w, -1, size, borderType=cv2.BORDER_REFLECT), 1e-3
        )
        mean_i = _box_mean(guide, w, size, norm)
        return cls(guide, size, w, norm, mean_i, _box_mean(guide * guide, w, size, norm) - mean_i * mean_i)

    def __call__(self, src: np.ndarray, eps: float = 0.01) -> np.ndarray:
        mean_p = _box_mean(src, self.weight, self.size, self.norm)
        a = (_box_mean(self.guide * src, self.weight, self.size, self.norm) - self.mean * mean_p) / (self.var + eps)
        b = mean_p - a * self.mean
        return cv2.blur(a, self.size, borderType=cv2.BORDER_REFLECT) * self.guide + cv2.blur(
            b, self.size, borderType=cv2.BORDER_REFLECT
        )


def _box_mean(a: np.ndarray, weight: np.ndarray | None, size: tuple[int, int], norm: np.ndarray) -> np.ndarray:
    """The weighted mean of a over each box."""
    return cv2.boxFilter(a if weight is None else weight * a, -1, size, borderType=cv2.BORDER_REFLECT) / norm


class MotionScorer:
    """Scores the share of each frame that differs from the empty scene around it.

    The empty scene comes from EmptySceneModel over a window centred on the chunk being scored,
    so a player who stands still for a while stays foreground. Brightness changes that are
    global (exposure) or smooth over a large area (clouds, lights) are divided out first.
    """

    kind = ScorerKind.MOTION
    model_version = None

    def __init__(
        self,
        cfg: MotionConfig,
        sample_fps: float,
        memory: Callable[[], Sequence[RememberedScene]] | None = None,
        detector_cache: Path | None = None,
    ) -> None:
        self.cfg = cfg
        self.memory = memory  # asked once per video: the empty courts seen in earlier videos
        self.learned_scenes: list[LearnedEmpty] = []  # of the last video scored
        self.detector = PersonDetector(cache=detector_cache) if cfg.person_prior else None
        # The detector needs more pixels than the motion model; candidates keep a grey copy for it.
        self.frame_side = max(cfg.analysis_size, PersonDetector.side) if self.detector else cfg.analysis_size
        self.fps = float(sample_fps)
        self.window = max(1, round(cfg.background_window * self.fps))  # frames
        self.chunk = max(1, self.window // 4)
        self.every = max(1, round(max(_BG_EVERY_S, cfg.background_window / _MAX_CANDIDATES) * self.fps))
        self._luma_log = math.log1p(cfg.luma_change)
        self._restless_floor = math.log1p(THUMB_CHANGE)
        self._same_scene = same_scene_share(cfg)
        self._pool: ThreadPoolExecutor | None = None  # made on the first chunk big enough to share

    # streaming ---------------------------------------------------------------------------
    def score(self, frames: Iterable[np.ndarray]) -> Generator[float, None, None]:
        pending: deque[np.ndarray] = deque()  # analysis images not scored yet
        first = 0  # index of pending[0] in the video's sampled frames
        model = EmptySceneModel(
            self._same_scene, self.memory() if self.memory else (), self.detector, self.window, self._map
        )
        self.learned_scenes = model.learned
        half = self.window // 2
        index = 0
        for frame in frames:
            if index == 0 and self.detector is not None:
                self.detector.start()  # once the decoder is under way; see PersonDetector.start()
            image = self._prepare(frame)
            pending.append(image)
            if index % self.every == 0:
                model.add(index, image, PersonDetector.prepare(frame) if self.detector else None)
            index += 1
            # A chunk is scored once the window reaches half a window past its end.
            if len(pending) >= self.chunk + half:
                empty = model.background()
                yield from self._score_all([pending.popleft() for _ in range(self.chunk)], empty)
                first += self.chunk
                model.drop_before(first - half)
        empty = model.background()
        yield from self._score_all(list(pending), empty)

    def report(self) -> str | None:
        return None

    # steps -------------------------------------------------------------------------------
    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(shrink_to_side(frame, self.cfg.analysis_size), (5, 5), 1.0)

    def _foreground(self, image: np.ndarray, bg: _Background) -> np.ndarray:
        """Boolean mask of the pixels that do not belong to the empty scene."""
        frame = image.astype(np.float32)
        # Channel by channel rather than .mean(axis=2): numpy reduces a last axis of three slowly,
        # and pixels are whole numbers (the scene's are medians: whole or halves), whose sums are
        # exact in any order.
        total = frame[..., 0] + frame[..., 1] + frame[..., 2]
        y_f = total / 3
        log_ratio = np.log((y_f + 8.0) / bg.y_8)
        # Smooth, large-area brightness changes (cloud shadows, a light switched on) are the
        # scene's lighting, not a player. A guided filter estimates them, following the edges of
        # the empty scene (a wall and a floor lit differently) but not the much smaller player.
        # A second, tighter pass leaves out what the first found, so a cloud's core is followed
        # closely while a player, left out, cannot bend the lighting towards themselves.
        lighting = bg.lighting(log_ratio)
        first_pass = (np.abs(log_ratio - lighting) > bg.luma_limit).astype(np.uint8)
        outside = 1 - cv2.dilate(first_pass, np.ones((5, 5), np.uint8))
        lighting = _GuidedFilter.over(bg.lighting.guide, bg.tight_radius, outside)(log_ratio)
        residual = log_ratio - lighting
        y_expected = bg.y_8 * np.exp(lighting) - 8.0
        luma_fg = (np.abs(residual) > bg.luma_limit) & (np.abs(y_f - y_expected) > _LUMA_FLOOR)
        # Colour catches a player whose brightness matches the floor behind them.
        shift = frame[..., :2] / (total + 3.0)[..., None] - bg.chroma
        # White-balance drift is global; each channel's median alone, which numpy finds 3x faster.
        shift -= np.array([np.median(shift[..., 0]), np.median(shift[..., 1])])
        chroma_fg = (np.abs(shift[..., 0]) + np.abs(shift[..., 1]) > bg.chroma_limit) & (
            np.minimum(y_f, bg.y) > _CHROMA_MIN_LUMA
        )
        chroma_fg &= bg.steady
        mask = (luma_fg | chroma_fg | (bg.occupied if bg.occupied is not None else False)).astype(np.uint8)
        # An opening removes isolated speckle from compression noise.
        return cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(bool)

    def _score_all(self, images: list[np.ndarray], scene: EmptyScene | None) -> Iterator[float]:
        """The scores in order, each given as soon as it is ready: whoever reads them (the looks
        that confirm a clip) works on the first while the threads score the rest."""
        bg = _Background.of(scene, self.cfg, self._luma_log, self._restless_floor) if scene is not None else None
        return self._map_lazily(lambda image: self._score_one(image, bg), images)

    def _map(self, fn: Callable[[T], R], items: list[T]) -> list[R]:
        return list(self._map_lazily(fn, items))

    def _map_lazily(self, fn: Callable[[T], R], items: list[T]) -> Iterator[R]:
        """fn over items on as many cores as there are (up to 4): the frames of a chunk, and the
        background candidates' comparisons, are independent, and OpenCV and numpy let go of the
        GIL for these sizes (two threads: 1.8x on a chunk's scores)."""
        if len(items) < 8 or _WORKERS < 2:
            return map(fn, items)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="motion")
        return self._pool.map(fn, items)

    def _score_one(self, image: np.ndarray, bg: _Background | None) -> float:
        if bg is None:
            return 0.0
        share = float(self._foreground(image, bg).mean())
        # 0.5 at min_area, rising towards 1 as more of the frame is foreground.
        return 1.0 - math.exp(-math.log(2.0) * share / self.cfg.min_area)


@dataclass(frozen=True)
class _Background:
    """What _foreground() compares each frame with, worked out once per empty scene rather than
    once per frame (a chunk of frames shares one scene)."""

    y: np.ndarray  # brightness: the mean of the channels
    y_8: np.ndarray  # y + 8: the offset keeps dark pixels' log ratios from exploding
    lighting: _GuidedFilter  # the first pass, over log(y + 8): the lighting estimate follows its edges
    chroma: np.ndarray  # rg chromaticity, H x W x 2
    luma_limit: np.ndarray
    chroma_limit: np.ndarray
    steady: np.ndarray  # where colour decides too: not a pixel whose colour changes by itself
    occupied: np.ndarray | None
    tight_radius: int  # of the second pass, over the same guide

    @classmethod
    def of(cls, scene: EmptyScene, cfg: MotionConfig, luma_log: float, restless_floor: float) -> _Background:
        image = scene.image
        total = image[..., 0] + image[..., 1] + image[..., 2]
        y = total / 3
        guide = np.log(y + 8.0)
        side = max(guide.shape)
        return cls(
            y=y,
            y_8=y + 8.0,
            lighting=_GuidedFilter.over(guide, max(2, int(side * _LIGHT_RADIUS))),
            chroma=image[..., :2] / (total + 3.0)[..., None],
            luma_limit=np.maximum(np.maximum(luma_log, _SPREADS * scene.luma_spread), scene.luma_restless),
            chroma_limit=np.maximum(cfg.chroma_change, _SPREADS * scene.chroma_spread),
            steady=scene.chroma_restless <= restless_floor,  # leaves trade colours: luma decides there
            occupied=scene.occupied,
            tight_radius=max(2, int(side * _LIGHT_RADIUS / 2)),
        )
