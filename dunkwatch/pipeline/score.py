"""Scorers: frames in, one probability of "player in view" per frame out. No file I/O here.

Every scorer streams: `score()` consumes an iterable of uint8 RGB frames and yields floats in
frame order, so memory stays flat however long the video is. MotionScorer lives in motion.py;
CnnScorer is here and imports Keras only when one is built.
"""

from __future__ import annotations

from collections import deque
from typing import Iterable, Iterator, Protocol

import numpy as np

from dunkwatch.imageops import decode_side, model_input


class Scorer(Protocol):
    name: str  # "motion" or "cnn", written to the sidecar
    model_version: str | None  # registry version for cnn, None for motion
    frame_side: int | None  # the decoder may shrink frames to this longer side before scoring
    learned_scenes: list  # empty courts the last video confirmed, for the scene memory

    def score(self, frames: Iterable[np.ndarray]) -> Iterator[float]: ...


class CnnScorer:
    """The article's ResNet50 classifier, loaded from the model registry, predicting in batches."""

    name = "cnn"

    learned_scenes: list = []  # the cnn learns no empty courts

    def __init__(self, model, version: str | None, batch_size: int = 32):
        self.model = model  # a Keras model: loaded from the registry, or a candidate being judged
        self.model_version = version
        self.batch_size = batch_size
        shape = self.model.input_shape
        self.size = int(shape[1])  # square inputs
        self.frame_side = decode_side(self.size)

    @classmethod
    def load(cls, model_path, version: str, batch_size: int = 32) -> "CnnScorer":
        from dunkwatch.learn.model import load_model

        return cls(load_model(model_path), version, batch_size)

    def predict_batch(self, batch: list[np.ndarray]) -> np.ndarray:
        x = np.stack(batch).astype(np.uint8)
        return np.asarray(self.model.predict_on_batch(x), dtype=np.float32).reshape(-1)

    def score(self, frames: Iterable[np.ndarray]) -> Iterator[float]:
        batch: list[np.ndarray] = []
        for frame in frames:
            batch.append(model_input(frame, self.size))
            if len(batch) == self.batch_size:
                yield from (float(p) for p in self.predict_batch(batch))
                batch = []
        if batch:
            yield from (float(p) for p in self.predict_batch(batch))


class GatedScorer:
    """The cnn, run only where the cheap motion model sees something other than the empty court.

    Most tripod footage shows an empty hoop, and a frame identical to the empty scene needs no
    classifier: it scores 0. Frames within `margin` frames of a motion score at or above `gate`
    go to the cnn, so segment edges are still placed by the cnn itself.
    """

    name = "cnn"

    def __init__(self, motion, cnn: CnnScorer, gate: float, margin: int):
        self.motion, self.cnn = motion, cnn
        # Decoded small enough that both resizes after it are cheap, large enough for both users.
        self.frame_side = max(decode_side(cnn.size), motion.frame_side or 0)
        self.model_version = cnn.model_version
        self.gate, self.margin = gate, max(0, margin)
        self.classified = 0  # frames the cnn actually saw, for the log
        self.total = 0

    @property
    def learned_scenes(self) -> list:
        return self.motion.learned_scenes

    def score(self, frames: Iterable[np.ndarray]) -> Iterator[float]:
        self.classified = self.total = 0  # per video: the scorer is reused across videos
        inputs: deque[np.ndarray] = deque()  # cnn inputs of frames the motion model has not scored yet

        def tee():
            for frame in frames:
                inputs.append(model_input(frame, self.cnn.size))
                yield frame

        lookback: deque[float] = deque(maxlen=self.margin + 1)  # motion scores already decided
        waiting: deque[tuple[np.ndarray, float]] = deque()  # (cnn input, motion score) awaiting lookahead
        # Frames in order, each [needs the cnn, score, known]; the cnn always gets full batches,
        # since every new batch size costs TensorFlow a new trace and oneDNN new cached kernels.
        out: deque[list] = deque()
        wanted: list[tuple[list, np.ndarray]] = []

        def classify() -> None:
            if wanted:
                for (entry, _), p in zip(wanted, self.cnn.predict_batch([x for _, x in wanted])):
                    entry[1], entry[2] = float(p), True
                self.classified += len(wanted)
                wanted.clear()

        def decide(final: bool = False) -> None:
            while waiting and (final or len(waiting) > self.margin + 1):
                x, m = waiting.popleft()
                ahead = [s for _, s in list(waiting)[: self.margin + 1]]
                # A lone frame above the gate is compression noise or a flicker: a player stays
                # for more than one sample. The median of three needs two frames in a row.
                steady = [float(np.median(w)) for w in _triples([*lookback, m, *ahead])]
                need = max(steady, default=m) >= self.gate
                entry = [need, 0.0, not need]
                out.append(entry)
                if need:
                    wanted.append((entry, x))
                    if len(wanted) >= self.cnn.batch_size:
                        classify()
                lookback.append(m)

        def ready() -> Iterator[float]:
            while out and out[0][2]:
                self.total += 1
                yield out.popleft()[1]

        for motion_score in self.motion.score(tee()):
            waiting.append((inputs.popleft(), motion_score))
            decide()
            yield from ready()
        decide(final=True)
        classify()
        yield from ready()


def _triples(values: list[float]) -> list[list[float]]:
    """Every run of three neighbours (or the whole list when shorter)."""
    if len(values) < 3:
        return [values] if values else []
    return [values[i:i + 3] for i in range(len(values) - 2)]
