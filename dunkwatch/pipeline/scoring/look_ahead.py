"""The confirming looks, done ahead on idle cores while the video still decodes.

The looks follow the scores, and a video shorter than the motion model's window gets all its scores
after its last frame: every look then came after decoding, when nothing else was left to do
(in_view: 21 looks, about 1 s of a 7 s run). The decoder, though, leaves part of a core idle
while a frame thread waits on the frame it refers to. A thread at the lowest priority (SCHED_IDLE)
gets that part and nothing else. It follows the looks' own schedule (look_schedule) on the kept
frames, taking a frame to be in view when it differs from the kept frame before it by more than
half the smallest player (the empty scene's rule for "the same scene"): a player on the move,
which is when a court is in use. A look that the scores do ask for then finds its answer ready.

Nobody ever waits for it: a look not made in time (a player standing still, a busy machine) is
made by the looks themselves, as before. The answers are the detector's own, box for box, so
nothing changes but when the work is done.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

import cv2
import numpy as np

from dunkwatch.pipeline.scoring.look_schedule import LookSchedule
from dunkwatch.pipeline.scoring.person import Box, PersonDetector
from dunkwatch.pipeline.scoring.thumbnails import THUMB_CHANGE, share_changed, thumb_logs

log = logging.getLogger(__name__)

_BACKLOG = 64  # kept frames waiting for it (half a minute); the oldest, scored soonest, go first
_STALLED_S = 10.0  # no frame for this long: nobody closed it (see _run)
_lowered: list[bool] = []  # whether the thread's priority is lowered; it looks at nothing otherwise


def _lowest_priority() -> None:
    """SCHED_IDLE: the thread runs only on a core that has nothing else to run, whatever the
    process's nice value (the service runs at Nice=10, and nice 19 beside nice 10 would still take
    an eighth of a busy core). On Linux, 0 names the calling thread alone."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        _lowered.append(True)
    except (AttributeError, OSError):  # not Linux, or not allowed: then no looking ahead at all
        log.debug("cannot lower the look-ahead thread's priority", exc_info=True)


_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="person-look-ahead", initializer=_lowest_priority)


class LookAhead:
    """Looks at frames offered in order, on the lowest-priority thread, where `schedule` would
    if the frames that moved by `moved_share` of the picture were in view; answer() gives what it
    saw, if it got there first."""

    def __init__(self, detector: PersonDetector, schedule: LookSchedule, moved_share: float) -> None:
        self._main = detector
        self._detector = detector.inline_twin()  # the look's inference then runs at the thread's priority
        self._schedule = schedule
        self._moved_share = moved_share
        self._last: np.ndarray | None = None  # the last kept frame's thumbnail (thumb_logs)
        self._pending: deque[tuple[int, float, bytes]] = deque(maxlen=_BACKLOG)  # (index, time, kept copy)
        self._wake = threading.Event()
        self._answers: dict[int, tuple[Box, ...]] = {}  # frame index -> people seen
        self._passed = -1  # the last frame scored: the looks themselves decide there
        self._closed = False
        self._job: Future[None] | None = None  # the thread's run, from the first frame on
        self.looked = 0  # looks made ahead

    def offer(self, index: int, time: float, kept: bytes) -> None:
        """A frame kept for a look (PersonDetector.prepare()), before its score is known."""
        if self._closed:
            return
        self._pending.append((index, time, kept))
        self._wake.set()
        if self._job is None:  # on the first frame, when the detector's graph is loading already
            self._job = _THREAD.submit(self._run)

    def passed(self, index: int) -> None:
        """Frame `index` is scored: looking ahead at it, or before it, is too late."""
        self._passed = index

    def answer(self, index: int) -> tuple[Box, ...] | None:
        """The people seen on frame `index`, if looked at ahead; None if not (yet)."""
        return self._answers.pop(index, None)

    def close(self) -> None:
        """No more looking ahead (the video is decoded): the scores come now, and the cores are busy."""
        self._closed = True
        self._pending.clear()
        self._wake.set()

    def _run(self) -> None:
        if not _lowered:
            return
        try:
            # The looks' graph first: loading both at once would convert the package's graph twice.
            self._main.ready()
            while not self._closed:
                try:
                    index, time, kept = self._pending.popleft()
                except IndexError:  # none waiting (or close() just let them go)
                    # Frames come many times a second; none for a while means nobody closed this
                    # one (an error on the way): stop rather than hold the thread from the next video.
                    if not self._wake.wait(_STALLED_S):
                        return
                    self._wake.clear()
                    continue
                if index <= self._passed:
                    self._last = None
                    continue
                if not self._moved(kept):
                    self._schedule.under(time)
                    continue
                self._schedule.over()
                if self._schedule.due(time):
                    seen = self._detector.find(kept)
                    self._answers[index] = seen
                    self.looked += 1
                    self._schedule.looked(time, bool(seen))
        except Exception:  # the looks themselves report a detector that cannot load; this only helps
            log.debug("looking ahead stopped", exc_info=True)

    def _moved(self, kept: bytes) -> bool:
        """Whether a kept frame differs from the one before it (the first: unknown, so yes)."""
        image = cv2.imdecode(np.frombuffer(kept, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None  # PersonDetector.prepare() wrote it
        logs = thumb_logs(image)
        last, self._last = self._last, logs
        if last is None or last.shape != logs.shape:
            return True
        tolerance = np.full(len(logs), math.log1p(THUMB_CHANGE), np.float32)
        return bool(share_changed(last, logs[None], tolerance)[0] > self._moved_share)
