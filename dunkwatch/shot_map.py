"""The shot map: where each attempt of a practice was taken from, over the court as the camera sees it.

Drawn in image space (no court geometry is assumed): each shot sits where the shooter stood at
release (relative x, y of the frame), makes as filled green discs, misses as red crosses, shots
without a result as grey rings, over the court's remembered empty image (or a plain grey field).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from dunkwatch.fsutil import atomic_target

WIDTH = 960  # pixels across: a phone's screen and a printed page both show it whole
MAKE, MISS, OTHER = (40, 170, 60), (220, 50, 40), (150, 150, 150)  # RGB


def draw_shot_map(
    shots: Sequence[tuple[float, float, str]], court: np.ndarray | None, aspect: float = 16 / 9
) -> np.ndarray:
    """RGB image. `shots`: (x, y, result) with x, y relative to the frame; `court`: RGB uint8 or None."""
    height = round(WIDTH / aspect) if court is None else round(WIDTH * court.shape[0] / court.shape[1])
    if court is None:
        image = np.full((height, WIDTH, 3), 200, np.uint8)
    else:  # faded, so the marks stand out
        image = cv2.resize(court, (WIDTH, height), interpolation=cv2.INTER_CUBIC)
        image = (0.55 * image + 0.45 * 255).astype(np.uint8)
    r = max(6, WIDTH // 80)
    for x, y, result in shots:
        cx, cy = int(round(x * (WIDTH - 1))), int(round(y * (height - 1)))
        if result == "make":
            cv2.circle(image, (cx, cy), r, MAKE, -1, cv2.LINE_AA)
            cv2.circle(image, (cx, cy), r, (255, 255, 255), 2, cv2.LINE_AA)
        elif result == "miss":
            cv2.line(image, (cx - r, cy - r), (cx + r, cy + r), MISS, 3, cv2.LINE_AA)
            cv2.line(image, (cx - r, cy + r), (cx + r, cy - r), MISS, 3, cv2.LINE_AA)
        else:
            cv2.circle(image, (cx, cy), r, OTHER, 2, cv2.LINE_AA)
    makes = sum(1 for s in shots if s[2] == "make")
    misses = sum(1 for s in shots if s[2] == "miss")
    legend = f"{len(shots)} shot(s): {makes} made (green), {misses} missed (red)"
    cv2.putText(image, legend, (12, height - 14), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 4, cv2.LINE_AA)
    cv2.putText(image, legend, (12, height - 14), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (30, 30, 30), 2, cv2.LINE_AA)
    return image


def write_shot_map(
    path: Path, shots: Sequence[tuple[float, float, str]], court: np.ndarray | None, aspect: float = 16 / 9
) -> Path:
    """The map as a PNG, written atomically."""
    image = draw_shot_map(shots, court, aspect)
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"{path}: could not encode the shot map")
    with atomic_target(Path(path)) as tmp:
        Path(tmp).write_bytes(data.tobytes())
    return Path(path)
