"""Which look is the empty court, when the window holds only two: the court's look comes back
after the player leaves, a still player's is one stretch. Without the person detector (which a
drawn block rightly never takes for a person) the stretches decide, not the noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import make_portrait_mov

from dunkwatch.config import MotionConfig
from dunkwatch.pipeline.scoring.decode import VideoReader
from dunkwatch.pipeline.scoring.motion import MotionScorer

FPS = 5.0


def frames(spans: list[tuple[float, bool]], seed: int) -> list[np.ndarray]:
    """A grey court with a red and a blue band; a green block where the player stands."""
    rng = np.random.default_rng(seed)
    out = []
    for seconds, player in spans:
        for _ in range(round(seconds * FPS)):
            img = np.full((96, 54, 3), 128, np.int16)
            img[:19] = (220, 30, 30)
            img[-19:] = (30, 30, 220)
            if player:
                img[32:64, 13:41] = (30, 200, 30)
            out.append(np.clip(img + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8))
    return out


@pytest.mark.parametrize(
    "spans",
    [
        [(2.0, False), (2.0, True), (2.0, False)],  # the portrait marker clip: as long in view as empty
        [(1.0, False), (4.0, True), (1.0, False)],  # in view longer than the court shows empty
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_look_that_comes_back_is_the_court(spans: list[tuple[float, bool]], seed: int) -> None:
    scorer = MotionScorer(MotionConfig(person_prior=False), sample_fps=FPS)
    scores = np.array(list(scorer.score(frames(spans, seed))))
    truth = np.concatenate([np.full(round(s * FPS), p) for s, p in spans])
    assert ((scores >= 0.5) == truth).all(), np.round(scores, 2)


def test_the_portrait_marker_clip_without_the_prior(tmp_path: Path) -> None:
    """Encoded, its two looks tie to the third decimal on one vote each, and the noise once chose
    the player: the whole clip came out inverted, (0, 2) and (4, 6)."""
    clip = make_portrait_mov(tmp_path / "clip.mov")  # 6 s, the block in view from 2 to 4 s
    scorer = MotionScorer(MotionConfig(person_prior=False), sample_fps=FPS)
    read = list(VideoReader(clip, FPS, max_side=scorer.frame_side))
    scores = np.array(list(scorer.score(f.image for f in read)))
    times = np.array([f.time for f in read])
    assert ((scores >= 0.5) == ((times >= 2.0) & (times < 4.0))).all(), np.round(scores, 2)
