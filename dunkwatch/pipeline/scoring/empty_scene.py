"""The empty scene of a fixed camera: which of a window's candidate frames show the court empty.

Pure numpy and OpenCV on frames handed in; no file I/O, no Keras.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence, TypeVar

import cv2
import numpy as np

from dunkwatch.config import MotionConfig
from dunkwatch.imageops import shrink_to_side
from dunkwatch.pipeline.scoring.courts import LearnedEmpty, RememberedCourts, RememberedScene
from dunkwatch.pipeline.scoring.person import Box, PersonDetector
from dunkwatch.pipeline.scoring.thumbnails import THUMB_CHANGE, THUMB_SIDE, changed, share_changed, thumb_logs

_STEP_MEMORY = 60  # neighbour-to-neighbour changes remembered to learn restless pixels
_MIN_STEPS = 10  # fewer neighbour steps than this teach nothing about restlessness
_RESTLESS = 2.0  # ... and how far beyond its usual change a restless pixel must go
_PERSON_LOOKS = 4  # members of a would-be empty group the person detector looks at
# Candidates differing in less than this share of the thumbnail are one look, when looks vote for
# the empty scene and when telling stretches apart: a still player fidgets (a page, a hand, the
# head), which changes far less of the frame than a player arriving or leaving.
_FIDGET_SHARE = 0.03
_FIDGET_PART = 0.1  # ... and a fidget moves at least this part of the player (a hand of the body)


T = TypeVar("T")
R = TypeVar("R")


class Mapper(Protocol):
    """map(fn, items) -> results in order, maybe in threads."""

    def __call__(self, fn: Callable[[T], R], items: list[T], /) -> list[R]: ...


def _in_turn(fn: Callable[[T], R], items: list[T]) -> list[R]:
    return [fn(x) for x in items]


def same_scene_share(cfg: MotionConfig) -> float:
    """Thumbnails differing in less than half the smallest player show the same scene."""
    return cfg.min_area / 2


def _runs(mask: np.ndarray) -> int:
    return int(np.count_nonzero(np.diff(np.concatenate([[0], mask.astype(np.int8)])) == 1))


class EmptySceneModel:
    """Candidate frames of a sliding window, and which of them show the empty scene.

    Every frame is the empty scene plus its own player, so a frame with a player differs from
    an empty one only where that player is, and from another frame with a player where either
    player is: the empty scene is the candidate least different from all the others. Distances
    are kept between calls, so each new candidate costs one row and one column.
    """

    def __init__(
        self,
        same_scene: float,
        remembered: Sequence[RememberedScene] = (),
        detector: PersonDetector | None = None,
        window_frames: int = 0,
        mapper: Mapper | None = None,
    ) -> None:
        self.same_scene = same_scene
        self._map: Mapper = mapper or _in_turn  # rows in threads, if given
        self.window_frames = window_frames  # sampled frames of a whole background window
        self.courts = RememberedCourts(remembered, same_scene)
        self.people = PersonChecks(detector) if detector else None
        self.learned: list[LearnedEmpty] = []  # empty courts confirmed in this video
        self._tolerance = np.zeros(0, np.float32)
        self.index: list[int] = []
        self.images: list[np.ndarray] = []
        self.logs: np.ndarray = np.zeros((0, 0, 3), np.float32)
        self._differs: np.ndarray = np.zeros((0, 0), np.float32)  # see _pairwise()
        # Rows of _differs not worked out yet: (first row, end, the tolerance as of their update).
        # A court remembered from earlier videos decides without them, and then they cost nothing.
        self._unworked: list[tuple[int, int, np.ndarray]] = []
        self._new: list[tuple[int, np.ndarray, np.ndarray]] = []  # (index, image, thumbnail logs)
        self._steps: deque[np.ndarray] = deque(maxlen=_STEP_MEMORY)  # |change| between neighbours
        # Each step is taken as its candidate arrives, while the video still decodes; they join
        # _steps at the next update, as they would have been taken there.
        self._new_steps: list[np.ndarray] = []
        self._last: np.ndarray | None = None  # the newest candidate's image
        self._thumb_shape: tuple[int, int] = (0, 0)
        self._restless: np.ndarray = np.zeros((0, 0, 2), np.float32)

    def add(self, index: int, image: np.ndarray, detail: bytes | None = None) -> None:
        """A candidate: its analysis image and, with a detector, its PersonDetector.prepare() copy."""
        self._thumb_shape = shrink_to_side(image, THUMB_SIDE).shape[:2]
        self._new.append((index, image, thumb_logs(image)))
        if self._last is not None:
            self._new_steps.append(_step(self._last, image))
        self._last = image
        if self.people is not None and detail is not None:
            self.people.add(index, detail)

    def drop_before(self, index: int) -> None:
        self._update()
        cut = next((k for k, i in enumerate(self.index) if i >= index), len(self.index))
        del self.index[:cut], self.images[:cut]
        if not self.images:  # nothing left to step from: the next candidate starts afresh
            self._last = None
        if self.people is not None:
            self.people.drop_before(index)
        self.logs = self.logs[cut:]
        self._differs = self._differs[cut:, cut:]
        self._unworked = [(max(0, a - cut), b - cut, tol) for a, b, tol in self._unworked if b > cut]

    def _update(self) -> None:
        if not self._new:
            return
        new = np.stack([t for _, _, t in self._new])
        everyone = np.concatenate([self.logs, new]) if len(self.logs) else new
        old_n, n = len(self.logs), len(everyone)
        self._steps.extend(self._new_steps)
        self._new_steps = []
        restless = self._restless = self._restlessness(self._new[0][1].shape[:2])
        thumb_restless = cv2.resize(restless.max(axis=2), self._thumb_shape[::-1], interpolation=cv2.INTER_AREA)
        tolerance = self._tolerance = np.maximum(math.log1p(THUMB_CHANGE), thumb_restless.ravel())
        differs = np.full((n, n), np.nan, np.float32)
        differs[:old_n, :old_n] = self._differs
        self._unworked.append((old_n, n, tolerance))
        self.index += [i for i, _, _ in self._new]
        self.images += [img for _, img, _ in self._new]
        self.logs, self._differs, self._new = everyone, differs, []

    def _pairwise(self) -> np.ndarray:
        """How much each candidate differs from each other one: row i, column j is the share of j's
        thumbnail that i's tone curve cannot explain. Each update's new rows are compared on the
        tolerance of that update, as if it had been done there."""
        differs = self._differs
        rows = [(i, end, tol) for start, end, tol in self._unworked for i in range(start, end)]
        if not rows:
            return differs
        logs = self.logs
        found = self._map(lambda row: share_changed(logs[row[0]], logs[: row[1]], row[2]), rows)
        for (i, end, _), row in zip(rows, found):
            differs[i, :end] = row
        for start, end, _ in self._unworked:
            # The tone fit runs one way; the other way differs only slightly, and costs as much again.
            differs[:start, start:end] = differs[start:end, :start].T
        self._unworked = []
        return differs

    def _restlessness(self, shape: tuple[int, int]) -> np.ndarray:
        """Per pixel, the (brightness, colour) change in log units that the background shows by
        itself. Leaves, water or a screen change between most neighbouring candidates; a player
        changes a pixel only on arriving or leaving, which even a player running around the same
        spot does in fewer than half of the steps. So the median change is the background's own
        restlessness, and differences within it do not count."""
        if len(self._steps) < _MIN_STEPS:
            return np.zeros((*shape, 2), np.float32)
        return _RESTLESS * np.median(np.stack(self._steps), axis=0).astype(np.float32)

    def background(self) -> EmptyScene | None:
        """The empty scene: candidates alike to a remembered empty court of this camera; else the
        candidates alike to the most typical look in which no person is seen, unless they are one
        stretch that differs from a remembered court: then something stayed in view the whole
        time (a player, still), and the remembered court, aligned to this camera, is the scene."""
        self._update()
        if not self.index:
            return None
        scene, chosen = self.courts.alike_candidates(self.logs, self.images[0].shape, self._tolerance)
        members: np.ndarray | None = None
        people: list[Box] = []
        if scene is None:
            looks = self._looks()
            chosen, people = self._typical_empty(looks)
            look = looks[chosen].any(axis=0)  # the chosen candidates and those fidgets away from them
            returns = _runs(look) >= 2
            here = self.images[len(self.images) // 2]
            court = None if returns else self.courts.court(here, np.median(self.logs[chosen], axis=0), self._tolerance)
            if court is not None:
                scene = court.key
                if not court.same and (people or self._moves_where(look, court.images)):
                    # The window's look holds what the court never showed, and it is a person (seen,
                    # or moving however little: a ball at rest does not): the court decides.
                    members, people = court.images, []
                elif not court.same:
                    scene = None  # a new look of this court (an object left on it): not remembered
            elif returns or (chosen.all() and not people and self._spans_window()):
                scene = ""  # worth remembering as a new scene: see below
        if members is None:
            members = np.stack([self.images[j] for j in np.flatnonzero(chosen)]).astype(np.float32)
            # Worth remembering: the court a remembered one confirms, a look that comes back after
            # something else was in view, or one that fills a whole window in which nobody is seen.
            # A still player is one stretch, never two, so he is never remembered as the court.
            if scene is not None and not people:
                self.learned.append(
                    LearnedEmpty(np.clip(np.median(members, axis=0), 0, 255).astype(np.uint8), scene or None)
                )
        # Restless pixels, learnt from all neighbours rather than the few alike members, which
        # a drifting cloud can leave at one.
        restless = self._restless  # as of the last update; steps only change there
        scene_ = EmptyScene.from_members(members, restless[..., 0], restless[..., 1])
        # Every look of the window shows a person and no court is remembered: where they were
        # seen, they stay in view for as long as the window lasts.
        return scene_.with_people(people) if people else scene_

    def _moves_where(self, look: np.ndarray, court: np.ndarray) -> bool:
        """Whether the look's own candidates change among themselves where the look differs from
        the court (a still player fidgets; furniture or a ball at rest does not)."""
        typical = np.median(self.logs[look], axis=0)
        differs = changed(thumb_logs(np.median(court, axis=0).astype(np.uint8)), typical[None], self._tolerance)[0]
        spread = (self.logs[look].max(axis=0) - self.logs[look].min(axis=0)).max(axis=1)
        moving = spread > np.maximum(self._tolerance, math.log1p(THUMB_CHANGE))
        return bool(differs.any() and (differs & moving).sum() >= _FIDGET_PART * differs.sum())

    def _looks(self) -> np.ndarray:
        """Candidates that show one look: differing in under _FIDGET_SHARE of the thumbnail."""
        differs = self._pairwise()
        return np.maximum(differs, differs.T) < max(_FIDGET_SHARE, self.same_scene)

    def _spans_window(self) -> bool:
        return self.index[-1] - self.index[0] >= 0.9 * self.window_frames

    def _typical_empty(self, looks: np.ndarray) -> tuple[np.ndarray, list[Box]]:
        """(candidates alike to the most typical one in which no person is seen, []); when every
        group shows a person, the most typical group all the same, with the people seen in it."""
        differs = self._pairwise()
        alike = np.maximum(differs, differs.T) < self.same_scene
        # A still player yields many near-identical candidates: weigh every stretch of a look as
        # one vote, so the empty scene, which looks the same between all visits, is not outvoted by
        # a player who stands at one spot for longer than the court shows empty. The court comes
        # back after each visit and a still player is one stretch: with only those two looks in
        # the window, one vote each would tie, and the court's returns settle it.
        stretches = np.count_nonzero(np.diff(looks.astype(np.int8), axis=1, prepend=0) == 1, axis=1)
        cost = differs @ (stretches / looks.sum(axis=1))
        open_ = np.ones(len(self.index), bool)
        first: tuple[np.ndarray, list[Box]] | None = None
        while open_.any():
            k = int(np.flatnonzero(open_)[np.argmin(cost[open_])])
            group = alike[k] & open_
            look = looks[k] & open_  # a still player fidgets: the detector may see him in any of them
            people = self._people_in(look, looks)
            if not people:
                return group, []
            first = first or (group, people)
            open_ &= ~look
        assert first is not None  # background() asks only when there are candidates: the loop ran
        return first

    def _people_in(self, look: np.ndarray, looks: np.ndarray) -> list[Box]:
        """People the detector sees in a few of the look's candidates; see PersonChecks.people_in."""
        if self.people is None:
            return []
        members = np.flatnonzero(look)
        outside = np.flatnonzero(~looks[look].any(axis=0))
        rest = np.median(self.logs[outside], axis=0) if len(outside) else None
        spread = members[np.unique(np.linspace(0, len(members) - 1, _PERSON_LOOKS).round().astype(int))]
        return self.people.people_in([(self.index[j], self.logs[j]) for j in spread], rest, self._thumb_shape)


class PersonChecks:
    """What the person detector sees in a window's candidates: each candidate is kept small (a
    JPEG of its grey copy) and looked at once, only when the motion model asks."""

    def __init__(self, detector: PersonDetector) -> None:
        self.detector = detector
        self._kept: dict[int, bytes] = {}  # candidate index -> PersonDetector.prepare()
        self._seen: dict[int, tuple[Box, ...]] = {}  # candidate index -> people found

    def add(self, index: int, kept: bytes) -> None:
        self._kept[index] = kept

    def drop_before(self, index: int) -> None:
        self._kept = {i: k for i, k in self._kept.items() if i >= index}
        self._seen = {i: found for i, found in self._seen.items() if i >= index}

    def people_in(
        self, candidates: Sequence[tuple[int, np.ndarray]], rest: np.ndarray | None, thumb_shape: tuple[int, int]
    ) -> list[Box]:
        """People in these (index, thumbnail logs) candidates. Where the window has other looks
        (`rest`, their median thumbnail), only where the candidate differs from them: a detection
        on what is always there, a coat stand, is clutter. Where it has none, only when seen in two
        candidates: a person who stays in view is seen again."""
        found: list[Box] = []
        seen_in = 0
        for index, logs in candidates:
            if index not in self._kept:
                continue
            if index not in self._seen:
                self._seen[index] = self.detector.find(self._kept[index])
            boxes = [b for b in self._seen[index] if rest is None or _differs_in(b, logs, rest, thumb_shape)]
            seen_in += bool(boxes)
            found += boxes
        return found if rest is not None or seen_in >= 2 else []


def _differs_in(box: Box, logs: np.ndarray, rest: np.ndarray, thumb_shape: tuple[int, int]) -> bool:
    """Whether a tenth or more of the thumbnail pixels in the box differ from `rest` (a person
    covers a good part of their box; clutter that is always there covers none of it)."""
    change = np.abs(logs - rest).max(axis=1)[box.mask(*thumb_shape).ravel()]
    return bool(np.mean(change > math.log1p(THUMB_CHANGE)) > 0.1)


@dataclass(frozen=True)
class EmptyScene:
    """The empty scene's image and, per pixel, how much it varies while empty.

    Leaves in the wind, a flag or a flickering screen vary even when nobody is there; a pixel
    counts as foreground only when it changes well beyond its own usual variation.
    """

    image: np.ndarray  # float32 HxWx3, the per-pixel median of the empty frames
    luma_spread: np.ndarray  # HxW, 90th percentile deviation of log brightness while empty
    chroma_spread: np.ndarray  # HxW, 90th percentile deviation of rg chromaticity while empty
    luma_restless: np.ndarray  # HxW, log brightness change between neighbouring frames anyway
    chroma_restless: np.ndarray  # HxW, log colour change between neighbouring frames anyway
    occupied: np.ndarray | None = None  # HxW bool: where a person was seen in every look; in view

    def with_people(self, people: Sequence[Box]) -> "EmptyScene":
        occupied = np.logical_or.reduce([box.mask(*self.image.shape[:2]) for box in people])
        return dataclasses.replace(self, occupied=occupied)

    @classmethod
    def from_members(cls, members: np.ndarray, luma_restless: np.ndarray, chroma_restless: np.ndarray) -> "EmptyScene":
        image = np.median(members, axis=0)
        luma = np.log(members.mean(axis=3) + 8.0)
        luma -= np.median(luma.reshape(len(members), -1), axis=1)[:, None, None]  # exposure
        luma_spread = np.percentile(np.abs(luma - np.median(luma, axis=0)), 90, axis=0)
        chroma = members[..., :2] / (members.sum(axis=3, keepdims=True) + 3.0)
        chroma_dev = np.abs(chroma - np.median(chroma, axis=0)).sum(axis=3)
        chroma_spread = np.percentile(chroma_dev, 90, axis=0)
        return cls(image, luma_spread, chroma_spread, luma_restless, chroma_restless)


def _step(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """|log change| per pixel between two frames: (brightness, colour), float16 to stay small.

    Brightness takes the largest channel change, since leaves against the sky swing blue most;
    colour is log colour minus log brightness, which a cloud's shadow leaves alone."""
    a = np.log(before.astype(np.float32) + 16.0)
    b = np.log(after.astype(np.float32) + 16.0)
    delta = b - a
    luma = _channel_max(np.abs(delta))
    chroma = _channel_max(np.abs(delta - delta.mean(axis=2, keepdims=True)))
    return np.stack([luma, chroma], axis=2).astype(np.float16)


def _channel_max(a: np.ndarray) -> np.ndarray:
    """a.max(axis=2) over three channels, which numpy reduces slowly along so short an axis."""
    return np.maximum(np.maximum(a[..., 0], a[..., 1]), a[..., 2])
