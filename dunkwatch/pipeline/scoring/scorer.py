"""What every scorer offers: frames in, one probability of "player in view" per frame out.

Every scorer streams: `score()` consumes an iterable of uint8 RGB frames and yields floats in
frame order, so memory stays flat however long the video is. The motion model is in motion.py,
the cnn in cnn.py, the cnn behind the motion gate in gate.py; scorer_choice.py picks one.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Protocol, Sequence

import numpy as np

from dunkwatch.outputs import ScorerKind
from dunkwatch.pipeline.scoring.courts import LearnedEmpty


class Scorer(Protocol):
    kind: ScorerKind  # written to the sidecar; picks the segment threshold

    @property
    def model_version(self) -> str | None:
        """The registry version for the cnn, None for motion."""

    @property
    def frame_side(self) -> int | None:
        """The decoder may shrink frames to this longer side before scoring."""

    @property
    def learned_scenes(self) -> Sequence[LearnedEmpty]:
        """Empty courts the last video confirmed, for the scene memory (none for the cnn)."""

    def score(self, frames: Iterable[np.ndarray]) -> Iterator[float]: ...

    def report(self) -> str | None:
        """One line about how the last video was scored, for its log line; None: nothing to say."""
