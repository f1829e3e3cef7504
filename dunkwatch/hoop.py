"""PURE: the hoop, a box in relative coordinates of the upright frame (0..1 each way).

The box holds the rim and its net: its top edge is the rim, its width the rim's. It comes from the
player (`process --hoop`, the page), or from the ball's own arcs on a court's first video
(pipeline/shots/hoop_search.py), and is remembered with the court as ignore zones are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum


class HoopError(ValueError):
    pass


class HoopSource(str, Enum):
    USER = "user"  # drawn on the page or given on the command line: never replaced by a guess
    FOUND = "found"  # found from the ball's arcs

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Hoop:
    x: float  # left edge, share of the frame's width
    y: float  # top edge (the rim), share of the frame's height
    w: float
    h: float
    source: HoopSource = HoopSource.USER

    def __post_init__(self) -> None:
        if not (0.0 <= self.x < 1.0 and 0.0 <= self.y < 1.0 and 0.0 < self.w <= 1.0 and 0.0 < self.h <= 1.0):
            raise HoopError(
                f"{self.x},{self.y},{self.w},{self.h}: x,y,w,h are shares of the frame (0..1), "
                "with a width and height above 0"
            )
        if self.x + self.w > 1.0 + 1e-6 or self.y + self.h > 1.0 + 1e-6:
            raise HoopError(f"{self.x},{self.y},{self.w},{self.h}: the box reaches past the frame")

    def pixels(self, width: int, height: int) -> tuple[float, float, float, float]:
        """(x, y, w, h) in pixels of a width x height frame."""
        return self.x * width, self.y * height, self.w * width, self.h * height

    def as_list(self) -> list[float]:
        return [round(self.x, 4), round(self.y, 4), round(self.w, 4), round(self.h, 4)]

    def to_json(self) -> str:
        return json.dumps({"box": self.as_list(), "source": self.source.value}) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "Hoop":
        """Raises HoopError when the text is no hoop."""
        try:
            data = json.loads(text)
            x, y, w, h = (float(v) for v in data["box"])
            return cls(x, y, w, h, HoopSource(data.get("source", "user")))
        except (ValueError, KeyError, TypeError) as exc:
            raise HoopError(f"not a hoop: {exc}") from None

    @classmethod
    def of_pixels(
        cls, x: float, y: float, w: float, h: float, width: int, height: int, source: HoopSource = HoopSource.FOUND
    ) -> "Hoop":
        """A pixel box, clamped to the frame."""
        x0, y0 = max(0.0, x / width), max(0.0, y / height)
        x1, y1 = min(1.0, (x + w) / width), min(1.0, (y + h) / height)
        return cls(x0, y0, x1 - x0, y1 - y0, source)


def parse_hoop(text: str) -> Hoop:
    """ "x,y,w,h" (shares of the frame) -> a hoop the player gave."""
    try:
        x, y, w, h = (float(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        raise HoopError(f"{text!r} is not x,y,w,h (e.g. 0.62,0.32,0.05,0.07: shares of the frame)") from None
    return Hoop(x, y, w, h, HoopSource.USER)
