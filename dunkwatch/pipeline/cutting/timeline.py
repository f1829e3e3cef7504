"""<stem>.png: the score over time with the segments shaded, so a user sees why a clip was cut."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from PIL import Image, ImageDraw

from dunkwatch.fsutil import atomic_target
from dunkwatch.pipeline.scoring.segment import Segment

_W, _H = 1200, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 40, 10, 20, 30
_PAD_FILL = (255, 236, 200)  # pre/post roll
_ACTION_FILL = (255, 190, 110)  # detected action
_LINE = (30, 60, 160)
_THRESHOLD = (200, 30, 30)


def _tick_step(duration: float) -> float:
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if duration / step <= 12:
            return float(step)
    return 7200.0


def _label(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def draw_timeline(
    times: Iterable[float],
    scores: Iterable[float],
    segments: Sequence[Segment],
    duration: float,
    threshold: float,
    title: str,
) -> Image.Image:
    img = Image.new("RGB", (_W, _H), "white")
    d = ImageDraw.Draw(img)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    span = max(duration, 1e-6)

    def x(t: float) -> float:
        return _LEFT + plot_w * min(max(t / span, 0.0), 1.0)

    def y(p: float) -> float:
        return _TOP + plot_h * (1.0 - min(max(p, 0.0), 1.0))

    for seg in segments:
        d.rectangle([x(seg.clip_start), _TOP, x(seg.clip_end), _TOP + plot_h], fill=_PAD_FILL)
        d.rectangle([x(seg.start), _TOP, x(seg.end), _TOP + plot_h], fill=_ACTION_FILL)
    d.rectangle([_LEFT, _TOP, _LEFT + plot_w, _TOP + plot_h], outline=(120, 120, 120))
    d.line([(_LEFT, y(threshold)), (_LEFT + plot_w, y(threshold))], fill=_THRESHOLD, width=1)
    points = [(x(t), y(p)) for t, p in zip(times, scores)]
    if len(points) > 1:
        d.line(points, fill=_LINE, width=1)
    step = _tick_step(span)
    t = 0.0
    while t <= span + 1e-9:
        d.line([(x(t), _TOP + plot_h), (x(t), _TOP + plot_h + 4)], fill=(80, 80, 80))
        d.text((x(t) - 12, _TOP + plot_h + 8), _label(t), fill=(40, 40, 40))
        t += step
    for p in (0.0, 0.5, 1.0):
        d.text((4, y(p) - 6), f"{p:.1f}", fill=(40, 40, 40))
    d.text((_LEFT, 3), f"{title}  score (blue), threshold (red), clips (shaded)", fill=(0, 0, 0))
    return img


def write_timeline(path: Path, image: Image.Image) -> Path:
    """A drawn timeline (draw_timeline) as a PNG, written whole or not at all."""
    with atomic_target(path) as tmp:
        image.save(tmp, format="PNG")
    return path
