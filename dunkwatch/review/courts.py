"""The remembered courts on the page: their images, the ignore zones and the hoop drawn on them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Sequence

from dunkwatch.hoop import Hoop, HoopError, HoopSource
from dunkwatch.models.court_trust import CourtScorer
from dunkwatch.pipeline.scoring.scene_memory import SceneMemory
from dunkwatch.zones import Zones, as_zones

SCENE_KEY = re.compile(r"^scene-[0-9a-f]{12}$")


@dataclass(frozen=True)
class CourtCard:
    """A remembered empty court, to draw ignore zones and the hoop on."""

    key: str
    zones: str  # JSON: [[[x, y], ...], ...] relative to the image
    hoop: str = "null"  # JSON: [x, y, w, h] relative to the image, or null
    hoop_source: str = ""  # "user" or "found"
    scorer: str = "motion"  # what `auto` scores this court's videos with (trust per court)


class CourtEditor:
    def __init__(self, memory: SceneMemory) -> None:
        self._memory = memory

    def memory(self) -> SceneMemory:
        return self._memory

    def cards(self, scorers: Sequence[CourtScorer] = ()) -> list[CourtCard]:
        """The remembered courts, each with the scorer `scorers` (status's courts) says it uses."""
        by_court = {c.court: c.version for c in scorers}
        memory = self.memory()
        cards = []
        for s in memory.scenes():
            if len(s.images):
                hoop = memory.hoop(s.key)
                cards.append(
                    CourtCard(
                        s.key,
                        json.dumps([list(map(list, z)) for z in memory.zones(s.key)]),
                        json.dumps(hoop.as_list() if hoop else None),
                        str(hoop.source) if hoop else "",
                        f"model {by_court[s.key]}" if by_court.get(s.key) else "motion",
                    )
                )
        return cards

    def court_image(self, key: str) -> bytes | None:
        """The scene's newest empty-court image, as PNG."""
        import cv2

        if not SCENE_KEY.match(key):
            return None
        scene = next((s for s in self.memory().scenes() if s.key == key), None)
        if scene is None or not len(scene.images):
            return None
        ok, png = cv2.imencode(".png", cv2.cvtColor(scene.images[-1], cv2.COLOR_RGB2BGR))
        return png.tobytes() if ok else None

    def set_zones(self, key: str, raw: Any) -> Zones | None:  # raw: the page's parsed JSON
        """Zones for a scene, from the page's JSON; None when there is no such scene. ZoneError when malformed."""
        if not SCENE_KEY.match(key):
            return None
        zones = as_zones(raw)
        try:
            self.memory().set_zones(key, zones)
        except KeyError:
            return None
        return zones

    def set_hoop(self, key: str, raw: Any) -> Hoop | None:  # raw: the page's parsed JSON
        """The player's hoop for a scene, from the page's [x, y, w, h]; None when there is no such scene.
        HoopError when malformed."""
        if not SCENE_KEY.match(key):
            return None
        try:
            x, y, w, h = (float(v) for v in raw)
        except (TypeError, ValueError):
            raise HoopError(f"{raw!r} is not [x, y, w, h]") from None
        hoop = Hoop(x, y, w, h, HoopSource.USER)
        try:
            self.memory().set_hoop(key, hoop)
        except KeyError:
            return None
        return hoop
