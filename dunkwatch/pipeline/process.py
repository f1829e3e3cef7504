"""One video end to end: decode -> score -> segment -> export, for the service and `dunkwatch process`.
The one pipeline module that joins the stages; it returns a typed Sidecar."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from dunkwatch.config import PipelineConfig, SegmentConfig
from dunkwatch.disk_space import check_before_export, outputs_estimate
from dunkwatch.fsutil import PART_SUFFIX, atomic_write_text, leftovers, remove_leftover, sha256_of
from dunkwatch.media import MediaInfo, probe
from dunkwatch.pipeline.decode import VideoReader, output_size, prefetched
from dunkwatch.outputs import ScorerKind, Sidecar, SidecarSegment
from dunkwatch.pipeline.export import recorded, write_clips, write_sidecar
from dunkwatch.pipeline.segment import Segment, SegmentParams, find_segments
from dunkwatch.pipeline.timeline import write_timeline
from dunkwatch.zones import ZoneFilter, Zones
from dunkwatch.pipeline.scene_memory import SceneMemory
from dunkwatch.pipeline.scorer import Scorer

log = logging.getLogger(__name__)

Progress = Callable[[float], None]  # fraction of the video analysed, 0..1

# Decoded frames queued ahead of the scorer. The motion scorer works in bursts (a chunk of frames
# at once, every quarter window); a deep queue lets the decoder keep the other core busy meanwhile.
PREFETCH_BYTES = 96 * 2**20


@dataclass
class Analysis:
    info: MediaInfo
    times: np.ndarray
    scores: np.ndarray
    segments: list[Segment]
    params: SegmentParams
    zones: Zones = ()  # greyed out of every frame


def segment_params(cfg: SegmentConfig, kind: ScorerKind) -> SegmentParams:
    threshold = cfg.threshold_cnn if kind is ScorerKind.CNN else cfg.threshold_motion
    return SegmentParams(threshold=threshold, hysteresis=cfg.hysteresis, smooth=cfg.smooth,
                         merge_gap=cfg.merge_gap, min_segment=cfg.min_segment,
                         pre_roll=cfg.pre_roll, post_roll=cfg.post_roll)


def analyse(path: Path, cfg: PipelineConfig, scorer: Scorer, progress: Progress | None = None,
            zones: Zones | None = None, memory: SceneMemory | None = None) -> Analysis:
    """`zones`: grey these out; None: those drawn on the remembered scene the video shows, if any."""
    info = probe(path)
    reader = VideoReader(path, cfg.decode.sample_fps, max_side=scorer.frame_side, info=info)
    width, height = output_size(info.width, info.height, scorer.frame_side)
    depth = max(8, PREFETCH_BYTES // (3 * width * height))
    times: list[float] = []
    chosen: list[ZoneFilter] = []

    def frames():
        for frame in prefetched(reader, depth):
            if not chosen:  # decided on the first frame: the tripod does not move within a video
                found = zones if zones is not None else memory.zones_for(frame.image)[1] if memory else ()
                chosen.append(ZoneFilter(found))
            times.append(frame.time)
            if progress:  # also the service's heartbeat, so called when the duration is unknown too
                progress(min(1.0, frame.time / info.duration) if info.duration > 0 else 0.0)
            yield chosen[0].apply(frame.image)

    scores = np.fromiter(scorer.score(frames()), dtype=np.float64)
    report = scorer.report()  # the gated cnn says how much the motion model spared it
    if report:
        log.info("%s: %s", path.name, report)
    times_arr = np.asarray(times, dtype=np.float64)
    params = segment_params(cfg.segment, scorer.kind)
    duration = info.duration or (float(times_arr[-1]) if len(times_arr) else 0.0)
    segments = find_segments(times_arr, scores, duration, params)
    return Analysis(info, times_arr, scores, segments, params, chosen[0].zones if chosen else ())


def _iso(when) -> str | None:
    return when.isoformat(timespec="milliseconds") if when is not None else None


def _previous_clips(sidecar_path: Path) -> set[str]:
    old = Sidecar.read(sidecar_path)
    return {Path(name).name for name in old.files()} if old else set()


@dataclass
class Processed:
    sidecar: Sidecar  # what <stem>.json says
    times: np.ndarray  # every analysed frame's time and score, for training labels
    scores: np.ndarray
    out_dir: Path  # the folder the outputs went to


OWNER_FILE = ".dunkwatch-video"  # in each output folder: the sha256 of the video it belongs to


def output_dir(parent: Path, stem: str, owner: str) -> Path:
    """The folder for one video's outputs: <stem>/, or <stem> (1)/ ... when that name belongs to
    another video (IMG_0001.MOV and IMG_0001.mp4, or a phone's numbering starting again), so no
    result ever replaces another's. The same video (a retry) gets its own folder back."""
    n = 0
    while True:
        folder = parent / (stem if n == 0 else f"{stem} ({n})")
        n += 1
        try:
            folder.mkdir(parents=True)  # claims the name, atomically
        except FileExistsError:
            there = _owner_of(folder)
            if there == owner:
                return folder
            # Taken, unless a crash left it with nothing but half-written files (.name.part).
            if there is not None or not folder.is_dir() or any(
                    not (p.name.startswith(".") and p.name.endswith(PART_SUFFIX)) for p in folder.iterdir()):
                continue
        atomic_write_text(folder / OWNER_FILE, owner + "\n")
        return folder


def _owner_of(folder: Path) -> str | None:
    try:
        return (folder / OWNER_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None  # no mark: an older dunkwatch's outputs, or the user's own folder


def process_video(path: Path, cfg: PipelineConfig, scorer: Scorer, outbox: Path, clips: bool = True,
                  progress: Progress | None = None, memory: SceneMemory | None = None,
                  sha256: str | None = None, zones: Zones | None = None) -> Processed:
    """Analyse one video and write its outputs to a folder of its own in `outbox`; remember its
    empty courts. `sha256` (hashed here when not given) says whose folder is whose."""
    started = time.monotonic()
    path = Path(path)
    result = analyse(path, cfg, scorer, progress, zones, memory)
    scenes = memory.remember(scorer.learned_scenes) if memory is not None else []
    info = result.info
    sha256 = sha256 or sha256_of(path)
    if clips:  # before the folder exists: a full disk leaves nothing half written
        needed = outputs_estimate(path.stat().st_size, info.duration,
                                  [s.clip_end - s.clip_start for s in result.segments],
                                  cfg.export.mode != "copy", cfg.export.highlight_reel)
        check_before_export(outbox, needed, cfg.min_free_mb)
    out_dir = output_dir(outbox, path.stem, sha256)
    for leftover in leftovers(out_dir):  # from a run that was killed mid-write
        remove_leftover(leftover)
    sidecar_path = out_dir / f"{path.stem}.json"
    stale = _previous_clips(sidecar_path)
    stop = (lambda: progress(1.0)) if progress else None  # the service's progress raises when it stops
    written, reel = write_clips(info, result.segments, out_dir, cfg.export, stop) if clips else ([], None)
    timeline = None
    if cfg.export.timeline:
        timeline = write_timeline(out_dir / f"{path.stem}.png", result.times, result.scores, result.segments,
                                  info.duration, result.params.threshold, path.name)
    sidecar = Sidecar(
        video=str(path.resolve()), sha256=sha256, duration=round(info.duration, 3), width=info.width,
        height=info.height, rotation=info.rotation, scorer=scorer.kind, model=scorer.model_version,
        sample_fps=cfg.decode.sample_fps, threshold=result.params.threshold, scenes=tuple(scenes),
        recorded_at=_iso(recorded(info.recorded_at)),
        segments=tuple(SidecarSegment(**s.as_dict(), recorded_start=_iso(recorded(info.recorded_at, s.start)))
                       for s in result.segments),
        clips=tuple(c.name for c in written), highlights=reel.name if reel else None,
        timeline=timeline.name if timeline else None, fps=round(info.fps, 3) if info.fps else None,
        ignore_zones=result.zones)
    # The sidecar is written last: its presence means every file it names is complete.
    write_sidecar(sidecar_path, sidecar)
    for name in stale - sidecar.files():
        (out_dir / name).unlink(missing_ok=True)
    elapsed = time.monotonic() - started
    speed = info.duration / elapsed if elapsed > 0 else 0.0
    log.info("%s: %.1f s, %d segments, %d clips, processed in %.1f s (%.1fx real time)",
             path.name, info.duration, len(result.segments), len(written), elapsed, speed)
    return Processed(sidecar, result.times, result.scores, out_dir)
