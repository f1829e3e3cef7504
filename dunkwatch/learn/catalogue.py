"""The processed videos training can learn from, how the CSVs name them, and the corrections
file read against them. Shared by training, the review page and the service's CSV check; no Keras."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from dunkwatch.config import PathsConfig
from dunkwatch.learn.corrections import Correction, KnownVideo, RowError, decode_csv, parse_corrections
from dunkwatch.store import Store, Video
from dunkwatch.zones import Zones

log = logging.getLogger(__name__)


def dropped_name(path: Path, inbox: Path) -> str:
    """A video's name as the user dropped it: its path inside the inbox, with forward slashes."""
    try:
        return Path(path).relative_to(inbox).as_posix()
    except ValueError:
        return Path(path).name


def listed_name(video: Path, out_dir: Path, outbox: Path) -> str:
    """How the CSVs name a processed video: its outbox folder plus the video's extension. That is
    the name as dropped, unless another video had that name first: "IMG_0001 (1).MOV"."""
    folder, root = str(out_dir), str(outbox).rstrip("/") + "/"
    # A string prefix, not Path.relative_to: the page names every video of a month on each load.
    rel = folder[len(root) :] if folder.startswith(root) else Path(folder).name
    return rel + video.suffix


def csv_name(paths: PathsConfig, video: Video) -> str:
    """How the CSVs name a journal row's video (predictions.csv's name, for a processed one)."""
    folder = video.outputs.folder if video.outputs else None
    return listed_name(video.path, folder, paths.outbox) if folder else video.name


@dataclass(frozen=True)
class ArchivedVideo:
    """A processed video whose original is in the archive, as the corrections CSV may name it."""

    known: KnownVideo
    location: Path  # the archived original
    zones: Zones = ()  # greyed out when it was scored: its training frames are greyed the same


def catalogue(paths: PathsConfig, store: Store, zones: bool = True) -> list[ArchivedVideo]:
    """The processed videos whose original is in the archive, as the CSVs name them; `zones`: with
    the zones each was scored with (that reads every sidecar; the names alone read none)."""
    found = []
    for v in store.processed():
        assert v.sha256 is not None  # processed() selects hashed videos only
        if v.location and v.location.is_file():
            outputs = v.outputs
            duration = outputs.duration if outputs else 0.0
            # Named as dropped, or as predictions.csv names it when another video had that name first.
            listed = (listed_name(v.path, outputs.folder, paths.outbox),) if outputs and outputs.folder else ()
            sidecar = v.sidecar() if zones else None
            found.append(
                ArchivedVideo(
                    KnownVideo(dropped_name(v.path, paths.inbox), v.sha256, duration, listed),
                    v.location,
                    sidecar.ignore_zones if sidecar else (),
                )
            )
    return found


def read_corrections(corrections: Path, known: list[KnownVideo]) -> tuple[list[Correction], list[RowError]]:
    """Parse the corrections file against the processed videos; a missing file is no corrections."""
    try:
        data = corrections.read_bytes()
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        log.error("%s: cannot read corrections: %s", corrections, exc)
        return [], []
    text, encoding_error = decode_csv(data)
    rows, errors = parse_corrections(text, known)
    return rows, ([encoding_error] if encoding_error else []) + errors


def load_corrections(paths: PathsConfig, store: Store) -> tuple[list[Correction], list[RowError]]:
    """(valid rows, errors) of the corrections file against the videos processed so far."""
    return read_corrections(paths.corrections, [a.known for a in catalogue(paths, store)])
