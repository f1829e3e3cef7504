"""The shooter as the person detector sees him at release: where he stood, for the shot map.

The ball's arcs say when a shot left the hands and roughly from where (what moved under the ball);
the person detector, on the frame at release, says where the shooter's feet were. Pure but for
place_shooters, which reads those few frames again after the video was scored.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Sequence

from dunkwatch.media import MediaInfo
from dunkwatch.pipeline.scoring.decode import frames_at
from dunkwatch.pipeline.scoring.person import Box, PersonDetector
from dunkwatch.pipeline.shots.attempts import Attempt

# A person box counts as the shooter when the ball-side guess lies within this many box heights of
# it: the ball at release is in his hands, at most about half his height above his head.
REACH = 0.5


def _gap(box: Box, point: tuple[float, float]) -> float:
    """How far a point lies outside a box, in the box's heights (0 inside)."""
    x, y = point
    dx = max(box.x0 - x, 0.0, x - box.x1)
    dy = max(box.y0 - y, 0.0, y - box.y1)
    return (dx * dx + dy * dy) ** 0.5 / max(box.y1 - box.y0, 1e-6)


def shooter_box(boxes: Sequence[Box], near: tuple[float, float]) -> Box | None:
    """The person nearest `near` (relative x, y of the ball-side guess), if within REACH of it."""
    if not boxes:
        return None
    best = min(boxes, key=lambda b: _gap(b, near))
    return best if _gap(best, near) <= REACH else None


def place_shooters(
    path: Path, info: MediaInfo, attempts: list[Attempt], tap_size: tuple[int, int], detector: PersonDetector
) -> list[Attempt]:
    """The attempts, each with its shooter at the feet of the person seen at release where there
    is one; the ball-side guess (tap pixels) stays where nobody is seen near it."""
    placed = [k for k, a in enumerate(attempts) if a.release is not None and a.shooter is not None]
    if not placed:
        return attempts
    width, height = tap_size
    out = list(attempts)
    images = frames_at(path, info, [float(attempts[k].release or 0.0) for k in placed], PersonDetector.side)
    for k, image in zip(placed, images):
        if image is None:
            continue
        x, y = attempts[k].shooter or (0.0, 0.0)
        box = shooter_box(detector.find_in(image), (x / width, y / height))
        if box is not None:
            fx, fy = box.feet
            out[k] = replace(attempts[k], shooter=(fx * width, fy * height))
    return out
