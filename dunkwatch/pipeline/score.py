"""Scorers: frames in, one probability of "player in view" per frame out. No file I/O here.

Every scorer streams: `score()` consumes an iterable of uint8 RGB frames and yields floats in
frame order, so memory stays flat however long the video is. MotionScorer lives in motion.py;
CnnScorer is here; the runtime it calls (dunkwatch.inference) is loaded only when one is built.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Callable, Iterable, Iterator, Protocol

import numpy as np

from dunkwatch.imageops import decode_side, model_input

log = logging.getLogger(__name__)


class Scorer(Protocol):
    name: str  # "motion" or "cnn", written to the sidecar
    model_version: str | None  # registry version for cnn, None for motion
    frame_side: int | None  # the decoder may shrink frames to this longer side before scoring
    learned_scenes: list  # empty courts the last video confirmed, for the scene memory

    def score(self, frames: Iterable[np.ndarray]) -> Iterator[float]: ...

    def report(self) -> str | None:
        """One line about how the last video was scored, for its log line; None: nothing to say."""


class CnnScorer:
    """The article's ResNet50 classifier, from the model registry, predicting in batches."""

    name = "cnn"

    learned_scenes: list = []  # the cnn learns no empty courts

    def __init__(self, classifier, version: str | None, batch_size: int = 32):
        self.classifier = classifier  # dunkwatch.inference: OpenVINO or Keras, as it was judged
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


class GateCost:
    """What the motion gate costs and what it saves, per frame, as measured on this machine.

    Gating costs the motion model's time on every frame and saves the cnn's time on the frames it
    clears. It pays while motion time < (1 - share passed) x cnn time. Both times are measured as
    the scorer runs, and kept from video to video (a bfloat16 cnn on a new CPU can be cheaper per
    frame than the motion model; a float32 cnn on an old one is several times dearer); the share
    passed is that of the last `window` frames of this video.
    """

    def __init__(self, window: int):
        self.window = max(1, window)
        # The motion model works on each frame as it is handed over (shrink, blur, background
        # candidates) and gives its verdicts up to 90 s later: both parts are timed apart, so
        # the cost per frame is right from its second verdict on, not only at the video's end.
        self.intake_seconds = self.verdict_seconds = self.cnn_seconds = 0.0
        self.handed = self.verdicts = self.cnn_frames = 0
        self.passed: deque[bool] = deque(maxlen=self.window)  # gate decisions, newest last

    def motion_per_frame(self) -> float | None:
        if not self.handed:
            return None
        return self.intake_seconds / self.handed + (self.verdict_seconds / self.verdicts if self.verdicts else 0.0)

    def add_motion(self, seconds: float, handed: int) -> None:
        """One pull of a verdict: `handed` frames went in meanwhile (none: the time was the verdict's alone)."""
        if handed:
            self.intake_seconds += seconds
            self.handed += handed
        else:
            self.verdict_seconds += seconds
            self.verdicts += 1

    def cnn_per_frame(self) -> float | None:
        return self.cnn_seconds / self.cnn_frames if self.cnn_frames else None

    def saving(self, share_passed: float) -> float | None:
        """Seconds per frame the gate saves over scoring every frame; None until both are measured."""
        motion, cnn = self.motion_per_frame(), self.cnn_per_frame()
        if motion is None or cnn is None:
            return None
        return (1.0 - share_passed) * cnn - motion

    def never_pays(self) -> bool:
        """The motion model costs as much a frame as the cnn: no share cleared could make up for it."""
        saving = self.saving(0.0)
        return saving is not None and saving <= 0

    def gate_loses(self) -> bool:
        """The last `window` gated frames cost more in motion time than the cnn time they saved."""
        if self.never_pays():
            return True
        if len(self.passed) < self.window:
            return False
        saving = self.saving(sum(self.passed) / len(self.passed))
        return saving is not None and saving < 0

    def gate_would_win(self, would_pass: float) -> bool:
        """Worth switching back on: it would save at least as much again as it costs (no flapping)."""
        saving = self.saving(would_pass)
        motion = self.motion_per_frame()
        return saving is not None and motion is not None and saving >= motion


class GatedScorer:
    """The cnn, run only where the cheap motion model sees something other than the empty court.

    Most tripod footage shows an empty hoop, and a frame identical to the empty scene needs no
    classifier: it scores 0. Frames within `margin` frames of a motion score at or above `gate`
    go to the cnn, so segment edges are still placed by the cnn itself.

    Where a player stays in view, nearly every frame passes the gate, and the motion pass is pure
    overhead: when GateCost says it loses, the cnn scores every frame until its own scores show
    that the gate would save twice what it costs, and a fresh motion model takes over again.
    """

    name = "cnn"

    def __init__(self, motion, cnn: CnnScorer, gate: float, margin: int, window: int = 150,
                 clock: Callable[[], float] = time.perf_counter):
        self.motion, self.cnn = motion, cnn
        # Decoded small enough that both resizes after it are cheap, large enough for both users.
        self.frame_side = max(decode_side(cnn.size), motion.frame_side or 0)
        self.model_version = cnn.model_version
        self.gate, self.margin = gate, max(0, margin)
        self.window = window  # frames the gate's cost is judged over (30 s at the default 5 fps)
        self.clock = clock
        self.classified = 0  # frames the cnn actually saw, for the log
        self.total = 0
        self.switches: list[tuple[int, bool]] = []  # (frame, gate on) each time this video's gate flipped
        self._learned: list = []  # empty courts confirmed by motion models already finished this video
        self.cost = GateCost(window)  # measured over every video this scorer has scored

    def report(self) -> str:
        """The last video's gating, for its log line."""
        motion, cnn = self.cost.motion_per_frame(), self.cost.cnn_per_frame()
        times = (f"; the motion model took {1000 * motion:.1f} ms a frame, the cnn {1000 * cnn:.1f} ms"
                 if motion is not None and cnn is not None else "")
        flips = f"; the gate went off {sum(not on for _, on in self.switches)} time(s)" if self.switches else ""
        return (f"the cnn classified {self.classified} of {self.total} sampled frames; "
                f"the motion model cleared the rest{times}{flips}")

    @property
    def learned_scenes(self) -> list:
        return [*self._learned, *self.motion.learned_scenes]

    def score(self, frames: Iterable[np.ndarray]) -> Iterator[float]:
        # Per video: the scorer is reused across videos.
        self.classified = self.total = 0
        self.switches, self._learned = [], []
        source = iter(frames)
        cost = self.cost  # per-frame costs carry over from earlier videos: same machine, same model
        gated = not cost.never_pays()  # else the cnn scores every frame until the gate would pay
        if not gated:
            self._switched(gated)
        while True:
            more = yield from (self._gated(source, cost) if gated else self._ungated(source, cost))
            if not more:
                return
            gated = not gated
            self._switched(gated)

    def _switched(self, gated: bool) -> None:
        self.switches.append((self.total, gated))
        motion, cnn = self.cost.motion_per_frame() or 0.0, self.cost.cnn_per_frame() or 0.0
        log.info("motion gate %s at sampled frame %d: the motion model takes %.1f ms a frame, the cnn %.1f ms",
                 "back on" if gated else "off", self.total, 1000 * motion, 1000 * cnn)

    def _predict(self, inputs: list[np.ndarray], cost: GateCost, probe: bool = False) -> np.ndarray:
        started = self.clock()
        scores = self.cnn.predict_batch(inputs)
        cost.cnn_seconds += self.clock() - started
        cost.cnn_frames += len(inputs)
        self.classified += 0 if probe else len(inputs)
        return scores

    def _gated(self, source: Iterator[np.ndarray], cost: GateCost) -> Iterator[float]:
        """Gate frames until the video ends (returns False) or the gate stops paying (returns True)."""
        cost.passed.clear()  # a fresh motion model is judged on its own decisions
        inputs: deque[np.ndarray] = deque()  # cnn inputs of frames the motion model has not scored yet
        upstream = [0.0, 0]  # seconds spent decoding and resizing inside the motion model's pulls, frames pulled
        exhausted = [False]

        def tee():
            while True:
                started = self.clock()
                frame = next(source, None)
                if frame is None:
                    exhausted[0] = True
                    return
                inputs.append(model_input(frame, self.cnn.size))
                upstream[1] += 1
                if not cost.cnn_frames and len(inputs) == self.cnn.batch_size:
                    # The gate weighs the cnn's cost against the motion model's at the motion
                    # model's first verdicts: time one batch now (its scores are not used), after
                    # an untimed one, since a runtime's first call compiles and is several times slower.
                    self.cnn.predict_batch(list(inputs))
                    self._predict(list(inputs), cost, probe=True)
                upstream[0] += self.clock() - started
                yield frame

        lookback: deque[float] = deque(maxlen=self.margin + 1)  # motion scores already decided
        waiting: deque[tuple[np.ndarray, float]] = deque()  # (cnn input, motion score) awaiting lookahead
        # Frames in order, each [needs the cnn, score, known]; the cnn always gets full batches,
        # since every new batch size costs TensorFlow a new trace and oneDNN new cached kernels.
        out: deque[list] = deque()
        wanted: list[tuple[list, np.ndarray]] = []

        def classify() -> None:
            if wanted:
                for (entry, _), p in zip(wanted, self._predict([x for _, x in wanted], cost)):
                    entry[1], entry[2] = float(p), True
                wanted.clear()

        def send(x: np.ndarray, need: bool) -> None:
            entry = [need, 0.0, not need]
            out.append(entry)
            cost.passed.append(need)
            if need:
                wanted.append((entry, x))
                if len(wanted) >= self.cnn.batch_size:
                    classify()

        def decide(final: bool = False) -> None:
            while waiting and (final or len(waiting) > self.margin + 1):
                x, m = waiting.popleft()
                ahead = [s for _, s in list(waiting)[: self.margin + 1]]
                # A lone frame above the gate is compression noise or a flicker: a player stays
                # for more than one sample. The median of three needs two frames in a row.
                steady = [float(np.median(w)) for w in _triples([*lookback, m, *ahead])]
                send(x, max(steady, default=m) >= self.gate)
                lookback.append(m)

        def ready() -> Iterator[float]:
            while out and out[0][2]:
                self.total += 1
                yield out.popleft()[1]

        scores = self.motion.score(tee())
        while True:
            started, (pulling, pulled) = self.clock(), upstream
            motion_score = next(scores, None)
            if motion_score is None:
                break
            cost.add_motion(self.clock() - started - (upstream[0] - pulling), upstream[1] - pulled)
            waiting.append((inputs.popleft(), motion_score))
            decide()
            yield from ready()
            if cost.gate_loses() and not exhausted[0]:
                scores.close()
                self._learned += self.motion.learned_scenes
                for x in [*(x for x, _ in waiting), *inputs]:  # undecided: the cnn scores them
                    send(x, True)
                classify()
                yield from ready()
                return True
        decide(final=True)
        classify()
        yield from ready()
        return False

    def _ungated(self, source: Iterator[np.ndarray], cost: GateCost) -> Iterator[float]:
        """The cnn on every frame until the video ends (returns False) or its own scores say the
        gate would pay again (returns True): the share the gate would pass is taken as the frames
        within the margin of a cnn score of 0.5 or more, which the motion model would see too."""
        recent: deque[bool] = deque(maxlen=self.window)  # cnn saw something, per frame
        for batch in self.cnn.batches(source):
            scores = self._predict(batch, cost)
            self.total += len(scores)
            yield from (float(p) for p in scores)
            recent.extend(bool(p >= 0.5) for p in scores)
            if len(recent) == self.window and cost.gate_would_win(_near_share(list(recent), self.margin)):
                return True
        return False


def _near_share(hits: list[bool], margin: int) -> float:
    """Share of frames within `margin` frames of a hit."""
    near = np.convolve(np.asarray(hits, np.float32), np.ones(2 * margin + 1, np.float32), mode="same") > 0
    return float(near.mean()) if len(near) else 0.0


def _triples(values: list[float]) -> list[list[float]]:
    """Every run of three neighbours (or the whole list when shorter)."""
    if len(values) < 3:
        return [values] if values else []
    return [values[i:i + 3] for i in range(len(values) - 2)]
