"""Model registry under state_dir/models: vNNNN/ folders and an atomically switched `current`.

No Keras import here, so the pipeline can ask "is a model promoted?" without loading TensorFlow.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Collection

from dunkwatch.errors import ModelError
from dunkwatch.fsutil import atomic_write_text

MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.json"
_VERSION = re.compile(r"^v(\d{4,})$")


def models_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "models"


def versions(state_dir: Path) -> list[str]:
    root = models_dir(state_dir)
    if not root.is_dir():
        return []
    found = [p.name for p in root.iterdir() if p.is_dir() and _VERSION.match(p.name)]
    return sorted(found, key=lambda v: int(v[1:]))


def current_version(state_dir: Path) -> str | None:
    pointer = models_dir(state_dir) / "current"
    try:
        version = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not _VERSION.match(version) or not (models_dir(state_dir) / version / MODEL_FILE).is_file():
        raise ModelError(f"{pointer}: points at {version!r}, which is not a model in the registry")
    return version


@dataclass(frozen=True)
class ModelInUse:
    """Which promoted model a scorer choice ("auto", "cnn", "motion") means now: the one answer
    for the service, which restarts its video child when it changes, and for each video's scorer."""

    choice: str
    version: str | None = None  # None: motion, or no model promoted yet
    error: ModelError | None = None  # the registry's current pointer is broken

    def key(self) -> str:
        """ "motion", the version, "none" or "broken": a video child that loaded another is stale."""
        if self.choice == "motion":
            return "motion"
        return "broken" if self.error is not None else self.version or "none"


def model_in_use(state_dir: Path, choice: str) -> ModelInUse:
    if choice == "motion":
        return ModelInUse(choice)
    try:
        return ModelInUse(choice, current_version(state_dir))
    except ModelError as exc:
        return ModelInUse(choice, error=exc)


def version_dir(state_dir: Path, version: str) -> Path:
    return models_dir(state_dir) / version


def add_version(state_dir: Path, write_model: Callable[[Path], object], metrics: dict[str, Any]) -> str:
    """Store a new version; it is complete (model and metrics) before its folder gets its name."""
    root = models_dir(state_dir)
    root.mkdir(parents=True, exist_ok=True)
    existing = versions(state_dir)
    version = f"v{(int(existing[-1][1:]) + 1) if existing else 1:04d}"
    tmp = root / f".{version}.part"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        write_model(tmp / MODEL_FILE)
        (tmp / METRICS_FILE).write_text(json.dumps(metrics, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, root / version)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return version


def set_current(state_dir: Path, version: str) -> None:
    if version not in versions(state_dir):
        raise ModelError(f"model {version} is not in the registry ({models_dir(state_dir)})")
    atomic_write_text(models_dir(state_dir) / "current", version + "\n")


def prune(state_dir: Path, keep: int, also_keep: Collection[str] = ()) -> list[str]:
    """Delete all but the newest `keep` versions; the current one, and `also_keep` (versions some
    court still trusts), are never deleted."""
    current = current_version(state_dir)
    all_versions = versions(state_dir)
    doomed = [v for v in all_versions[:-keep] if v != current and v not in also_keep] if keep > 0 else []
    for version in doomed:
        # Rename first, so a crash mid-delete leaves a hidden folder, not a half model under a version name.
        target = models_dir(state_dir) / version
        trash = models_dir(state_dir) / f".{version}.deleting"
        os.replace(target, trash)
        shutil.rmtree(trash, ignore_errors=True)
    return doomed


def metrics(state_dir: Path, version: str) -> dict:
    try:
        return json.loads((models_dir(state_dir) / version / METRICS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


# A version judged before courts were recorded is trusted on every court, as it was when promoted.
EVERY_COURT = None


def judged_courts(state_dir: Path, version: str) -> frozenset[str | None] | None:
    """The courts (scene keys; None: a video no remembered court matched) whose videos the version
    was judged on; EVERY_COURT for a version promoted before courts were recorded."""
    courts = metrics(state_dir, version).get("courts")
    return EVERY_COURT if courts is None else frozenset(courts)


def lineage(state_dir: Path, version: str | None) -> list[str]:
    """The version and those it replaced, newest first, as far as the registry still holds them."""
    chain: list[str] = []
    held = set(versions(state_dir))
    while version is not None and version in held and version not in chain:
        chain.append(version)
        version = metrics(state_dir, version).get("previous")
    return chain


@dataclass(frozen=True)
class RecordedFigures:
    """A pipeline's figures on the validation videos, as a version's metadata records them."""

    f1: float | None = None
    precision: float | None = None
    recall: float | None = None
    events_found: int | None = None
    events: int | None = None
    false_segments: int | None = None
    frames: int | None = None
    videos: int | None = None

    @classmethod
    def of(cls, data: dict | None) -> "RecordedFigures":
        data = data or {}
        return cls(**{f.name: data.get(f.name) for f in fields(cls)})


@dataclass(frozen=True)
class ModelEntry:
    """One version as `dunkwatch models` and the review page list it, beside what it replaced."""

    version: str
    current: bool
    created: str | None
    metrics: RecordedFigures
    baseline: str | None  # the scoring it replaced: "motion" or "model vNNNN"
    baseline_metrics: RecordedFigures
    backbone: str | None
    input_size: int | None
    trained_on: str | None

    def as_dict(self) -> dict:
        """The flat form `dunkwatch models --json` prints."""
        flat = {
            "version": self.version,
            "current": self.current,
            "created": self.created,
            **asdict(self.metrics),
            "baseline": self.baseline,
        }
        flat.update({f"baseline_{k}": v for k, v in asdict(self.baseline_metrics).items()})
        flat.update(backbone=self.backbone, input_size=self.input_size, trained_on=self.trained_on)
        return flat


def listing(state_dir: Path) -> list[ModelEntry]:
    current = current_version(state_dir)
    entries = []
    for version in versions(state_dir):
        meta = metrics(state_dir, version)
        base = meta.get("baseline") or {}
        entries.append(
            ModelEntry(
                version,
                version == current,
                meta.get("created"),
                RecordedFigures.of(meta.get("metrics")),
                base.get("name"),
                RecordedFigures.of(base.get("metrics")),
                meta.get("backbone"),
                meta.get("input_size"),
                meta.get("trained_on"),
            )
        )
    return entries
