"""The motion gate in front of the cnn: which frames the classifier sees, and in what order."""

import numpy as np

from dunkwatch.pipeline.score import GatedScorer


class FakeMotion:
    frame_side = 192

    def __init__(self, scores):
        self.scores = scores

    def score(self, frames):
        for i, _ in enumerate(frames):  # consumes every frame, like the real one, before its score
            yield self.scores[i]


class FakeCnn:
    size = 4
    batch_size = 3
    model_version = "v0001"

    def __init__(self):
        self.seen = []

    def predict_batch(self, batch):
        self.seen += [int(x[0, 0, 0]) for x in batch]
        return np.array([0.75] * len(batch), np.float32)


def frames(n):
    return [np.full((4, 4, 3), i, np.uint8) for i in range(n)]


def test_only_frames_near_steady_motion_reach_the_cnn_and_the_rest_score_zero():
    motion = [0, 0, 0, 0, 0.8, 0.9, 0, 0, 0, 0, 0.7, 0, 0, 0]  # a visit at 4-5, a lone blip at 10
    cnn = FakeCnn()
    scorer = GatedScorer(FakeMotion(motion), cnn, gate=0.05, margin=1)
    scores = list(scorer.score(frames(len(motion))))
    assert cnn.seen == [3, 4, 5, 6]  # the visit and one frame each side; the blip is not steady
    assert scores == [0, 0, 0, 0.75, 0.75, 0.75, 0.75, 0, 0, 0, 0, 0, 0, 0]
    assert (scorer.classified, scorer.total) == (4, 14)
    assert scorer.frame_side == 192  # decoded at the larger of 2 x cnn input and the motion size


def test_a_visit_at_the_very_end_is_classified():
    motion = [0, 0, 0, 0, 0.6, 0.6]
    cnn = FakeCnn()
    assert list(GatedScorer(FakeMotion(motion), cnn, gate=0.05, margin=2).score(frames(6)))[-3:] == [0.75] * 3
    assert cnn.seen == [2, 3, 4, 5]


def test_the_counts_in_each_videos_log_line_are_that_videos_own():
    motion = [0, 0, 0, 0, 0.8, 0.9, 0, 0, 0, 0]
    scorer = GatedScorer(FakeMotion(motion), FakeCnn(), gate=0.05, margin=1)
    for _ in range(2):  # the service keeps one scorer for video after video
        list(scorer.score(frames(len(motion))))
        assert (scorer.classified, scorer.total) == (4, 10)
