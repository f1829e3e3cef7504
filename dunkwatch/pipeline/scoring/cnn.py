"""The cnn as a scorer: model inputs in full batches, one prediction per frame. No file I/O here;
the runtime it calls (dunkwatch.models.runtime) is handed in, loaded by scorer_choice."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Iterator

import numpy as np

from dunkwatch.imageops import decode_side, model_input
from dunkwatch.outputs import ScorerKind

if TYPE_CHECKING:
    from dunkwatch.models.runtime import Classifier


class CnnScorer:
    """The article's ResNet50 classifier, from the model registry, predicting in batches."""

    kind = ScorerKind.CNN
    learned_scenes: tuple = ()  # the cnn learns no empty courts

    def __init__(self, classifier: Classifier, version: str | None, batch_size: int = 32) -> None:
        self.classifier = classifier  # dunkwatch.models.runtime: OpenVINO or Keras, as it was judged
        self.model_version = version
        self.batch_size = batch_size
        self.size = int(classifier.input_size)  # square inputs
        self.frame_side = decode_side(self.size)

    def predict_batch(self, batch: list[np.ndarray]) -> np.ndarray:
        return self.classifier.predict(np.stack(batch).astype(np.uint8, copy=False))

    def batches(self, frames: Iterable[np.ndarray]) -> Iterator[list[np.ndarray]]:
        """Model inputs in full batches (the last may be short), each as soon as it is full."""
        batch: list[np.ndarray] = []
        for frame in frames:
            batch.append(model_input(frame, self.size))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def score(self, frames: Iterable[np.ndarray]) -> Iterator[float]:
        for batch in self.batches(frames):
            yield from (float(p) for p in self.predict_batch(batch))

    def report(self) -> str | None:
        return None
