"""The hoop model: a ResNet50 (the mission's model) that looks at a square crop around the rim and
says whether the ball is going through the net. It learns from the player's make and miss rows
(learn/hoop_learning.py) and, once promoted, decides each attempt's result in place of the rules
of pipeline/shots/attempts.py. The crop geometry lives here, so training and scoring cannot drift apart.

Its registry is state_dir/hoop/models (vNNNN, current), run through OpenVINO like the cnn.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from dunkwatch.errors import ModelError
from dunkwatch.hoop import Hoop
from dunkwatch.media import MediaInfo
from dunkwatch.models import registry
from dunkwatch.models.runtime import Classifier, load_classifier
from dunkwatch.pipeline.scoring.decode import frames_at
from dunkwatch.pipeline.shots.attempts import Attempt, Kind, Result

log = logging.getLogger(__name__)

HOOP_DIR = "hoop"  # state_dir/hoop/models holds the hoop model's versions
AFTER_RIM = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)  # seconds after the rim the crops are taken at
THROUGH = 0.5  # a crop scoring this or more shows the ball in the net


def hoop_state(state_dir: Path) -> Path:
    return Path(state_dir) / HOOP_DIR


def current_hoop_model(state_dir: Path) -> str | None:
    return registry.current_version(hoop_state(state_dir))


def crop_box(hoop: Hoop, width: int, height: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) in pixels: a square over the rim and net, with a rim's width above the rim
    (where a rim-out bounces) and half of one below the net (where a make drops out)."""
    x, y, w, h = hoop.pixels(width, height)
    side = max(2.5 * w, h + 1.5 * w)
    cx, top = x + w / 2, y - w
    x0 = int(round(min(max(0.0, cx - side / 2), max(0.0, width - side))))
    y0 = int(round(min(max(0.0, top), max(0.0, height - side))))
    x1, y1 = min(width, x0 + int(round(side))), min(height, y0 + int(round(side)))
    return x0, y0, x1, y1


def crop(frame: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    x0, y0, x1, y1 = box
    return cv2.resize(frame[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA)


def rim_crops(path: Path, info: MediaInfo, hoop: Hoop, times: Sequence[float], size: int) -> np.ndarray:
    """Crops (N x size x size x 3 uint8 RGB) of the first frame at or after each time: one short
    read per cluster of times (a seek between clusters); a time past the last frame takes that frame."""
    out = np.zeros((len(times), size, size, 3), np.uint8)
    for k, image in enumerate(frames_at(path, info, times, None)):
        if image is not None:  # a video with no frame at all leaves black crops
            out[k] = crop(image, crop_box(hoop, image.shape[1], image.shape[0]), size)
    return out


def through_scores(
    path: Path, info: MediaInfo, hoop: Hoop, attempts: Sequence[Attempt], classifier: Classifier
) -> np.ndarray:
    """Per attempt, the highest score the model gives the crops just after its rim."""
    if not attempts:
        return np.zeros(0)
    times = [a.rim + dt for a in attempts for dt in AFTER_RIM]
    scores = np.asarray(classifier.predict(rim_crops(path, info, hoop, times, classifier.input_size)))
    return scores.reshape(len(attempts), len(AFTER_RIM)).max(axis=1)


def judge_with_model(
    path: Path, info: MediaInfo, hoop: Hoop, attempts: list[Attempt], state_dir: Path, runtime: str
) -> tuple[list[Attempt], str | None]:
    """The attempts with their results from the promoted hoop model, and its version; unchanged
    (and None) when none is promoted. A dunk stays a make: the ball was carried through."""
    if not attempts:
        return attempts, None
    try:
        version = current_hoop_model(state_dir)
        if version is None:
            return attempts, None
        classifier = load_classifier(registry.version_dir(hoop_state(state_dir), version), runtime)
    except ModelError as exc:  # a broken hoop registry costs the model's judgement, never the video
        log.warning("%s: the hoop model cannot be used (%s); results from the rules", path.name, exc)
        return attempts, None
    scores = through_scores(path, info, hoop, attempts, classifier)
    judged = [
        a if a.kind is Kind.DUNK else replace(a, result=Result.MAKE if s >= THROUGH else Result.MISS)
        for a, s in zip(attempts, scores)
    ]
    log.info("%s: results from hoop model %s (%s)", path.name, version, classifier.runtime)
    return judged, version
