"""PURE: the corrections CSV and the training labels it implies. No file I/O, no video, no Keras.

`parse_corrections(text, catalogue)` turns the CSV into valid rows plus one error per bad row,
each naming the row's line number; a bad row never stops anything. `frame_labels` then decides
the label of each training frame: a correction where one covers the frame, else the scorer's
prediction when it was confident, else nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass
from enum import Enum
from pathlib import PurePosixPath, PureWindowsPath
from typing import Iterable, Mapping, Sequence, TextIO

import numpy as np

REQUIRED = ("video", "start", "end", "label")
COLUMNS = REQUIRED + ("note",)

# What people type for "someone is in view" and "empty court"; compared case-insensitively.
LABEL_ALIASES = {
    "dunk": "dunk",
    "player": "dunk",
    "person": "dunk",
    "action": "dunk",
    "yes": "dunk",
    "y": "dunk",
    "1": "dunk",
    "true": "dunk",
    "positive": "dunk",
    "in": "dunk",
    "empty": "empty",
    "none": "empty",
    "nobody": "empty",
    "court": "empty",
    "no": "empty",
    "n": "empty",
    "0": "empty",
    "false": "empty",
    "negative": "empty",
    "out": "empty",
}


class ShotLabel(str, Enum):
    """What a row says about a shot attempt in its span (the page's make / miss / not a shot buttons)."""

    MAKE = "make"
    MISS = "miss"
    SHOT = "shot"  # an attempt the finder missed, its result not given
    NO_SHOT = "no shot"  # what the finder took for an attempt was none

    def __str__(self) -> str:
        return self.value


SHOT_ALIASES = {
    "make": ShotLabel.MAKE,
    "made": ShotLabel.MAKE,
    "score": ShotLabel.MAKE,
    "miss": ShotLabel.MISS,
    "missed": ShotLabel.MISS,
    "shot": ShotLabel.SHOT,
    "attempt": ShotLabel.SHOT,
    "no shot": ShotLabel.NO_SHOT,
    "noshot": ShotLabel.NO_SHOT,
    "no_shot": ShotLabel.NO_SHOT,
    "not a shot": ShotLabel.NO_SHOT,
}

_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")
_SHA_PREFIX = re.compile(r"^[0-9a-fA-F]{8,64}$")


@dataclass(frozen=True)
class KnownVideo:
    """A processed video the corrections may name: by its name as dropped, or its sha256."""

    name: str  # path relative to the inbox as it was dropped, e.g. "IMG_0001.MOV" or "phone/IMG_0001.MOV"
    sha256: str
    duration: float
    listed: tuple[str, ...] = ()  # unique names from its outbox folder, e.g. "IMG_0001 (1).MOV"


@dataclass(frozen=True)
class Correction:
    row: int  # line number in the file, the header being line 1
    sha256: str
    video: str  # as written in the file
    start: float
    end: float
    positive: bool | None  # a player in view or not; None: the row speaks of a shot only ("no shot")
    note: str = ""
    shot: ShotLabel | None = None  # make, miss, shot or no shot; None: a presence row (dunk / empty)


@dataclass(frozen=True)
class RowError:
    row: int
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.message}" if self.row else self.message  # row 0: the whole file


def decode_csv(data: bytes) -> tuple[str, RowError | None]:
    """The file's text: UTF-8 (with or without Excel's BOM), or else Windows-1252, which Excel on
    Windows writes, with an error that says so instead of silently mangled names."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        note = RowError(
            0,
            f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); read as "
            "Windows-1252: save it as UTF-8 to be sure names match",
        )
        return data.decode("cp1252", errors="replace"), note


def parse_time(text: str) -> float:
    """Seconds ("75.5") or a clock ("1:15.5", "00:01:15.500"); ValueError otherwise."""
    text = text.strip()
    if not text:
        raise ValueError("empty")
    m = _CLOCK.match(text)
    if m:
        hours, minutes, seconds = m.groups()
        if int(minutes) >= 60 and hours is not None or float(seconds) >= 60:
            raise ValueError(text)
        return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(text)
    return value


def format_time(seconds: float) -> str:
    """The clock form `parse_time` reads back, to the millisecond."""
    minutes, secs = divmod(round(seconds, 3), 60)
    return f"{int(minutes):02d}:{secs:06.3f}"


def _outside_archive(name: str) -> bool:
    for flavour in (PurePosixPath, PureWindowsPath):
        p = flavour(name)
        if p.is_absolute() or p.anchor or ".." in p.parts:
            return True
    return False


def _resolve(name: str, catalogue: Sequence[KnownVideo]) -> tuple[KnownVideo | None, str | None]:
    """The video a cell names: its name as dropped, its file name alone, or a sha256 prefix."""
    if _outside_archive(name):
        return None, f"video {name!r} points outside the archive; use the name as dropped"
    clean = name.replace("\\", "/").strip("/")
    # The outbox folder's name is unique: it decides when two videos were dropped under one name.
    exact = [v for v in catalogue if clean in v.listed]
    if not exact:
        exact = [v for v in catalogue if v.name == clean]
    if not exact:
        exact = [v for v in catalogue if PurePosixPath(v.name).name == clean]
    if not exact and _SHA_PREFIX.match(clean):
        exact = [v for v in catalogue if v.sha256.startswith(clean.lower())]
    distinct = {v.sha256: v for v in exact}
    if not distinct:
        return None, f"unknown video {name!r}: not among the processed videos"
    if len(distinct) > 1:
        listed = sorted(n for v in distinct.values() for n in v.listed)
        return None, (
            f"video {name!r} matches {len(distinct)} processed videos; name it by its outbox folder "
            f"({', '.join(listed) or 'the folder as dropped'}) or a sha256 prefix"
        )
    return next(iter(distinct.values())), None


def parse_corrections(text: str, catalogue: Sequence[KnownVideo]) -> tuple[list[Correction], list[RowError]]:
    """Valid rows and errors; rows with errors, and both rows of a conflicting overlap, are left out."""
    text = text.lstrip("\ufeff")  # Excel writes a BOM
    rows: list[Correction] = []
    errors: list[RowError] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    for cells in reader:
        line = reader.line_num
        if not cells or all(not c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [c.strip().lower() for c in cells]
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                errors.append(
                    RowError(
                        line, f"header must name the columns {','.join(REQUIRED)}[,note]; missing {', '.join(missing)}"
                    )
                )
                return [], errors
            continue
        record = {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(header)}
        row, error = _parse_row(line, record, catalogue)
        if error:
            errors.append(RowError(line, error))
        elif row is not None:  # _parse_row gives a row or an error
            rows.append(row)
    return _drop_conflicts(rows, errors)


def _parse_row(
    line: int, record: Mapping[str, str], catalogue: Sequence[KnownVideo]
) -> tuple[Correction | None, str | None]:
    video_cell = record.get("video", "")
    if not video_cell:
        return None, "the video column is empty"
    video, problem = _resolve(video_cell, catalogue)
    if problem:
        return None, problem
    assert video is not None  # _resolve names a video or a problem
    times = {}
    for key in ("start", "end"):
        try:
            times[key] = parse_time(record.get(key, ""))
        except ValueError:
            return None, f"{key} {record.get(key, '')!r} is not seconds or [HH:]MM:SS[.mmm]"
    start, end = times["start"], times["end"]
    if start < 0:
        return None, f"start {start:g} s is negative"
    if end <= start:
        return None, f"end ({record['end']}) must be after start ({record['start']})"
    if video.duration > 0 and end > video.duration + 0.5:  # half a second of rounding slack
        return None, f"end {end:g} s is past the end of {video.name} ({video.duration:g} s)"
    label_cell = record.get("label", "")
    end = min(end, video.duration or end)
    shot = SHOT_ALIASES.get(" ".join(label_cell.lower().split()))
    if shot is not None:  # a shot is a player playing: in view, unless the row says there was no shot
        positive = None if shot is ShotLabel.NO_SHOT else True
        return Correction(line, video.sha256, video_cell, start, end, positive, record.get("note", ""), shot), None
    label = LABEL_ALIASES.get(label_cell.lower())
    if label is None:
        return (
            None,
            f"unknown label {label_cell!r}; use dunk or empty (a player in view or not), or make, miss, "
            "shot or no shot",
        )
    return Correction(line, video.sha256, video_cell, start, end, label == "dunk", record.get("note", "")), None


def _drop_conflicts(rows: list[Correction], errors: list[RowError]) -> tuple[list[Correction], list[RowError]]:
    """Two overlapping rows with different labels: both are left out until the user fixes them."""
    bad: set[int] = set()
    by_video: dict[str, list[Correction]] = {}
    for r in rows:
        by_video.setdefault(r.sha256, []).append(r)
    conflicts = []
    for group in by_video.values():
        group.sort(key=lambda r: (r.start, r.row))
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                if b.start >= a.end:
                    break
                if (
                    a.positive != b.positive
                    and None not in (a.positive, b.positive)
                    or a.shot is not None
                    and b.shot is not None
                    and a.shot != b.shot
                ):
                    first, second = sorted((a.row, b.row))
                    conflicts.append(
                        RowError(
                            first,
                            f"overlaps row {second} with a different label "
                            f"({a.video} {a.start:g}-{a.end:g} s and "
                            f"{b.start:g}-{b.end:g} s); both left out",
                        )
                    )
                    bad.update((a.row, b.row))
    kept = [r for r in rows if r.row not in bad]
    return kept, sorted(errors + conflicts, key=lambda e: e.row)


# --- training labels -------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelRules:
    confident_low: float = 0.05  # predictions at or below this count as "empty"
    confident_high: float = 0.95  # at or above this as "player in view"
    correction_weight: float = 5.0  # a corrected frame weighs this many predicted ones


def frame_labels(
    times: np.ndarray,
    corrections: Iterable[Correction],
    score_times: np.ndarray | None,
    scores: np.ndarray | None,
    rules: LabelRules,
) -> tuple[np.ndarray, np.ndarray]:
    """(labels, weights) per frame time: 1/0, weight 0 where the frame is left out.

    A correction covering a frame decides it. Elsewhere the nearest prediction counts only when
    confident (<= confident_low or >= confident_high); uncertain frames are left out.
    """
    times = np.asarray(times, dtype=np.float64)
    labels = np.zeros(len(times), np.float32)
    weights = np.zeros(len(times), np.float32)
    if score_times is not None and scores is not None and len(score_times):
        score_times = np.asarray(score_times, np.float64)
        idx = (
            np.clip(np.searchsorted(score_times, times), 1, len(score_times) - 1)
            if len(score_times) > 1
            else np.zeros(len(times), int)
        )
        if len(score_times) > 1:
            left_closer = np.abs(times - score_times[idx - 1]) <= np.abs(score_times[idx] - times)
            idx = np.where(left_closer, idx - 1, idx)
        nearest = np.asarray(scores, np.float64)[idx]
        sure_pos = nearest >= rules.confident_high
        sure_neg = nearest <= rules.confident_low
        labels[sure_pos] = 1.0
        weights[sure_pos | sure_neg] = 1.0
    for c in corrections:
        if c.positive is None:
            continue  # "no shot" says nothing of who is in view
        covered = (times >= c.start) & (times < c.end)
        labels[covered] = 1.0 if c.positive else 0.0
        weights[covered] = rules.correction_weight
    return labels, weights


def shot_labels(times: np.ndarray, corrections: Iterable[Correction]) -> np.ndarray:
    """Per frame time: 1 inside a span the player called a shot (make, miss, shot), 0 inside one
    called no shot, -1 (unknown) elsewhere: the labels a hoop model learns attempts from."""
    times = np.asarray(times, dtype=np.float64)
    labels = np.full(len(times), -1, np.int8)
    for c in sorted(corrections, key=lambda c: c.row):
        if c.shot is not None:
            labels[(times >= c.start) & (times < c.end)] = 0 if c.shot is ShotLabel.NO_SHOT else 1
    return labels


def result_labels(times: np.ndarray, corrections: Iterable[Correction]) -> np.ndarray:
    """Per frame time: 1 inside a make, 0 inside a miss, -1 elsewhere (the ball-in-net labels)."""
    times = np.asarray(times, dtype=np.float64)
    labels = np.full(len(times), -1, np.int8)
    for c in sorted(corrections, key=lambda c: c.row):
        if c.shot in (ShotLabel.MAKE, ShotLabel.MISS):
            labels[(times >= c.start) & (times < c.end)] = 1 if c.shot is ShotLabel.MAKE else 0
    return labels


def labels_hash(
    corrections: Iterable[Correction], predictions: Mapping[str, str], rules: LabelRules, extra: Mapping | None = None
) -> str:
    """What the labels were learned from: valid corrections, the prediction sets used, the rules.

    `predictions` maps each video's sha256 to a digest of its stored scores.
    """
    payload = {
        "corrections": sorted(
            (c.sha256, round(c.start, 3), round(c.end, 3), c.positive, *([c.shot.value] if c.shot else []))
            for c in corrections
        ),
        "predictions": sorted(predictions.items()),
        "rules": [rules.confident_low, rules.confident_high, rules.correction_weight],
        "extra": extra or {},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def prediction_rows(video: str, segments: Iterable[tuple[float, float]], duration: float, note: str) -> list[list[str]]:
    """A processed video's predictions as corrections rows: its segments and the gaps between."""
    rows, cursor = [], 0.0
    for start, end in segments:
        if start > cursor:
            rows.append([video, format_time(cursor), format_time(start), "empty", note])
        rows.append([video, format_time(start), format_time(end), "dunk", note])
        cursor = end
    if duration > cursor:
        rows.append([video, format_time(cursor), format_time(duration), "empty", note])
    return rows


def write_csv(out: TextIO, rows: Iterable[Sequence[str]]) -> None:
    """The header and `rows`, in the corrections format, as they come (a generator is never held whole)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)


def render_csv(rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    write_csv(out, rows)
    return out.getvalue()


def add_rows(text: str, rows: Sequence[Sequence[str]]) -> str:
    """The corrections file with `rows` added at the end. A row already there for the same video
    and range (by value: "1:05" is 65 s) is replaced in place, so a second click changes a label
    rather than contradicting it. Every other line, note and comment stays exactly as written."""

    def key(record: Sequence[str]) -> tuple[str, float, float] | None:
        try:
            return record[0].strip(), round(parse_time(record[1]), 3), round(parse_time(record[2]), 3)
        except (IndexError, ValueError):
            return None

    def line(record: Sequence[str]) -> str:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow(record)
        return out.getvalue()

    lines = text.splitlines(keepends=True)
    if not text.strip():
        lines = [line(COLUMNS)]
    elif not lines[-1].endswith(("\n", "\r")):
        lines[-1] += "\n"
    # Where each record starts and ends in `lines` (a quoted field may span lines).
    spans: dict[tuple[str, float, float], tuple[int, int, str]] = {}
    reader = csv.reader(io.StringIO("".join(lines)))
    start = 0
    for found in reader:
        end = reader.line_num
        k = key(found) if start > 0 else None
        if k is not None:
            spans[k] = (start, end, found[4] if len(found) > 4 else "")
        start = end
    appended = []
    for record in rows:
        k = key(record)
        if k in spans:
            a, b, note = spans[k]
            if note.strip():  # the user's own note stays
                record = [*record[:4], note]
            lines[a:b] = [line(record)] + [""] * (b - a - 1)  # same length: later spans stay valid
        else:
            appended.append(line(record))
    return "".join(lines) + "".join(appended)


def ranges_by_video(csv_text: str) -> dict[str, list[tuple[float, float]]]:
    """The corrections CSV's (start, end) per video name, read leniently: a row that does not parse
    is left out here (training reports it); for the page's "already looked at" and for retention."""
    ranges: dict[str, list[tuple[float, float]]] = {}
    for row in csv.DictReader(io.StringIO(csv_text)):
        try:
            ranges.setdefault((row.get("video") or "").strip(), []).append(
                (parse_time(row.get("start") or ""), parse_time(row.get("end") or ""))
            )
        except (ValueError, TypeError):
            continue
    return ranges
