"""The cnn behind the motion gate: a pure policy (`GatePolicy`, fed measured costs, no clock) and
a scorer that batches frames through it (`GatedScorer`, which owns the clock and the switching)."""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Generator, Iterable, Iterator, Protocol, Sequence

import numpy as np

from dunkwatch.imageops import decode_side, model_input
from dunkwatch.outputs import ScorerKind
from dunkwatch.pipeline.scoring.cnn import CnnScorer
from dunkwatch.pipeline.scoring.courts import LearnedEmpty

log = logging.getLogger(__name__)


class MotionModel(Protocol):
    """What the gate uses of its motion model (a MotionScorer)."""

    @property
    def frame_side(self) -> int | None: ...

    @property
    def learned_scenes(self) -> Sequence[LearnedEmpty]: ...

    def score(self, frames: Iterable[np.ndarray]) -> Generator[float, None, None]: ...


class GatePolicy:
    """Whether the motion gate pays, from what it costs and what it saves per frame on this machine.

    Gating costs the motion model's time on every frame and saves the cnn's time on the frames it
    clears. It pays while motion time < (1 - share passed) x cnn time. Both times are measured by
    the scorer and kept from video to video (a bfloat16 cnn on a new CPU can be cheaper per frame
    than the motion model; a float32 cnn on an old one is several times dearer); the share passed
    is that of the last `window` frames of this video.
    """

    def __init__(self, window: int) -> None:
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

    def add_cnn(self, seconds: float, frames: int) -> None:
        self.cnn_seconds += seconds
        self.cnn_frames += frames

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


@dataclass
class _Slot:
    """One frame's place in the output order: its score once known."""

    score: float = 0.0
    known: bool = False
    motion: float | None = None  # the motion model's own score, where it ran


class GatedScorer:
    """The cnn, run only where the cheap motion model sees something other than the empty court.

    Most tripod footage shows an empty hoop, and a frame identical to the empty scene needs no
    classifier: it scores 0. Frames within `margin` frames of a motion score at or above `gate`
    go to the cnn, so segment edges are still placed by the cnn itself.

    Where a player stays in view, nearly every frame passes the gate, and the motion pass is pure
    overhead: when the policy says it loses, the cnn scores every frame until its own scores show
    that the gate would save twice what it costs, and a fresh motion model takes over again.
    """

    kind = ScorerKind.CNN

    def __init__(
        self,
        motion: MotionModel,
        cnn: CnnScorer,
        gate: float,
        margin: int,
        window: int = 150,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
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
        self._learned: list[LearnedEmpty] = []  # empty courts confirmed by motion models already finished this video
        self.motion_scores: list[float | None] = []  # the last video's, per frame; None where motion did not run
        self.cost = GatePolicy(window)  # measured over every video this scorer has scored

    def report(self) -> str:
        """The last video's gating, for its log line."""
        motion, cnn = self.cost.motion_per_frame(), self.cost.cnn_per_frame()
        times = (
            f"; the motion model took {1000 * motion:.1f} ms a frame, the cnn {1000 * cnn:.1f} ms"
            if motion is not None and cnn is not None
            else ""
        )
        flips = f"; the gate went off {sum(not on for _, on in self.switches)} time(s)" if self.switches else ""
        return (
            f"the cnn classified {self.classified} of {self.total} sampled frames; "
            f"the motion model cleared the rest{times}{flips}"
        )

    @property
    def learned_scenes(self) -> list[LearnedEmpty]:
        return [*self._learned, *self.motion.learned_scenes]

    def score(self, frames: Iterable[np.ndarray]) -> Iterator[float]:
        # Per video: the scorer is reused across videos.
        self.classified = self.total = 0
        self.switches, self._learned = [], []
        self.motion_scores = []
        source = iter(frames)
        gated = not self.cost.never_pays()  # else the cnn scores every frame until the gate would pay
        if not gated:
            self._switched(gated)
        while True:
            more = yield from (_GatedPass(self, source).run() if gated else self._ungated(source))
            if not more:
                return
            gated = not gated
            self._switched(gated)

    def _switched(self, gated: bool) -> None:
        self.switches.append((self.total, gated))
        motion, cnn = self.cost.motion_per_frame() or 0.0, self.cost.cnn_per_frame() or 0.0
        log.info(
            "motion gate %s at sampled frame %d: the motion model takes %.1f ms a frame, the cnn %.1f ms",
            "back on" if gated else "off",
            self.total,
            1000 * motion,
            1000 * cnn,
        )

    def predict(self, inputs: list[np.ndarray], probe: bool = False) -> np.ndarray:
        """The cnn's scores, timed for the policy; a probe's frames are not counted as classified."""
        started = self.clock()
        scores = self.cnn.predict_batch(inputs)
        self.cost.add_cnn(self.clock() - started, len(inputs))
        self.classified += 0 if probe else len(inputs)
        return scores

    def _ungated(self, source: Iterator[np.ndarray]) -> Generator[float, None, bool]:
        """The cnn on every frame until the video ends (returns False) or its own scores say the
        gate would pay again (returns True): the share the gate would pass is taken as the frames
        within the margin of a cnn score of 0.5 or more, which the motion model would see too."""
        recent: deque[bool] = deque(maxlen=self.window)  # cnn saw something, per frame
        for batch in self.cnn.batches(source):
            scores = self.predict(batch)
            self.total += len(scores)
            self.motion_scores += [None] * len(scores)
            yield from (float(p) for p in scores)
            recent.extend(bool(p >= 0.5) for p in scores)
            if len(recent) == self.window and self.cost.gate_would_win(_near_share(list(recent), self.margin)):
                return True
        return False


class _GatedPass:
    """One stretch of gated scoring: frames go to the motion model, and those near a steady motion
    score to the cnn in full batches (every new batch size costs TensorFlow a new trace and oneDNN
    new cached kernels); scores leave in frame order as soon as they are known."""

    def __init__(self, scorer: GatedScorer, source: Iterator[np.ndarray]) -> None:
        self.scorer, self.source, self.cost = scorer, source, scorer.cost
        self.inputs: deque[np.ndarray] = deque()  # cnn inputs of frames the motion model has not scored yet
        self.upstream_seconds, self.pulled = 0.0, 0  # decoding and resizing inside the motion model's pulls
        self.exhausted = False
        self.lookback: deque[float] = deque(maxlen=scorer.margin + 1)  # motion scores already decided
        self.waiting: deque[tuple[np.ndarray, float]] = deque()  # (cnn input, motion score) awaiting lookahead
        self.out: deque[_Slot] = deque()  # every frame in order
        self.wanted: list[tuple[_Slot, np.ndarray]] = []  # frames waiting for the cnn

    def run(self) -> Generator[float, None, bool]:
        """Until the video ends (returns False) or the gate stops paying (returns True)."""
        scorer, cost = self.scorer, self.cost
        cost.passed.clear()  # a fresh motion model is judged on its own decisions
        scores = scorer.motion.score(self._frames())
        while True:
            started, upstream_before, pulled_before = scorer.clock(), self.upstream_seconds, self.pulled
            motion_score = next(scores, None)
            if motion_score is None:
                break
            cost.add_motion(
                scorer.clock() - started - (self.upstream_seconds - upstream_before), self.pulled - pulled_before
            )
            self.waiting.append((self.inputs.popleft(), motion_score))
            self._decide()
            yield from self._ready()
            if cost.gate_loses() and not self.exhausted:
                scores.close()
                scorer._learned += scorer.motion.learned_scenes
                for x in [*(x for x, _ in self.waiting), *self.inputs]:  # undecided: the cnn scores them
                    self._send(x, True)
                self._classify()
                yield from self._ready()
                return True
        self._decide(final=True)
        self._classify()
        yield from self._ready()
        return False

    def _frames(self) -> Iterator[np.ndarray]:
        """The source, feeding the motion model; the time spent upstream is kept out of its cost."""
        scorer = self.scorer
        while True:
            started = scorer.clock()
            frame = next(self.source, None)
            if frame is None:
                self.exhausted = True
                return
            self.inputs.append(model_input(frame, scorer.cnn.size))
            self.pulled += 1
            if not self.cost.cnn_frames and len(self.inputs) == scorer.cnn.batch_size:
                self._probe_cnn()
            self.upstream_seconds += scorer.clock() - started
            yield frame

    def _probe_cnn(self) -> None:
        """The policy weighs the cnn's cost against the motion model's at the motion model's first
        verdicts: time one batch now (its scores are not used), after an untimed one, since a
        runtime's first call compiles and is several times slower."""
        self.scorer.cnn.predict_batch(list(self.inputs))
        self.scorer.predict(list(self.inputs), probe=True)

    def _decide(self, final: bool = False) -> None:
        margin = self.scorer.margin
        while self.waiting and (final or len(self.waiting) > margin + 1):
            x, m = self.waiting.popleft()
            ahead = [s for _, s in list(self.waiting)[: margin + 1]]
            # A lone frame above the gate is compression noise or a flicker: a player stays
            # for more than one sample. The median of three needs two frames in a row.
            steady = [float(np.median(w)) for w in _triples([*self.lookback, m, *ahead])]
            self._send(x, max(steady, default=m) >= self.scorer.gate, m)
            self.lookback.append(m)

    def _send(self, x: np.ndarray, need: bool, motion: float | None = None) -> None:
        slot = _Slot(known=not need, motion=motion)
        self.out.append(slot)
        self.cost.passed.append(need)
        if need:
            self.wanted.append((slot, x))
            if len(self.wanted) >= self.scorer.cnn.batch_size:
                self._classify()

    def _classify(self) -> None:
        if self.wanted:
            for (slot, _), p in zip(self.wanted, self.scorer.predict([x for _, x in self.wanted])):
                slot.score, slot.known = float(p), True
            self.wanted.clear()

    def _ready(self) -> Iterator[float]:
        while self.out and self.out[0].known:
            self.scorer.total += 1
            slot = self.out.popleft()
            self.scorer.motion_scores.append(slot.motion)
            yield slot.score


def _near_share(hits: list[bool], margin: int) -> float:
    """Share of frames within `margin` frames of a hit."""
    near = np.convolve(np.asarray(hits, np.float32), np.ones(2 * margin + 1, np.float32), mode="same") > 0
    return float(near.mean()) if len(near) else 0.0


def _triples(values: list[float]) -> list[list[float]]:
    """Every run of three neighbours (or the whole list when shorter)."""
    if len(values) < 3:
        return [values] if values else []
    return [values[i : i + 3] for i in range(len(values) - 2)]
