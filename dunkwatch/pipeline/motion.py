"""The cold-start motion scorer: share of each frame that differs from the empty scene.

Pure numpy and OpenCV on frames handed in; no file I/O, no Keras.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np

from dunkwatch.config import MotionConfig
from dunkwatch.imageops import shrink_to_side
from dunkwatch.pipeline.person import Box, PersonDetector

_THUMB_SIDE = 48  # background clustering compares thumbnails: cheap, and blurred free of noise
_THUMB_CHANGE = 0.15  # relative brightness change that counts a thumbnail pixel as different
_STEP_MEMORY = 60  # neighbour-to-neighbour changes remembered to learn restless pixels
_MIN_STEPS = 10  # fewer neighbour steps than this teach nothing about restlessness
_RESTLESS = 2.0  # ... and how far beyond its usual change a restless pixel must go
_BG_EVERY_S = 1.0  # one background candidate per second is plenty for a static scene
_MAX_CANDIDATES = 300  # caps clustering cost (quadratic) for very long windows
_LUMA_FLOOR = 10.0  # absolute brightness change below this is compression noise, not a person
_LIGHT_RADIUS = 0.2  # lighting varies over a fifth of the frame or more; players are smaller
_CHROMA_MIN_LUMA = 40.0  # chromaticity of near-black pixels is noise
# A pixel must change by more than this many times the deviation it shows in 90% of the empty
# frames: about 4 sigma for sensor noise, and more than a leaf that flips now and then.
_SPREADS = 2.5
# A remembered court is the same court as a clip's frames when, once aligned, the tone curve
# explains all but this share of the thumbnail: a player covers well under a third of a fixed
# camera's frame, while another court, room or framing differs almost everywhere.
_COURT_SHARE = 0.3
_MAX_NUDGE = 0.05  # a tripod nudged by up to this share of the frame's side is still the same framing
_PERSON_LOOKS = 4  # members of a would-be empty group the person detector looks at
# Candidates differing in less than this share of the thumbnail are one look, when looks vote for
# the empty scene and when telling stretches apart: a still player fidgets (a page, a hand, the
# head), which changes far less of the frame than a player arriving or leaving.
_FIDGET_SHARE = 0.03
_FIDGET_PART = 0.1  # ... and a fidget moves at least this part of the player (a hand of the body)


def _guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, weight: np.ndarray | None = None,
                   eps: float = 0.01) -> np.ndarray:
    """He et al.'s guided filter: src smoothed over `radius`, keeping the guide's edges; pixels
    with zero weight do not take part, and get the value their neighbourhood predicts."""
    size = (2 * radius + 1, 2 * radius + 1)
    w = np.ones_like(src) if weight is None else weight.astype(np.float32)
    norm = np.maximum(cv2.boxFilter(w, -1, size, borderType=cv2.BORDER_REFLECT), 1e-3)

    def mean(a: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(w * a, -1, size, borderType=cv2.BORDER_REFLECT) / norm

    mean_i, mean_p = mean(guide), mean(src)
    var_i = mean(guide * guide) - mean_i * mean_i
    a = (mean(guide * src) - mean_i * mean_p) / (var_i + eps)
    b = mean_p - a * mean_i
    return cv2.blur(a, size, borderType=cv2.BORDER_REFLECT) * guide + cv2.blur(b, size, borderType=cv2.BORDER_REFLECT)


def _share_changed(ref: np.ndarray, others: np.ndarray, tolerance: np.ndarray) -> np.ndarray:
    """Share of pixels of each of `others` (n x P x 3 log values) unlike `ref` (P x 3), a pixel
    being unlike when it is off by more than its `tolerance` (P, log units)."""
    return _changed(ref, others, tolerance).mean(axis=1)


def _changed(ref: np.ndarray, others: np.ndarray, tolerance: np.ndarray) -> np.ndarray:
    """Which pixels of each of `others` are unlike `ref` (n x P bool); see _share_changed.

    Phones re-expose and re-balance colour when a dark player walks in, which shifts brightness
    non-linearly (a white wall clips, the floor brightens): fit, per pair and channel, a line
    log(other) = a + b * log(ref), once on all pixels and again without the outliers (the
    player), and count only what the fitted tone curve cannot explain.
    """
    x = ref[None]  # 1 x P x 3
    limit = tolerance[None, :, None]
    keep = np.ones(others.shape, dtype=bool)
    for _ in range(2):
        w = keep.astype(np.float32)
        count = np.maximum(w.sum(axis=1, keepdims=True), 1.0)
        xm = (w * x).sum(axis=1, keepdims=True) / count
        ym = (w * others).sum(axis=1, keepdims=True) / count
        dx = x - xm
        var = np.maximum((w * dx * dx).sum(axis=1, keepdims=True), 1e-6)
        slope = np.clip((w * dx * (others - ym)).sum(axis=1, keepdims=True) / var, 0.5, 2.0)
        residual = np.abs(others - ym - slope * dx)
        keep = residual < 2 * limit
    return residual.max(axis=2) > tolerance[None]


@dataclass(frozen=True)
class RememberedScene:
    """Empty-court images of one camera framing and light, learnt from earlier videos."""

    key: str
    images: np.ndarray  # n x H x W x 3 uint8 at the motion model's analysis size


@dataclass(frozen=True)
class LearnedEmpty:
    """An empty-court image this video confirmed, for the scene memory to keep."""

    image: np.ndarray  # H x W x 3 uint8 at analysis size
    scene: str | None  # the remembered scene it was matched to, None when new


def same_scene_share(cfg: MotionConfig) -> float:
    """Thumbnails differing in less than half the smallest player show the same scene."""
    return cfg.min_area / 2


def thumb_logs(image: np.ndarray) -> np.ndarray:
    """What candidates are compared by: a small, blurred thumbnail in log units (P x 3)."""
    thumb = shrink_to_side(image, _THUMB_SIDE)
    return np.log(thumb.astype(np.float32) + 16.0).reshape(-1, 3)


def alike_share(a: np.ndarray, b: np.ndarray) -> float:
    """Share of thumbnail pixels of image b that image a's tone curve cannot explain."""
    ta, tb = thumb_logs(a), thumb_logs(b)
    if ta.shape != tb.shape:
        return 1.0
    return float(_share_changed(ta, tb[None], np.full(len(ta), math.log1p(_THUMB_CHANGE), np.float32))[0])


def _runs(mask: np.ndarray) -> int:
    return int(np.count_nonzero(np.diff(np.concatenate([[0], mask.astype(np.int8)])) == 1))


class EmptySceneModel:
    """Candidate frames of a sliding window, and which of them show the empty scene.

    Every frame is the empty scene plus its own player, so a frame with a player differs from
    an empty one only where that player is, and from another frame with a player where either
    player is: the empty scene is the candidate least different from all the others. Distances
    are kept between calls, so each new candidate costs one row and one column.
    """

    def __init__(self, same_scene: float, remembered: Sequence[RememberedScene] = (),
                 detector: PersonDetector | None = None, window_frames: int = 0):
        self.same_scene = same_scene
        self.window_frames = window_frames  # sampled frames of a whole background window
        self.courts = RememberedCourts(remembered, same_scene)
        self.people = PersonChecks(detector) if detector else None
        self.learned: list[LearnedEmpty] = []  # empty courts confirmed in this video
        self._tolerance = np.zeros(0, np.float32)
        self.index: list[int] = []
        self.images: list[np.ndarray] = []
        self.logs = np.zeros((0, 0, 3), np.float32)
        self.differs = np.zeros((0, 0), np.float32)
        self._new: list[tuple[int, np.ndarray, np.ndarray]] = []  # (index, image, thumbnail logs)
        self._steps: deque[np.ndarray] = deque(maxlen=_STEP_MEMORY)  # |change| between neighbours
        self._thumb_shape: tuple[int, int] = (0, 0)
        self._restless = np.zeros((0, 0, 2), np.float32)

    def add(self, index: int, image: np.ndarray, detail: bytes | None = None) -> None:
        """A candidate: its analysis image and, with a detector, its PersonDetector.prepare() copy."""
        self._thumb_shape = shrink_to_side(image, _THUMB_SIDE).shape[:2]
        self._new.append((index, image, thumb_logs(image)))
        if self.people is not None and detail is not None:
            self.people.add(index, detail)

    def drop_before(self, index: int) -> None:
        self._update()
        cut = next((k for k, i in enumerate(self.index) if i >= index), len(self.index))
        del self.index[:cut], self.images[:cut]
        if self.people is not None:
            self.people.drop_before(index)
        self.logs = self.logs[cut:]
        self.differs = self.differs[cut:, cut:]

    def _update(self) -> None:
        if not self._new:
            return
        new = np.stack([t for _, _, t in self._new])
        everyone = np.concatenate([self.logs, new]) if len(self.logs) else new
        old_n, n = len(self.logs), len(everyone)
        images = self.images[-1:] + [img for _, img, _ in self._new]
        for before, after in zip(images, images[1:]):
            self._steps.append(_step(before, after))
        restless = self._restless = self._restlessness(self._new[0][1].shape[:2])
        thumb_restless = cv2.resize(restless.max(axis=2), self._thumb_shape[::-1], interpolation=cv2.INTER_AREA)
        tolerance = self._tolerance = np.maximum(math.log1p(_THUMB_CHANGE), thumb_restless.ravel())
        differs = np.empty((n, n), np.float32)
        differs[:old_n, :old_n] = self.differs
        for i in range(old_n, n):
            differs[i] = _share_changed(everyone[i], everyone, tolerance)
        # The tone fit runs one way; the other way differs only slightly, and costs as much again.
        differs[:old_n, old_n:] = differs[old_n:, :old_n].T
        self.index += [i for i, _, _ in self._new]
        self.images += [img for _, img, _ in self._new]
        self.logs, self.differs, self._new = everyone, differs, []

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
        members, people = None, []
        if scene is None:
            looks = self._looks()
            chosen, people = self._typical_empty(looks)
            returns = _runs(looks[chosen].any(axis=0)) >= 2
            here = self.images[len(self.images) // 2]
            court = None if returns else self.courts.court(here, np.median(self.logs[chosen], axis=0), self._tolerance)
            if court is not None:
                scene = court.key
                if not court.same and (people or self._moves_where(looks[chosen].any(axis=0), court.images)):
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
                self.learned.append(LearnedEmpty(np.clip(np.median(members, axis=0), 0, 255).astype(np.uint8),
                                                 scene or None))
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
        differs = _changed(thumb_logs(np.median(court, axis=0).astype(np.uint8)), typical[None], self._tolerance)[0]
        spread = (self.logs[look].max(axis=0) - self.logs[look].min(axis=0)).max(axis=1)
        moving = spread > np.maximum(self._tolerance, math.log1p(_THUMB_CHANGE))
        return bool(differs.any() and (differs & moving).sum() >= _FIDGET_PART * differs.sum())

    def _looks(self) -> np.ndarray:
        """Candidates that show one look: differing in under _FIDGET_SHARE of the thumbnail."""
        return np.maximum(self.differs, self.differs.T) < max(_FIDGET_SHARE, self.same_scene)

    def _spans_window(self) -> bool:
        return self.index[-1] - self.index[0] >= 0.9 * self.window_frames

    def _typical_empty(self, looks: np.ndarray) -> tuple[np.ndarray, list[Box]]:
        """(candidates alike to the most typical one in which no person is seen, []); when every
        group shows a person, the most typical group all the same, with the people seen in it."""
        alike = np.maximum(self.differs, self.differs.T) < self.same_scene
        # A still player yields many near-identical candidates: weigh every look as one vote, so
        # the empty scene, which looks the same between all visits, is not outvoted by a player
        # who stands at one spot for longer than the court shows empty.
        cost = self.differs @ (1.0 / looks.sum(axis=1))
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

    def __init__(self, detector: PersonDetector):
        self.detector = detector
        self._kept: dict[int, bytes] = {}  # candidate index -> PersonDetector.prepare()
        self._seen: dict[int, tuple[Box, ...]] = {}  # candidate index -> people found

    def add(self, index: int, kept: bytes) -> None:
        self._kept[index] = kept

    def drop_before(self, index: int) -> None:
        self._kept = {i: k for i, k in self._kept.items() if i >= index}
        self._seen = {i: found for i, found in self._seen.items() if i >= index}

    def people_in(self, candidates: Sequence[tuple[int, np.ndarray]], rest: np.ndarray | None,
                  thumb_shape: tuple[int, int]) -> list[Box]:
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
    th, tw = thumb_shape
    x0, y0 = int(box.x0 * tw), int(box.y0 * th)
    inside = np.zeros((th, tw), bool)
    inside[y0:max(y0 + 1, int(np.ceil(box.y1 * th))), x0:max(x0 + 1, int(np.ceil(box.x1 * tw)))] = True
    change = np.abs(logs - rest).max(axis=1)[inside.ravel()]
    return bool(np.mean(change > math.log1p(_THUMB_CHANGE)) > 0.1)


@dataclass(frozen=True)
class CourtMatch:
    key: str  # the remembered scene
    images: np.ndarray  # its images shifted onto this camera, n x H x W x 3 float32
    same: bool  # the window's look is this court, not the court plus something


class RememberedCourts:
    """The empty courts of earlier videos, as the motion model matches a window against them:
    candidate by candidate (where the window shows the court empty), or as a whole court, aligned,
    where the window's look is the court plus something that stayed."""

    def __init__(self, remembered: Sequence[RememberedScene], same_scene: float):
        self.same_scene = same_scene
        # Matching needs each image's size and thumbnail; the images only to stand in for the court.
        self.scenes = [(r.key, r.images.shape[1:], np.stack([thumb_logs(i) for i in r.images]), r.images)
                       for r in remembered if len(r.images)]

    def alike_candidates(self, logs: np.ndarray, shape: tuple, tolerance: np.ndarray) -> tuple[str | None, np.ndarray]:
        """(scene key, candidates alike to its images) for the remembered scene most candidates
        match; (None, []) when none does: a moved camera, another court or other light."""
        best_key, best = None, np.zeros(0, bool)
        for key, scene_shape, thumbs, _ in self.scenes:
            if scene_shape != shape or thumbs.shape[1] != logs.shape[1]:
                continue
            alike = np.zeros(len(logs), bool)
            for ref in thumbs:
                alike |= _share_changed(ref, logs, tolerance) < self.same_scene
            if alike.sum() > best.sum():
                best_key, best = key, alike
        return best_key, best

    def court(self, here: np.ndarray, typical: np.ndarray, tolerance: np.ndarray) -> CourtMatch | None:
        """The remembered court whose image, shifted onto `here` (one of the window's images) by at
        most a nudge, the tone curve maps onto `typical` (the window's empty-looking thumbnail) in
        all but _COURT_SHARE of the pixels; None when none does: another court, a moved camera."""
        best = None
        for key, shape, _, images in self.scenes:
            if shape != here.shape:
                continue
            for image in images:
                shifted = align_to(image, here)
                if shifted is None:
                    continue
                share = float(_share_changed(thumb_logs(shifted), typical[None], tolerance)[0])
                if share < _COURT_SHARE and (best is None or share < best[0]):
                    best = (share, key, images)
        if best is None:
            return None
        share, key, images = best
        aligned = [a for a in (align_to(i, here) for i in images) if a is not None]
        return CourtMatch(key, np.stack(aligned).astype(np.float32), share < self.same_scene)


def align_to(image: np.ndarray, to: np.ndarray) -> np.ndarray | None:
    """`image` shifted onto `to` (a tripod nudged by a few pixels), by phase correlation of their
    brightness; None when the shift is beyond a nudge, a framing of its own."""
    a = image.astype(np.float32).mean(axis=2)
    b = to.astype(np.float32).mean(axis=2)
    window = cv2.createHanningWindow(a.shape[::-1], cv2.CV_32F)
    (dx, dy), _ = cv2.phaseCorrelate(a, b, window)
    if max(abs(dx), abs(dy)) > _MAX_NUDGE * max(a.shape):
        return None
    if abs(dx) < 0.25 and abs(dy) < 0.25:
        return image
    shift = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, shift, a.shape[::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


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
        h, w = self.image.shape[:2]
        occupied = np.zeros((h, w), bool)
        for box in people:
            occupied[int(box.y0 * h):int(np.ceil(box.y1 * h)), int(box.x0 * w):int(np.ceil(box.x1 * w))] = True
        return dataclasses.replace(self, occupied=occupied)

    @classmethod
    def from_members(cls, members: np.ndarray, luma_restless: np.ndarray,
                     chroma_restless: np.ndarray) -> "EmptyScene":
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
    luma = np.abs(delta).max(axis=2)
    chroma = np.abs(delta - delta.mean(axis=2, keepdims=True)).max(axis=2)
    return np.stack([luma, chroma], axis=2).astype(np.float16)


class MotionScorer:
    """Scores the share of each frame that differs from the empty scene around it.

    The empty scene comes from EmptySceneModel over a window centred on the chunk being scored,
    so a player who stands still for a while stays foreground. Brightness changes that are
    global (exposure) or smooth over a large area (clouds, lights) are divided out first.
    """

    name = "motion"
    model_version = None

    def __init__(self, cfg: MotionConfig, sample_fps: float,
                 memory: Callable[[], Sequence[RememberedScene]] | None = None):
        self.cfg = cfg
        self.memory = memory  # asked once per video: the empty courts seen in earlier videos
        self.learned_scenes: list[LearnedEmpty] = []  # of the last video scored
        self.detector = PersonDetector() if cfg.person_prior else None
        # The detector needs more pixels than the motion model; candidates keep a grey copy for it.
        self.frame_side = max(cfg.analysis_size, PersonDetector.side) if self.detector else cfg.analysis_size
        self.fps = float(sample_fps)
        self.window = max(1, round(cfg.background_window * self.fps))  # frames
        self.chunk = max(1, self.window // 4)
        self.every = max(1, round(max(_BG_EVERY_S, cfg.background_window / _MAX_CANDIDATES) * self.fps))
        self._luma_log = math.log1p(cfg.luma_change)
        self._restless_floor = math.log1p(_THUMB_CHANGE)
        self._same_scene = same_scene_share(cfg)

    # streaming ---------------------------------------------------------------------------
    def score(self, frames: Iterable[np.ndarray]) -> Iterator[float]:
        pending: deque[np.ndarray] = deque()  # analysis images not scored yet
        first = 0  # index of pending[0] in the video's sampled frames
        model = EmptySceneModel(self._same_scene, self.memory() if self.memory else (), self.detector, self.window)
        self.learned_scenes = model.learned
        half = self.window // 2
        index = 0
        for frame in frames:
            image = self._prepare(frame)
            pending.append(image)
            if index % self.every == 0:
                model.add(index, image, PersonDetector.prepare(frame) if self.detector else None)
            index += 1
            # A chunk is scored once the window reaches half a window past its end.
            if len(pending) >= self.chunk + half:
                empty = model.background()
                for _ in range(self.chunk):
                    yield self._score_one(pending.popleft(), empty)
                first += self.chunk
                model.drop_before(first - half)
        empty = model.background()
        while pending:
            yield self._score_one(pending.popleft(), empty)

    # steps -------------------------------------------------------------------------------
    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(shrink_to_side(frame, self.cfg.analysis_size), (5, 5), 1.0)

    def foreground(self, image: np.ndarray, scene: EmptyScene) -> np.ndarray:
        """Boolean mask of the pixels that do not belong to the empty scene."""
        frame = image.astype(np.float32)
        background = scene.image
        y_f = frame.mean(axis=2)
        y_b = background.mean(axis=2)
        log_ratio = np.log((y_f + 8.0) / (y_b + 8.0))
        # Smooth, large-area brightness changes (cloud shadows, a light switched on) are the
        # scene's lighting, not a player. A guided filter estimates them, following the edges of
        # the empty scene (a wall and a floor lit differently) but not the much smaller player.
        # A second, tighter pass leaves out what the first found, so a cloud's core is followed
        # closely while a player, left out, cannot bend the lighting towards themselves.
        guide = np.log(y_b + 8.0)
        side = max(guide.shape)
        luma_limit = np.maximum(np.maximum(self._luma_log, _SPREADS * scene.luma_spread), scene.luma_restless)
        lighting = _guided_filter(guide, log_ratio, max(2, int(side * _LIGHT_RADIUS)))
        first_pass = (np.abs(log_ratio - lighting) > luma_limit).astype(np.uint8)
        outside = 1 - cv2.dilate(first_pass, np.ones((5, 5), np.uint8))
        lighting = _guided_filter(guide, log_ratio, max(2, int(side * _LIGHT_RADIUS / 2)), outside)
        residual = log_ratio - lighting
        y_expected = (y_b + 8.0) * np.exp(lighting) - 8.0
        luma_fg = (np.abs(residual) > luma_limit) & (np.abs(y_f - y_expected) > _LUMA_FLOOR)
        # Colour catches a player whose brightness matches the floor behind them.
        sum_f = frame.sum(axis=2) + 3.0
        sum_b = background.sum(axis=2) + 3.0
        chroma_f = frame[..., :2] / sum_f[..., None]
        chroma_b = background[..., :2] / sum_b[..., None]
        shift = chroma_f - chroma_b
        shift -= np.median(shift.reshape(-1, 2), axis=0)  # white-balance drift is global
        chroma_limit = np.maximum(self.cfg.chroma_change, _SPREADS * scene.chroma_spread)
        steady = scene.chroma_restless <= self._restless_floor  # leaves trade colours: luma decides there
        chroma_fg = (np.abs(shift).sum(axis=2) > chroma_limit) & (np.minimum(y_f, y_b) > _CHROMA_MIN_LUMA) & steady
        mask = (luma_fg | chroma_fg | (scene.occupied if scene.occupied is not None else False)).astype(np.uint8)
        # An opening removes isolated speckle from compression noise.
        return cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(bool)

    def _score_one(self, image: np.ndarray, scene: EmptyScene | None) -> float:
        if scene is None:
            return 0.0
        share = float(self.foreground(image, scene).mean())
        # 0.5 at min_area, rising towards 1 as more of the frame is foreground.
        return 1.0 - math.exp(-math.log(2.0) * share / self.cfg.min_area)
