"""Scene memory: the empty courts seen in earlier videos, kept per camera framing and light.

A tripod film of a known court can be judged against that court as it was seen empty before,
not only against its own frames. That rescues a short clip that a player fills most of the
time. One file per scene under state_dir/scenes/, holding empty-court images at the motion
model's analysis size, newest last. The motion model decides which images are empty courts and
which scene a video matches (pipeline/scoring/empty_scene.py, pipeline/scoring/courts.py); this module only groups,
caps and stores them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from dunkwatch.fsutil import atomic_target, atomic_write_text
from dunkwatch.hoop import Hoop, HoopError, HoopSource
from dunkwatch.pipeline.scoring.courts import COURT_SHARE, LearnedEmpty, RememberedScene
from dunkwatch.pipeline.scoring.thumbnails import alike_share
from dunkwatch.zones import Zones, as_zones

log = logging.getLogger(__name__)

MAX_IMAGES = 8  # per scene: enough to span a day's light, few enough to compare against cheaply
MAX_SCENES = 32  # courts or framings; the least recently seen goes first
HOOP_LOOKS = "hoop-looks.npz"  # first frames of courts with a found hoop and no empty image, with their hoops


def scenes_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "scenes"


class SceneMemory:
    def __init__(
        self, root: Path, same_scene: float, max_images: int = MAX_IMAGES, max_scenes: int = MAX_SCENES
    ) -> None:
        self.root = Path(root)
        self.same_scene = same_scene  # thumbnails differing in less than this share are one scene
        self.max_images, self.max_scenes = max_images, max_scenes
        self._cache: dict[str, tuple[float, RememberedScene]] = {}

    def _files(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(self.root.glob("scene-*.npz"))

    def keys(self) -> list[str]:
        """The remembered scenes' keys, without reading their images."""
        return [path.stem for path in self._files()]

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
            by_key[key] = (images + [item.image])[-self.max_images :]  # the fresher copy of a look replaces the older
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
        """The hoop of the remembered court this frame shows most alike, a scene or a remembered look
        (a first frame, player and all): (scene or None, hoop or None). A frame is of the same court
        when the tone curve explains all of it but what a player covers (courts.COURT_SHARE); a moved
        tripod or another court differs almost everywhere."""
        share, key = self._closest(image, [s for s in self.scenes() if self.hoop(s.key)])
        best: tuple[float, str | None, Hoop | None] = (share, key, self.hoop(key) if key else None)
        images, hoops = self._hoop_looks()
        for old, hoop in zip(images, hoops):
            share = alike_share(old, image) if old.shape == image.shape else 1.0
            if share < best[0] and best[1] is None or share < best[0] - 0.05:  # a scene's own hoop first
                best = (share, None, hoop)
        return (best[1], best[2]) if best[2] is not None and best[0] < COURT_SHARE else (None, None)

    def court_of(self, image: np.ndarray) -> str | None:
        """The remembered court this frame (player and all) shows, the most alike one; None when
        none is: another court, a moved tripod, or a court never seen empty."""
        return self._closest(image, self.scenes())[1]

    @staticmethod
    def _closest(image: np.ndarray, scenes: Sequence[RememberedScene]) -> tuple[float, str | None]:
        """(share, key) of the scene with an image most alike to `image`, if under COURT_SHARE: the
        tone curve explains all of a frame of the same court but what a player covers."""
        best: tuple[float, str | None] = (COURT_SHARE, None)
        for scene in scenes:
            here = _at_size(image, scene.images.shape[1:3])
            if here is None:
                continue
            for old in scene.images:
                best = min(best, (alike_share(old, here), scene.key), key=lambda b: b[0])
        return best

    # A court filmed with a player always in view leaves no empty image, so no scene: the hoop
    # found there is kept with the video's first frame instead, and a frame alike to it finds it.
    def _hoop_looks(self) -> tuple[list[np.ndarray], list[Hoop]]:
        path = self.root / HOOP_LOOKS
        try:
            with np.load(path) as data:
                images = list(np.asarray(data["images"], np.uint8))
                boxes = np.asarray(data["boxes"], np.float64)
            return images, [Hoop(x, y, w, h, HoopSource.FOUND) for x, y, w, h in boxes]
        except FileNotFoundError:
            return [], []
        except (OSError, ValueError, KeyError, HoopError) as exc:
            log.warning("%s: unreadable (%s); hoops found before are looked for again", path, exc)
            return [], []

    def remember_hoop_look(self, image: np.ndarray, hoop: Hoop) -> None:
        """Keep a found hoop with the frame it was found on; the same look's older entry goes."""
        images, hoops = self._hoop_looks()
        kept = [
            (old, h)
            for old, h in zip(images, hoops)
            if not (old.shape == image.shape and alike_share(old, image) < COURT_SHARE)
        ]
        kept = (kept + [(image, hoop)])[-MAX_SCENES:]
        with atomic_target(self.root / HOOP_LOOKS) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(
                    fh, images=np.stack([k[0] for k in kept]), boxes=np.array([[h.x, h.y, h.w, h.h] for _, h in kept])
                )


def _at_size(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray | None:
    """The frame at a scene's image size (decoded at another size, the same framing); None for
    another aspect ratio, which is another framing."""
    h, w = image.shape[:2]
    if (h, w) == tuple(shape):
        return image
    if abs(h / w - shape[0] / shape[1]) > 0.02 * shape[0] / shape[1]:
        return None
    return cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
