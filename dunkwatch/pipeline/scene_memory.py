"""Scene memory: the empty courts seen in earlier videos, kept per camera framing and light.

A tripod film of a known court can be judged against that court as it was seen empty before,
not only against its own frames. That rescues a short clip that a player fills most of the
time. One file per scene under state_dir/scenes/, holding empty-court images at the motion
model's analysis size, newest last. The motion model decides which images are empty courts and
which scene a video matches (pipeline/empty_scene.py, pipeline/courts.py); this module only groups,
caps and stores them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from dunkwatch.fsutil import atomic_target, atomic_write_text
from dunkwatch.hoop import Hoop, HoopError, HoopSource
from dunkwatch.pipeline.courts import LearnedEmpty, RememberedScene
from dunkwatch.pipeline.thumbnails import alike_share
from dunkwatch.zones import Zones, as_zones

log = logging.getLogger(__name__)

MAX_IMAGES = 8  # per scene: enough to span a day's light, few enough to compare against cheaply
MAX_SCENES = 32  # courts or framings; the least recently seen goes first


class SceneMemory:
    def __init__(self, root: Path, same_scene: float, max_images: int = MAX_IMAGES, max_scenes: int = MAX_SCENES):
        self.root = Path(root)
        self.same_scene = same_scene  # thumbnails differing in less than this share are one scene
        self.max_images, self.max_scenes = max_images, max_scenes
        self._cache: dict[str, tuple[float, RememberedScene]] = {}

    def _files(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(self.root.glob("scene-*.npz"))

    def scenes(self) -> list[RememberedScene]:
        """Every remembered scene; a file another process rewrote is read again."""
        found = []
        for path in self._files():
            key = path.stem
            try:
                mtime = path.stat().st_mtime
                cached = self._cache.get(key)
                if cached is None or cached[0] != mtime:
                    with np.load(path) as data:
                        images = np.asarray(data["images"], dtype=np.uint8)
                    if images.ndim != 4 or images.shape[-1] != 3:
                        raise ValueError(f"images of shape {images.shape}")
                    cached = (mtime, RememberedScene(key, images))
                    self._cache[key] = cached
                found.append(cached[1])
            except (OSError, ValueError, KeyError) as exc:  # a damaged file costs that scene, nothing more
                log.warning("%s: scene memory file unreadable (%s); ignored", path, exc)
        return found

    def remember(self, learned: Sequence[LearnedEmpty]) -> list[str]:
        """Add a video's confirmed empty courts; returns the keys of the scenes they went to."""
        if not learned:
            return []
        by_key = {s.key: list(s.images) for s in self.scenes()}
        touched: list[str] = []
        for item in learned:
            key = item.scene if item.scene in by_key else self._group_of(item.image, by_key, touched + list(by_key))
            if key is None:
                key = "scene-" + hashlib.sha256(item.image.tobytes()).hexdigest()[:12]
                by_key[key] = []
                log.info("scene memory: new scene %s", key)
            images = [old for old in by_key[key] if alike_share(old, item.image) >= self.same_scene]
            by_key[key] = (images + [item.image])[-self.max_images:]  # the fresher copy of a look replaces the older
            if key not in touched:
                touched.append(key)
        for key in touched:
            with atomic_target(self.root / f"{key}.npz") as tmp:
                with open(tmp, "wb") as fh:
                    np.savez_compressed(fh, images=np.stack(by_key[key]))
        self._prune()
        return touched

    def court_image(self, key: str) -> np.ndarray | None:
        """The freshest empty image of a remembered scene, or None when it is forgotten or unreadable."""
        found = [scene for scene in self.scenes() if scene.key == key]
        return found[0].images[-1] if found and len(found[0].images) else None

    def _group_of(self, image: np.ndarray, by_key: dict[str, list[np.ndarray]], candidates: list[str]) -> str | None:
        """The first scene in `candidates` with an image alike to this one (a later window of the same video)."""
        for key in candidates:
            if any(alike_share(old, image) < self.same_scene for old in by_key[key]):
                return key
        return None

    def _prune(self) -> None:
        files = self._files()
        if len(files) <= self.max_scenes:
            return
        files.sort(key=lambda p: p.stat().st_mtime)
        for path in files[: len(files) - self.max_scenes]:
            if self.zones(path.stem) or self._user_hoop(path.stem):
                continue  # the user drew on it: kept
            path.unlink(missing_ok=True)
            self._cache.pop(path.stem, None)

    # --- ignore zones, drawn by the user on a scene -------------------------------------------

    def _zones_file(self, key: str) -> Path:
        return self.root / f"{key}.zones.json"

    def zones(self, key: str) -> Zones:
        try:
            return as_zones(json.loads(self._zones_file(key).read_text(encoding="utf-8"))["zones"])
        except FileNotFoundError:
            return ()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s: ignore zones unreadable (%s); none used", self._zones_file(key), exc)
            return ()

    def set_zones(self, key: str, zones: Zones) -> None:
        if not (self.root / f"{key}.npz").is_file():
            raise KeyError(key)
        atomic_write_text(self._zones_file(key), json.dumps({"zones": [list(map(list, z)) for z in zones]}) + "\n")
        log.info("scene %s: %d ignore zone(s)", key, len(zones))

    def zones_for(self, image: np.ndarray) -> tuple[str | None, Zones]:
        """The zones of the remembered scene this frame shows, if any: (scene, zones)."""
        for scene in self.scenes():
            zones = self.zones(scene.key)
            if zones and any(alike_share(old, image) < self.same_scene for old in scene.images):
                return scene.key, zones
        return None, ()

    # --- the hoop, found on a court's first video or drawn by the user --------------------------

    def _hoop_file(self, key: str) -> Path:
        return self.root / f"{key}.hoop.json"

    def hoop(self, key: str) -> Hoop | None:
        try:
            return Hoop.from_json(self._hoop_file(key).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, HoopError) as exc:
            log.warning("%s: hoop unreadable (%s); none used", self._hoop_file(key), exc)
            return None

    def _user_hoop(self, key: str) -> bool:
        hoop = self.hoop(key)
        return hoop is not None and hoop.source is HoopSource.USER

    def set_hoop(self, key: str, hoop: Hoop) -> None:
        """Remember a hoop with a scene; a found one never replaces one the user drew."""
        if not (self.root / f"{key}.npz").is_file():
            raise KeyError(key)
        if hoop.source is HoopSource.FOUND and self._user_hoop(key):
            return
        atomic_write_text(self._hoop_file(key), hoop.to_json())
        log.info("scene %s: hoop at %s (%s)", key, hoop.as_list(), hoop.source)

    def hoop_for(self, image: np.ndarray) -> tuple[str | None, Hoop | None]:
        """The hoop of the remembered scene this frame shows, if it has one: (scene, hoop)."""
        for scene in self.scenes():
            hoop = self.hoop(scene.key)
            if hoop and any(alike_share(old, image) < self.same_scene for old in scene.images):
                return scene.key, hoop
        return None, None
