"""Trust per court: a promoted model scores only the courts (remembered scenes) whose videos it was
judged on; elsewhere the version it replaced scores, as far back as motion.

Only the registry's metadata is read here: no Keras, no frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from dunkwatch.models import registry


@dataclass(frozen=True)
class ScorerPick:
    """What scores a video: a promoted model's version (None: motion), and the court that decided it."""

    version: str | None
    court: str | None = None  # the remembered scene the video's first frame shows, when it mattered


def trusted_version(state_dir: Path, current: str | None, court: Callable[[], str | None]) -> ScorerPick:
    """Trust per court: the newest version in the current one's lineage that was judged on this
    video's court; motion when none was. `court` is asked only when a version's trust is limited."""
    where: list[str | None] = []
    for version in registry.lineage(state_dir, current):
        courts = registry.judged_courts(state_dir, version)
        if courts is registry.EVERY_COURT:
            return ScorerPick(version, where[0] if where else None)
        if not where:
            where.append(court())
        if where[0] in courts:
            return ScorerPick(version, where[0])
    return ScorerPick(None, where[0] if where else None)


@dataclass(frozen=True)
class CourtScorer:
    """Which scorer `auto` uses on a court now, for `status` and the page."""

    court: str | None  # a scene key; None: videos that match no remembered court
    version: str | None  # None: motion

    def line(self) -> str:
        return f"{self.court or 'no remembered court'}: {f'model {self.version}' if self.version else 'motion'}"


def courts_in_use(state_dir: Path, current: str | None, courts: Sequence[str]) -> list[CourtScorer]:
    """The scorer of each remembered court, and of videos of none, under the current version."""
    return [CourtScorer(key, trusted_version(state_dir, current, _known_court(key)).version) for key in [*courts, None]]


def _known_court(key: str | None) -> Callable[[], str | None]:
    """The `court` question of trusted_version, already answered."""
    return lambda: key
