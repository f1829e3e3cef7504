"""Editor timelines through OpenTimelineIO: the cut as clips that point at the original, for
Final Cut (FCPXML), Premiere and Resolve (FCP 7 XML), any EDL reader (CMX 3600) and OTIO itself.

Each action becomes one clip of the original, pre- and post-roll included, with a marker over
the action itself (a shot's marker says its result: "shot 2: make"); clips follow one another on
one video track. Times are rational at the
video's own frame rate (a phone's nominal rate, snapped to the standard one it is close to), so
each cut lands on the frame the sidecar names; see the README for what each format keeps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from dunkwatch.errors import raise_interruption, with_causes
from dunkwatch.fsutil import atomic_target
from dunkwatch.outputs import Sidecar, SidecarSegment

PRESENCE = "player in view"  # the marker of a clip cut by presence; a shot's reads "shot 2: make"

# name in export.timelines -> (OTIO adapter, file suffix)
FORMATS = {
    "otio": ("otio_json", ".otio"),
    "fcpxml": ("fcpx_xml", ".fcpxml"),
    "fcp7xml": ("fcp_xml", ".xml"),
    "edl": ("cmx_3600", ".edl"),
}
STANDARD_RATES = (23.976, 24.0, 25.0, 29.97, 30.0, 48.0, 50.0, 59.94, 60.0, 100.0, 119.88, 120.0, 240.0)
TIMECODE_RATES = (24000 / 1001, 24.0, 25.0, 30000 / 1001, 30.0, 48.0, 50.0, 60000 / 1001, 60.0)  # an EDL's only


def timecode_rate(rate: float) -> float:
    """An EDL counts in SMPTE timecode: the video's rate when it is one, else the nearest one."""
    return min(TIMECODE_RATES, key=lambda r: abs(r - rate))


def editor_rate(fps: float | None) -> float:
    """The timeline's rate: the standard rate within 0.5 % of the video's, else its own (3 decimals)."""
    if not fps or fps <= 0:
        return 30.0
    near = min(STANDARD_RATES, key=lambda r: abs(r - fps))
    exact = {23.976: 24000 / 1001, 29.97: 30000 / 1001, 59.94: 60000 / 1001, 119.88: 120000 / 1001}
    return exact.get(near, near) if abs(near - fps) / fps < 0.005 else round(fps, 3)


@dataclass(frozen=True)
class CutSource:
    """One original and the actions cut from it."""

    name: str  # the clip names' prefix: the video's stem
    media: Path  # the original, where it is now (archived, or the file `process` was given)
    duration: float
    fps: float | None
    segments: tuple[SidecarSegment, ...]  # the clips' spans, in clip order
    markers: tuple[str, ...] = ()  # each clip's marker: "player in view", or a shot and its result

    @classmethod
    def of(cls, sidecar: Sidecar, media: Path) -> "CutSource":
        # Names without quotes or control characters: the FCP 7 adapter looks clips up by XPath.
        name = re.sub(r"[\x00-\x1f\x7f'\"]", "_", Path(sidecar.video).stem)
        cuts = sidecar.cuts()
        markers = [f"{a.kind} {sidecar.attempts.index(a) + 1}: {a.result}" if a else PRESENCE for _, _, a in cuts]
        return cls(name, Path(media), sidecar.duration, sidecar.fps, tuple(seg for seg, _, _ in cuts), tuple(markers))


def build(name: str, sources: Iterable[CutSource], timecode: bool = False) -> Any:  # an otio Timeline: untyped
    """An OTIO timeline of every action of `sources`, in order; `timecode`: at SMPTE rates only."""
    import opentimelineio as otio

    sources = list(sources)

    def rate_of(source: CutSource) -> float:
        r = editor_rate(source.fps)
        return timecode_rate(r) if timecode else r

    rate = rate_of(sources[0]) if sources else 30.0

    def at(seconds: float, r: float) -> Any:  # an otio RationalTime: untyped
        return otio.opentime.RationalTime(round(seconds * r), r)

    timeline = otio.schema.Timeline(name=name, global_start_time=at(0.0, rate))
    track = otio.schema.Track(name="actions", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    for source in sources:
        r = rate_of(source)
        available = otio.opentime.TimeRange(at(0.0, r), at(source.duration, r))
        for n, s in enumerate(source.segments, start=1):
            marker = source.markers[n - 1] if n - 1 < len(source.markers) else PRESENCE
            clip = otio.schema.Clip(
                name=f"{source.name} {'action ' + str(n) if marker == PRESENCE else marker.replace(':', '')}",
                media_reference=otio.schema.ExternalReference(
                    target_url=source.media.resolve().as_uri(), available_range=available
                ),
                source_range=otio.opentime.TimeRange(at(s.clip_start, r), at(s.clip_end, r) - at(s.clip_start, r)),
            )
            clip.markers.append(
                otio.schema.Marker(
                    name=marker, marked_range=otio.opentime.TimeRange(at(s.start, r), at(s.end, r) - at(s.start, r))
                )
            )
            track.append(clip)
    return timeline


def write_timelines(folder: Path, stem: str, sources: Sequence[CutSource], formats: Iterable[str]) -> list[Path]:
    """`<stem>.otio`, `.fcpxml`, `.xml`, `.edl` as `formats` asks; each written whole, then renamed.
    Nothing to cut (no action): none, and any from an earlier run go."""
    import opentimelineio as otio

    written = []
    cut = any(source.segments for source in sources)
    for fmt in formats:
        adapter, suffix = FORMATS[fmt]
        dest = folder / f"{stem}{suffix}"
        if not cut:
            dest.unlink(missing_ok=True)
            continue
        with atomic_target(dest) as tmp:
            otio.adapters.write_to_file(build(stem, sources, timecode=fmt != "otio"), str(tmp), adapter_name=adapter)
        written.append(dest)
    return written


def write_video_timelines(out_dir: Path, sidecar: Sidecar, media: Path, formats: Iterable[str]) -> list[Path]:
    """One video's timelines beside its clips, named like its sidecar."""
    return write_timelines(out_dir, Path(sidecar.video).stem, [CutSource.of(sidecar, media)], formats)


def after_processing(out_dir: Path, sidecar: Sidecar, media: Path, formats: Sequence[str]) -> str | None:
    """The work after a video is processed, for the service and `dunkwatch process` alike: its
    editor timelines, pointing at `media`, the original where it lives now. Returns what went
    wrong, in one line; never raises, since an adapter's error costs the timelines, not the clips."""
    if not formats:
        return None
    try:
        write_video_timelines(out_dir, sidecar, media, formats)
    except Exception as exc:
        raise_interruption(exc)
        return f"cannot write its editor timelines: {with_causes(exc)}"
    return None
