"""The motion scorer streams: it holds a bounded window of frames, never the whole video."""

import numpy as np

from dunkwatch.config import MotionConfig
from dunkwatch.pipeline.scoring.motion import MotionScorer


def test_scores_come_out_while_frames_still_go_in_and_the_buffer_stays_bounded():
    cfg = MotionConfig(background_window=10.0, person_prior=False)  # the streaming, not the detector
    scorer = MotionScorer(cfg, sample_fps=5.0)
    consumed = 0
    rng = np.random.default_rng(0)
    base = rng.integers(60, 200, (54, 96, 3)).astype(np.uint8)

    def frames():
        nonlocal consumed
        for _ in range(1000):  # 200 s at 5 fps: twenty windows long
            consumed += 1
            yield base

    lag = []
    for produced, _ in enumerate(scorer.score(frames()), start=1):
        lag.append(consumed - produced)
    assert len(lag) == 1000
    window_frames = round(cfg.background_window * 5.0)
    assert max(lag) <= window_frames  # never more than a window ahead of the scores
    assert lag[0] < 1000 - 1  # the first score came long before the last frame


def test_an_unchanging_scene_scores_zero():
    scorer = MotionScorer(MotionConfig(), sample_fps=5.0)
    frame = np.full((54, 96, 3), 120, np.uint8)
    assert set(scorer.score([frame] * 50)) == {0.0}
