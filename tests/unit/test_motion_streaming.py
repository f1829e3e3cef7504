"""The motion scorer streams: it holds a bounded window of frames, never the whole video."""

import threading

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


def test_a_chunks_first_score_is_handed_on_before_its_last_is_made(monkeypatch):
    """Whoever reads the scores (the looks that confirm a clip) works while the rest are made: a
    short video's scores all come after its last frame, and its looks should not wait for them all."""
    scorer = MotionScorer(MotionConfig(background_window=10.0, person_prior=False), sample_fps=5.0)
    frames = [np.full((54, 96, 3), 100 + k % 7, np.uint8) for k in range(20)]  # shorter than a window
    prepare, score_one = scorer._prepare, scorer._score_one
    last_image: list[np.ndarray] = []  # the last frame as the scorer prepared it
    first_read = threading.Event()

    def prepared(frame):
        image = prepare(frame)
        if frame is frames[-1]:
            last_image.append(image)
        return image

    def scored_late(image, scene):
        if image is last_image[0]:
            assert first_read.wait(timeout=10), "the last score was made before the first was read"
        return score_one(image, scene)

    monkeypatch.setattr(scorer, "_prepare", prepared)
    monkeypatch.setattr(scorer, "_score_one", scored_late)
    scores = scorer.score(frames)
    next(scores)
    first_read.set()
    assert len(list(scores)) == len(frames) - 1
