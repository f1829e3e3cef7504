"""Scorers: frames in, one probability of "player in view" per frame out. No file I/O here.

Every scorer streams: `score()` consumes an iterable of uint8 RGB frames and yields floats in
frame order, so memory stays flat however long the video is. MotionScorer lives in motion.py;
CnnScorer is here and imports Keras only when one is built.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Protocol

import numpy as np

from dunkwatch.imageops import model_input


class Scorer(Protocol):
    name: str  # "motion" or "cnn", written to the sidecar
    model_version: str | None  # registry version for cnn, None for motion
    frame_side: int | None  # the decoder may shrink frames to this longer side before scoring

    def score(self, frames: Iterable[np.ndarray]) -> Iterator[float]: ...


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
        self.size = int(shape[1])  # square inputs

    def _predict(self, batch: list[np.ndarray]) -> np.ndarray:
        x = np.stack(batch).astype(np.uint8)
        return np.asarray(self.model.predict_on_batch(x), dtype=np.float32).reshape(-1)

    def score(self, frames: Iterable[np.ndarray]) -> Iterator[float]:
        batch: list[np.ndarray] = []
        for frame in frames:
            batch.append(model_input(frame, self.size))
            if len(batch) == self.batch_size:
                yield from (float(p) for p in self._predict(batch))
                batch = []
        if batch:
            yield from (float(p) for p in self._predict(batch))
