"""Corrections from the page, appended to the corrections CSV against the stamp of what the page read."""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from dunkwatch.config import PathsConfig
from dunkwatch.fsutil import atomic_write_text
from dunkwatch.learn.catalogue import csv_name
from dunkwatch.learn.corrections import add_rows, format_time
from dunkwatch.store import Video

log = logging.getLogger(__name__)

LABELS = ("dunk", "empty", "make", "miss", "shot", "no shot")


class Outcome(Enum):
    """What became of a correction; the views say it in HTTP."""

    SAVED = "saved"
    NOT_FOUND = "not found"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class CorrectionResult:
    outcome: Outcome
    message: str
    stamp: str | None = None  # the CSV's new stamp, once saved
    stale: bool = False  # the CSV changed since the page read it


def csv_stamp(path: Path) -> str:
    """What the page read: a write carrying another stamp is based on a stale read."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return "none"


def parse_ranges(raw: Any) -> list[tuple[float, float, str]]:  # raw: the page's parsed JSON
    """[[start, end, label], ...] in seconds of the original; ValueError or TypeError when malformed."""
    rows = []
    for start, end, label in raw:
        start, end = float(start), float(end)
        if label not in LABELS or not 0 <= start < end:
            raise ValueError(label)
        rows.append((start, end, label))
    return rows


class CorrectionsCsv:
    """The corrections CSV as the page writes it: one writer at a time, never over a hand edit."""

    def __init__(self, paths: PathsConfig) -> None:
        self.paths = paths
        self._lock = threading.Lock()

    def add(self, video: Video, rows: list[tuple[float, float, str]], note: str, stamp: str | None) -> CorrectionResult:
        """Rows for one processed video added to the CSV, unless it changed since `stamp`."""
        name, csv = csv_name(self.paths, video), self.paths.corrections
        with self._lock:
            if stamp != csv_stamp(csv):
                return CorrectionResult(
                    Outcome.CONFLICT,
                    f"{csv} changed since this page was loaded (edited by "
                    "hand?); nothing was written. Reload the page and try again.",
                    stale=True,
                )
            try:
                text = csv.read_text(encoding="utf-8")
            except FileNotFoundError:
                text = ""
            except UnicodeDecodeError:
                return CorrectionResult(Outcome.CONFLICT, f"{csv} is not UTF-8; save it as UTF-8 first")
            atomic_write_text(
                csv, add_rows(text, [[name, format_time(a), format_time(b), label, note[:200]] for a, b, label in rows])
            )
        log.info(
            "review page: %s: %s", name, ", ".join(f"{format_time(a)}-{format_time(b)} {label}" for a, b, label in rows)
        )
        return CorrectionResult(
            Outcome.SAVED, f"saved to {csv.name}: {len(rows)} row(s) for {name}", stamp=csv_stamp(csv)
        )
