"""Archive retention: originals archived longer ago than `archive.keep_days`, or beyond
`archive.max_gb`, are deleted oldest first. Never one that training still needs (corrections not
yet trained on, or the model in use was judged on it) or that the player pinned. Clips, sidecars
and training frames stay; the journal, the sidecar and the page say the original is gone.

`plan_retention` is pure; `ArchiveRetention` reads the journal and the registry, and deletes.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Callable, Mapping, Sequence

from dunkwatch.config import ArchiveConfig, PathsConfig
from dunkwatch.errors import ModelError
from dunkwatch.learn.catalogue import catalogue, read_corrections
from dunkwatch.learn.run_lock import no_training_run
from dunkwatch.models import registry
from dunkwatch.pipeline.cutting.export import write_sidecar
from dunkwatch.store import Store, Video

log = logging.getLogger(__name__)

DAY = 86400.0
GB = 1e9
CHECK_EVERY_S = 3600.0  # an idle service looks again this often: keep_days ages originals without new videos
# While videos are queued the service still looks, this often at most: a synced backlog of days
# kept the queue from ever emptying, and the archive grew past max_gb (the simulated month).
BUSY_EVERY_S = 60.0
TRAINING_RECHECK_S = 10.0  # while a training run reads the archive, the next look comes this soon (a flock)


class Kept(Enum):
    """Why an original stays past the archive's limits."""

    PINNED = "pinned on the page"
    UNTRAINED = "its corrections are not in the model in use yet"
    JUDGED = "the model in use was judged on it"


@dataclass(frozen=True)
class ArchivedOriginal:
    video_id: int
    name: str
    path: Path
    size: int  # bytes
    archived: float  # when it was processed and archived (epoch seconds)
    sha256: str | None = None  # its content, as the corrections and the model's record know it
    pinned: bool = False


@dataclass(frozen=True)
class Deletion:
    original: ArchivedOriginal
    reason: str  # which limit, in words, for the log


@dataclass(frozen=True)
class RetentionPlan:
    deletions: list[Deletion]
    size: int  # bytes of originals in the archive once the deletions are done
    originals: int  # ... and how many
    next_deletion: tuple[ArchivedOriginal, float] | None  # the next by age, and when (keep_days)


def plan_retention(
    originals: Sequence[ArchivedOriginal], kept: Mapping[int, Kept], cfg: ArchiveConfig, now: float
) -> RetentionPlan:
    """What to delete now: past keep_days, then the oldest until the rest fits in max_gb; never a kept one."""
    oldest_first = sorted(originals, key=lambda o: (o.archived, o.video_id))
    free = [o for o in oldest_first if o.video_id not in kept]
    deletions = []
    if cfg.keep_days > 0:
        deletions = [
            Deletion(o, f"archived more than archive.keep_days = {cfg.keep_days} days ago")
            for o in free
            if now - o.archived > cfg.keep_days * DAY
        ]
    doomed = {d.original.video_id for d in deletions}
    size = sum(o.size for o in oldest_first if o.video_id not in doomed)
    if cfg.max_gb > 0:
        for o in free:
            if size <= cfg.max_gb * GB:
                break
            if o.video_id not in doomed:
                deletions.append(Deletion(o, f"the archive holds more than archive.max_gb = {cfg.max_gb:g} GB"))
                doomed.add(o.video_id)
                size -= o.size
    left = [o for o in free if o.video_id not in doomed]
    upcoming = (left[0], left[0].archived + cfg.keep_days * DAY) if left and cfg.keep_days > 0 else None
    return RetentionPlan(deletions, size, len(originals) - len(doomed), upcoming)


class ArchiveRetention:
    """Applies the plan to the archive: the journal's originals, what training still needs, the pins."""

    def __init__(
        self, archive: ArchiveConfig, paths: PathsConfig, store: Store, clock: Callable[[], float] = time.time
    ) -> None:
        self.cfg, self.paths, self.store, self.clock = archive, paths, store, clock
        self._next_check = 0.0
        self._last_look = -math.inf  # monotonic time of the last run()
        self._waiting_for_training = False  # said once per training run, not at every look

    @property
    def enabled(self) -> bool:
        return self.cfg.keep_days > 0 or self.cfg.max_gb > 0

    def due(self, busy: bool = False) -> bool:
        """Time to look: at once when idle; with videos queued (`busy`), no sooner than BUSY_EVERY_S
        after the last look, so a long backlog is not slowed by a plan after every video."""
        now = time.monotonic()
        return self.enabled and now >= self._next_check and (not busy or now >= self._last_look + BUSY_EVERY_S)

    def soon(self) -> None:
        """Look at the next idle moment (a new original arrived)."""
        self._next_check = 0.0

    def plan(self) -> RetentionPlan:
        originals = []
        for v in self.store.archived():  # a page of rows at a time: the archive can hold years
            if v.location is None:
                continue
            try:
                size = v.location.stat().st_size
            except OSError:
                continue  # not in the archive (moved by hand): nothing to delete
            originals.append(
                ArchivedOriginal(v.id, v.name, v.location, size, v.finished or v.updated, v.sha256, v.pinned)
            )
        kept = self.kept(originals) if self.enabled else {}
        return plan_retention(originals, kept, self.cfg, self.clock())

    def kept(self, originals: Sequence[ArchivedOriginal]) -> dict[int, Kept]:
        """Originals that must stay, and why."""
        kept = {o.video_id: Kept.PINNED for o in originals if o.pinned}
        known = catalogue(self.paths, self.store, zones=False)  # names only: no sidecar is read
        rows, _ = read_corrections(self.paths.corrections, [a.known for a in known])
        corrected = {r.sha256 for r in rows}
        trained, judged = self._in_current_model()
        name_of = {a.known.sha256: a.known.name for a in known}
        for o in originals:
            if o.video_id in kept or not o.sha256:
                continue
            if name_of.get(o.sha256) in judged:
                kept[o.video_id] = Kept.JUDGED
            elif o.sha256 in corrected and name_of.get(o.sha256) not in trained:
                kept[o.video_id] = Kept.UNTRAINED
        return kept

    def _in_current_model(self) -> tuple[set[str], set[str]]:
        """(videos the current model learnt from or was judged on, those it was judged on), by name."""
        try:
            current = registry.current_version(self.paths.state_dir)
        except ModelError:
            current = None
        meta = registry.metrics(self.paths.state_dir, current) if current else {}
        judged = set(meta.get("validation_videos") or ())
        return set(meta.get("train_videos") or ()) | judged, judged

    def run(self) -> list[Deletion]:
        """Delete what the plan says, each deletion logged and recorded; the next check in an hour.
        Nothing while a training run holds its lock: it may read any original (soon after, again)."""
        self._last_look = time.monotonic()
        with no_training_run(self.paths.state_dir) as free:
            if not free:
                if not self._waiting_for_training:
                    log.info("archive: a training run is reading the originals; retention waits for it to end")
                self._waiting_for_training = True
                self._next_check = time.monotonic() + TRAINING_RECHECK_S
                return []
            self._waiting_for_training = False
            return self._delete(self.plan())

    def _delete(self, plan: RetentionPlan) -> list[Deletion]:
        self._next_check = time.monotonic() + CHECK_EVERY_S
        done = []
        for deletion in plan.deletions:
            o = deletion.original
            try:
                o.path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("archive: cannot delete %s: %s", o.path, exc)
                continue
            now = self.clock()
            self.store.original_deleted(o.video_id, now)
            self._mark_sidecar(self.store.get(o.video_id), now)
            log.info(
                "archive: deleted %s (%.1f MB): %s; its clips and sidecar stay", o.path, o.size / 1e6, deletion.reason
            )
            done.append(deletion)
        return done

    @staticmethod
    def _mark_sidecar(video: Video | None, when: float) -> None:
        """The sidecar says the original is gone (a duplicate's sidecar is its original's)."""
        if video is None or video.duplicate_of is not None or video.outputs is None or video.outputs.folder is None:
            return
        sidecar = video.sidecar()
        if sidecar is not None:
            stamp = dt.datetime.fromtimestamp(when).astimezone().isoformat(timespec="seconds")
            write_sidecar(video.outputs.folder / f"{video.path.stem}.json", replace(sidecar, original_deleted=stamp))
