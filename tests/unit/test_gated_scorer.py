"""The motion gate in front of the cnn: which frames the classifier sees, and in what order."""

from typing import cast

import numpy as np

from dunkwatch.pipeline.scoring.cnn import CnnScorer
from dunkwatch.pipeline.scoring.gate import GatedScorer


class FakeMotion:
    frame_side = 192
    learned_scenes: list = []  # as the Scorer protocol has it

    def __init__(self, scores):
        self.scores = scores

    def score(self, frames):
        for i, _ in enumerate(frames):  # consumes every frame, like the real one, before its score
            yield self.scores[i]


class FakeCnn:
    size = 4
    batch_size = 3
    model_version = "v0001"

    batches = CnnScorer.batches  # the real batching; only the prediction is faked

    def __init__(self):
        self.seen = []

    def predict_batch(self, batch):
        self.seen += [int(x[0, 0, 0]) for x in batch]
        return np.array([0.75] * len(batch), np.float32)


def as_cnn(fake: FakeCnn) -> CnnScorer:
    """The fake, where the gate wants a CnnScorer (it uses only what FakeCnn has)."""
    return cast(CnnScorer, fake)


def frames(n):
    return [np.full((4, 4, 3), i, np.uint8) for i in range(n)]


def paying(scorer):
    """The gate as it is where the cnn is far dearer than the motion model: known to pay, never switched off."""
    scorer.clock = lambda: 0.0  # the motion model's time: nothing
    scorer.cost.cnn_seconds, scorer.cost.cnn_frames = 0.1, 1  # the cnn's: 100 ms a frame, measured before
    return scorer


def test_only_frames_near_steady_motion_reach_the_cnn_and_the_rest_score_zero():
    motion = [0, 0, 0, 0, 0.8, 0.9, 0, 0, 0, 0, 0.7, 0, 0, 0]  # a visit at 4-5, a lone blip at 10
    cnn = FakeCnn()
    scorer = paying(GatedScorer(FakeMotion(motion), as_cnn(cnn), gate=0.05, margin=1))
    scores = list(scorer.score(frames(len(motion))))
    assert cnn.seen == [3, 4, 5, 6]  # the visit and one frame each side; the blip is not steady
    assert scores == [0, 0, 0, 0.75, 0.75, 0.75, 0.75, 0, 0, 0, 0, 0, 0, 0]
    assert (scorer.classified, scorer.total) == (4, 14)
    assert scorer.frame_side == 192  # decoded at the larger of 2 x cnn input and the motion size
    assert scorer.motion_scores == motion  # each frame's second opinion, kept for the review page


def test_where_motion_and_the_cnn_disagree_is_found_and_the_gates_off_stretch_has_no_say():
    from dunkwatch.pipeline.scoring.disputes import Dispute, find_disputes

    times = np.arange(50) / 5.0  # 5 fps, exact at whole seconds
    model = ((times >= 2) & (times < 4)).astype(float)  # the cnn: a player from 2 to 4 s
    motion = [0.9 if 2 <= t < 6 else 0.0 for t in times]  # motion: from 2 to 6 s (a ball after him)
    assert find_disputes(times, model, motion, 0.9, 0.5, 0.6, 0.8) == [Dispute(4.0, 6.0, False)]
    # Where the gate was off, motion did not run: no dispute there, whatever the cnn said.
    gate_off = [None if t >= 3 else m for t, m in zip(times, motion)]
    assert find_disputes(times, model, gate_off, 0.9, 0.5, 0.6, 0.8) == []
    # The cnn alone sees a player from 7 to 9 s: the other way round.
    later = np.maximum(model, (times >= 7) & (times < 9))
    assert find_disputes(times, later, motion, 0.9, 0.5, 0.6, 0.8) == [
        Dispute(4.0, 6.0, False),
        Dispute(7.0, 9.0, True),
    ]
    # Shorter than a clip could be (min_seconds): not worth a look.
    assert find_disputes(times, model, motion, 0.9, 0.5, 0.6, 2.5) == []


def test_a_visit_at_the_very_end_is_classified():
    motion = [0, 0, 0, 0, 0.6, 0.6]
    cnn = FakeCnn()
    assert (
        list(paying(GatedScorer(FakeMotion(motion), as_cnn(cnn), gate=0.05, margin=2)).score(frames(6)))[-3:]
        == [0.75] * 3
    )
    assert cnn.seen == [2, 3, 4, 5]


def test_the_counts_in_each_videos_log_line_are_that_videos_own():
    motion = [0, 0, 0, 0, 0.8, 0.9, 0, 0, 0, 0]
    scorer = paying(GatedScorer(FakeMotion(motion), as_cnn(FakeCnn()), gate=0.05, margin=1))
    for _ in range(2):  # the service keeps one scorer for video after video
        list(scorer.score(frames(len(motion))))
        assert (scorer.classified, scorer.total) == (4, 10)


class Clock:
    """A clock the fakes advance by the time their work would take: costs are set, not measured."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class CostlyMotion(FakeMotion):
    """Works `seconds` on the clock on each frame it is handed; a fresh score() starts over."""

    def __init__(self, scores, clock, seconds, lag=0, verdict=0.0, chunk=1):
        super().__init__(scores)
        self.clock, self.seconds, self.lag, self.starts, self.scored = clock, seconds, lag, [], 0
        self.verdict, self.chunk = verdict, chunk  # seconds each verdict costs besides; verdicts given at once

    def score(self, frames):
        self.starts.append(None)  # the first frame it is handed, per start
        held = []  # like the real one, it sees `lag` frames ahead before its first verdict
        for frame in frames:
            if self.starts[-1] is None:
                self.starts[-1] = int(frame[0, 0, 0])
            self.clock.now += self.seconds
            held.append(int(frame[0, 0, 0]))
            if len(held) >= self.lag + self.chunk:
                for _ in range(self.chunk):
                    yield self._verdict(held.pop(0))
        while held:
            yield self._verdict(held.pop(0))

    def _verdict(self, i):
        self.clock.now += self.verdict
        self.scored += 1
        return self.scores[i]


class CostlyCnn(FakeCnn):
    batch_size = 10

    def __init__(self, truth, clock, seconds):
        super().__init__()
        self.truth, self.clock, self.seconds = truth, clock, seconds

    def predict_batch(self, batch):
        self.seen += [int(x[0, 0, 0]) for x in batch]
        self.clock.now += self.seconds * len(batch)
        return np.array([self.truth[int(x[0, 0, 0])] for x in batch], np.float32)


def numbered(n):
    return [np.full((4, 4, 3), i, np.uint8) for i in range(n)]  # frame i carries its index (n <= 256)


def test_a_gate_that_passes_everything_switches_itself_off_and_back_on_when_the_court_empties():
    # 100 frames with a player in view, then 150 of empty court. Motion costs 5 ms a frame, the cnn 20.
    truth = [1.0] * 100 + [0.0] * 150
    clock = Clock()
    motion = CostlyMotion(truth, clock, 0.005)
    cnn = CostlyCnn(truth, clock, 0.020)
    scorer = GatedScorer(motion, as_cnn(cnn), gate=0.05, margin=1, window=40, clock=clock)
    scores = list(scorer.score(numbered(250)))
    assert scores == truth  # every frame scored, in order, whoever scored it
    (off_at, off), (on_at, on) = scorer.switches
    # Off once 40 gated frames all passed: 5 ms of motion a frame saved nothing. Back on once the
    # last 40 ungated frames show it would pass half or less, saving 10 ms or more for its 5.
    assert not off and on and 40 <= off_at < 100 and 100 < on_at <= 100 + 40
    assert motion.scored < 250 and motion.starts == [0, on_at]
    assert cnn.seen == sorted(set(cnn.seen)) and cnn.seen[-1] < 200  # the late empty court: motion cleared it
    assert scorer.classified == len(cnn.seen)
    assert scorer.total == 250


def test_a_gate_that_saves_more_than_it_costs_stays_on():
    # A short visit in a mostly empty video, with the cnn 20 times dearer than motion per frame.
    truth = [0.0] * 100 + [1.0] * 20 + [0.0] * 130
    clock = Clock()
    motion = CostlyMotion(truth, clock, 0.001)
    cnn = CostlyCnn(truth, clock, 0.020)
    scorer = GatedScorer(motion, as_cnn(cnn), gate=0.05, margin=1, window=40, clock=clock)
    assert list(scorer.score(numbered(250))) == truth
    assert scorer.switches == [] and motion.scored == 250 and len(cnn.seen) < 40


def test_a_cnn_cheaper_than_motion_turns_the_gate_off_at_the_motion_models_first_verdict():
    truth = [1.0] * 200
    clock = Clock()
    motion = CostlyMotion(truth, clock, 0.006, lag=30)  # the real one sees 90 s ahead
    cnn = CostlyCnn(truth, clock, 0.005)
    scorer = GatedScorer(motion, as_cnn(cnn), gate=0.05, margin=1, window=40, clock=clock)
    assert list(scorer.score(numbered(200))) == truth
    # One batch was timed while the motion model still looked ahead (its scores unused), so the
    # gate knew at once that no share cleared could pay for 6 ms of motion a frame.
    assert cnn.seen[:10] == list(range(10)) and scorer.classified == 200
    assert [on for _, on in scorer.switches] == [False] and motion.scored == 1


def test_the_next_video_starts_without_the_gate_when_motion_costs_more_than_the_cnn():
    truth = [1.0] * 100
    clock = Clock()
    motion = CostlyMotion(truth, clock, 0.008)
    scorer = GatedScorer(motion, as_cnn(CostlyCnn(truth, clock, 0.005)), gate=0.05, margin=1, window=40, clock=clock)
    assert list(scorer.score(numbered(100))) == truth
    scored = motion.scored
    assert list(scorer.score(numbered(100))) == truth  # the service's next video, same scorer
    assert motion.scored == scored and scorer.switches == [(0, False)] and scorer.classified == 100


def test_the_motion_models_cost_counts_its_verdicts_which_come_long_after_the_frames():
    # Like the real one: little work as frames come in (1 ms), most in each verdict (6 ms), given
    # 10 at a time 30 frames behind. Its cost is known at its second verdict: dearer than the cnn's 5 ms.
    truth = [1.0] * 200
    clock = Clock()
    motion = CostlyMotion(truth, clock, 0.001, lag=30, verdict=0.006, chunk=10)
    scorer = GatedScorer(motion, as_cnn(CostlyCnn(truth, clock, 0.005)), gate=0.05, margin=1, window=40, clock=clock)
    assert list(scorer.score(numbered(200))) == truth
    assert [on for _, on in scorer.switches] == [False] and motion.scored == 2
