"""Retraining the hoop model from the player's make, miss and no-shot rows.

The ResNet50 learns from square crops around the rim (pipeline/shots/rim_model.py draws them): the
frames just after each labelled shot's rim, as the player labelled it (through the net or not),
and the frames of a span the player called no shot (never through). It is judged on the labelled
shots of videos it did not learn from, against the results the player saw (the rules of
pipeline/shots/attempts.py, or the hoop model in use), and promoted only when it gets more of them
right. Its registry is state_dir/hoop/models.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from dunkwatch.config import LearnConfig
from dunkwatch.hoop import Hoop, HoopError
from dunkwatch.learn.catalogue import read_corrections
from dunkwatch.learn.corrections import Correction, KnownVideo, ShotLabel
from dunkwatch.media import MediaInfo, probe
from dunkwatch.models import registry
from dunkwatch.models.runtime import Classifier
from dunkwatch.outputs import Sidecar
from dunkwatch.pipeline.shots.rim_model import AFTER_RIM, THROUGH, current_hoop_model, hoop_state, rim_crops
from dunkwatch.store import Store

if TYPE_CHECKING:  # distribute imports Keras: only training itself loads it
    from dunkwatch.learn.distribute import TrainingPlan

log = logging.getLogger(__name__)

NO_SHOT_STEP = 0.2  # seconds between the crops taken from a span the player called no shot


class HoopStatus(str, Enum):
    SKIPPED = "skipped"
    PROMOTED = "promoted"
    KEPT = "kept"
    FAILED = "failed"  # an error: logged, and the presence model's run goes on

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class LabelledShot:
    sha256: str
    path: Path  # the archived original
    hoop: Hoop
    rim: float  # the detected attempt's rim time inside the player's row
    make: bool  # as the player labelled it
    shown: str  # the result the player saw: make, miss or unknown


@dataclass(frozen=True)
class HoopFigures:
    shots: int
    right: int

    @property
    def accuracy(self) -> float:
        return self.right / self.shots if self.shots else 0.0

    def line(self) -> str:
        return f"{self.right}/{self.shots} make/miss right ({self.accuracy:.3f})"


@dataclass
class HoopTrainResult:
    status: HoopStatus
    reason: str
    version: str | None = None
    candidate: HoopFigures | None = None
    baseline: HoopFigures | None = None
    facts: dict = field(default_factory=dict)

    def line(self) -> str:
        """What `dunkwatch train` prints for it."""
        return f"{self.status}: {self.reason}" + (f" ({self.version})" if self.version else "")


def _hoop_of(sidecar: Sidecar) -> Hoop | None:
    try:
        return Hoop(*sidecar.hoop) if sidecar.hoop else None
    except HoopError:
        return None


def labelled_shots(rows: Sequence[Correction], videos: dict[str, tuple[Path, Sidecar]]) -> list[LabelledShot]:
    """Each detected attempt inside a make or miss row, with the player's label. A row with no
    detected attempt inside (a shot the finder missed) has no rim time to crop at: left out."""
    shots = []
    for row in rows:
        if row.shot not in (ShotLabel.MAKE, ShotLabel.MISS) or row.sha256 not in videos:
            continue
        path, sidecar = videos[row.sha256]
        hoop = _hoop_of(sidecar)
        if hoop is None:
            continue
        for attempt in sidecar.attempts:
            if row.start <= attempt.rim <= row.end:
                shots.append(
                    LabelledShot(row.sha256, path, hoop, attempt.rim, row.shot is ShotLabel.MAKE, attempt.result)
                )
    return shots


def no_shot_times(rows: Sequence[Correction]) -> dict[str, list[float]]:
    """Per video, times inside the spans the player called no shot: crops of a ball not going in."""
    found: dict[str, list[float]] = {}
    for row in rows:
        if row.shot is ShotLabel.NO_SHOT:
            found.setdefault(row.sha256, []).extend(np.arange(row.start, row.end, NO_SHOT_STEP).tolist())
    return found


def shot_labels_hash(rows: Sequence[Correction]) -> str:
    payload = sorted((r.sha256, round(r.start, 3), round(r.end, 3), r.shot.value) for r in rows if r.shot)
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


def decide(candidate: HoopFigures, baseline: HoopFigures) -> tuple[bool, str]:
    """Promoted only when it gets more of the held-out labelled shots right than what is in use."""
    if candidate.shots == 0:
        return False, "kept: no labelled shot in a video it did not learn from, nothing to judge it on"
    if candidate.right > baseline.right:
        return True, f"promoted: {candidate.line()} against {baseline.line()}"
    return False, f"kept: {candidate.line()}, not more than {baseline.line()}"


def split(shots: list[LabelledShot], share: float) -> tuple[list[str], list[str]]:
    """(training videos, validation videos) by sha256, newest-labelled last held out; one video: none held out."""
    videos = list(dict.fromkeys(s.sha256 for s in shots))
    if len(videos) < 2:
        return videos, []
    held = max(1, int(round(len(videos) * share)))
    return videos[:-held], videos[-held:]


def _videos(store: Store, known: list[KnownVideo]) -> dict[str, tuple[Path, Sidecar]]:
    shas = {k.sha256 for k in known}
    found: dict[str, tuple[Path, Sidecar]] = {}
    for v in store.processed():
        sidecar = v.sidecar() if v.sha256 in shas else None
        if sidecar is not None and v.sha256 is not None and v.location and v.location.is_file():
            found[v.sha256] = (v.location, sidecar)
    return found


@functools.lru_cache(maxsize=64)
def _probed(path: Path) -> MediaInfo:
    """One probe per original, however many of its shots are cropped."""
    return probe(path)


def _crops(
    shots: Sequence[LabelledShot], negatives: dict[str, list[float]], hoops: dict[str, tuple[Path, Hoop]], size: int
) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for shot in shots:
        times = [shot.rim + dt for dt in AFTER_RIM]
        xs.append(rim_crops(shot.path, _probed(shot.path), shot.hoop, times, size))
        # The first crops after the rim show the ball in (make) or on or beside the rim (miss).
        ys.append(np.full(len(times), 1.0 if shot.make else 0.0, np.float32))
    for sha, times in negatives.items():
        if sha in hoops and times:
            path, hoop = hoops[sha]
            xs.append(rim_crops(path, _probed(path), hoop, times, size))
            ys.append(np.zeros(len(times), np.float32))
    if not xs:
        return np.zeros((0, size, size, 3), np.uint8), np.zeros(0, np.float32)
    return np.concatenate(xs), np.concatenate(ys)


def judge(classifier: Classifier, shots: Sequence[LabelledShot]) -> tuple[HoopFigures, HoopFigures]:
    """(the candidate's figures, the figures of the results the player saw) on the same shots."""
    right = shown = 0
    for shot in shots:
        crops = rim_crops(
            shot.path, _probed(shot.path), shot.hoop, [shot.rim + dt for dt in AFTER_RIM], classifier.input_size
        )
        make = float(np.max(classifier.predict(crops))) >= THROUGH
        right += make == shot.make
        shown += (shot.shown == "make") == shot.make and shot.shown != "unknown"
    return HoopFigures(len(shots), right), HoopFigures(len(shots), shown)


def train_hoop_model(
    cfg: LearnConfig,
    store: Store,
    known: list[KnownVideo],
    make_plan: Callable[[], TrainingPlan],
    force: bool = False,
    verbose: int | str = 0,
) -> HoopTrainResult:
    """Skip, or train (on the devices `make_plan` finds), judge and maybe promote the hoop model.
    The plan, and Keras with it, is made only when there is something to train: a skip costs no
    Keras import (3 s of CPU for every `dunkwatch train` with nothing to learn)."""
    rows, _ = read_corrections(cfg.paths.corrections, known)
    videos = _videos(store, known)
    shots = labelled_shots(rows, videos)
    lhash = shot_labels_hash(rows)
    state = hoop_state(cfg.paths.state_dir)
    current = current_hoop_model(cfg.paths.state_dir)
    if not shots:
        return HoopTrainResult(HoopStatus.SKIPPED, "no make or miss row covers a detected attempt yet")
    if not force and current and registry.metrics(state, current).get("labels_hash") == lhash:
        return HoopTrainResult(HoopStatus.SKIPPED, f"hoop model {current} learned from these rows already")
    from dunkwatch.learn.fit import train_model, training_input_size
    from dunkwatch.learn.judge import candidate_folder, keep_version
    from dunkwatch.models.runtime import candidate_classifier

    plan = make_plan()
    t = cfg.training
    size = training_input_size(t, plan.accelerated)
    train_ids, held = split(shots, t.validation_share)
    hoops = {sha: (path, hoop) for sha, (path, sc) in videos.items() if (hoop := _hoop_of(sc))}
    negatives = {sha: times for sha, times in no_shot_times(rows).items() if sha not in held}
    x, y = _crops([s for s in shots if s.sha256 in train_ids], negatives, hoops, size)
    if len(x) == 0 or len(np.unique(y)) < 2:
        return HoopTrainResult(HoopStatus.SKIPPED, "the rows it could learn from are all makes or all misses")
    started = time.monotonic()
    model, backbone = train_model(
        t,
        plan,
        size,
        x,
        y,
        np.ones(len(y), np.float32),
        verbose,
        seed=int(lhash[:8], 16),
        imagenet=t.imagenet,
        weights_dir=cfg.paths.state_dir / "weights",
    )
    facts = {
        "train_crops": int(len(x)),
        "train_seconds": round(time.monotonic() - started, 1),
        "input_size": size,
        "backbone": backbone,
        "labels_hash": lhash,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    held_shots = [s for s in shots if s.sha256 in held]
    with candidate_folder(state) as scratch:
        candidate, baseline = judge(candidate_classifier(model, cfg.pipeline.score.runtime, scratch), held_shots)
        promote, reason = decide(candidate, baseline)
        log.info("hoop model: new %s; in use %s", candidate.line(), baseline.line())
        result = HoopTrainResult(
            HoopStatus.PROMOTED if promote else HoopStatus.KEPT, reason, None, candidate, baseline, facts
        )
        if promote:
            meta = {
                **facts,
                "figures": {"shots": candidate.shots, "right": candidate.right},
                "baseline": {"shots": baseline.shots, "right": baseline.right},
                "previous": current,
            }
            version = registry.add_version(state, lambda p: keep_version(model, p, scratch), meta)
            registry.set_current(state, version)
            registry.prune(state, t.keep_versions)
            result.version = version
    log.info("hoop model %s: %s", result.status, result.reason)
    return result
