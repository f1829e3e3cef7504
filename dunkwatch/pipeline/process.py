"""One video end to end: decode -> score -> segment -> export, for the service and `dunkwatch process`.
The one pipeline module that joins the stages; it returns a typed Sidecar."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from dunkwatch.config import AttemptsConfig, PipelineConfig, SegmentConfig
from dunkwatch.disk_space import check_before_export, outputs_estimate
from dunkwatch.fsutil import PART_SUFFIX, atomic_write_text, leftovers, remove_leftover, sha256_of
from dunkwatch.hoop import Hoop, HoopSource
from dunkwatch.imageops import output_size
from dunkwatch.media import MediaInfo, probe
from dunkwatch.outputs import ScorerKind, Sidecar, SidecarAttempt, SidecarDispute, SidecarSegment
from dunkwatch.pipeline.cancel import CancelToken
from dunkwatch.pipeline.cutting.export import write_clips, write_sidecar
from dunkwatch.pipeline.cutting.ffmpeg_presets import recorded
from dunkwatch.pipeline.cutting.timeline import draw_timeline, write_timeline
from dunkwatch.pipeline.scoring.decode import VideoReader, prefetched
from dunkwatch.pipeline.scoring.disputes import Dispute, find_disputes
from dunkwatch.pipeline.scoring.empty_scene import same_scene_share
from dunkwatch.pipeline.scoring.gate import GatedScorer
from dunkwatch.pipeline.scoring.person import PersonDetector, detector_cache
from dunkwatch.pipeline.scoring.person_looks import PersonLooks
from dunkwatch.pipeline.scoring.scene_memory import SceneMemory
from dunkwatch.pipeline.scoring.scorer import Scorer
from dunkwatch.pipeline.scoring.segment import Segment, SegmentParams, find_segments
from dunkwatch.pipeline.shots.attempts import Attempt, HoopBox, find_attempts
from dunkwatch.pipeline.shots.ball_tracks import BlobCollector
from dunkwatch.pipeline.shots.cuts import Cut, plan_cuts
from dunkwatch.pipeline.shots.hoop_search import find_hoop_box
from dunkwatch.pipeline.shots.rim_model import judge_with_model
from dunkwatch.pipeline.shots.shooters import place_shooters
from dunkwatch.zones import ZoneFilter, Zones

log = logging.getLogger(__name__)

Progress = Callable[[float], None]  # fraction of the video analysed, 0..1; only reports (cancel: CancelToken)

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
    hoop: Hoop | None = None  # the hoop the attempts were looked for at
    hoop_remembered: bool = False  # it came from the scene memory (or the caller), not from this video
    attempts: list[Attempt] = field(default_factory=list)
    tap_size: tuple[int, int] | None = None  # (width, height) of the frames the ball was looked for in
    results_by: str | None = None  # the hoop model version that judged the results; None: the rules
    first_image: np.ndarray | None = None
    nobody_seen: list[Segment] = field(default_factory=list)  # motion in which the person detector saw nobody
    disputes: list[Dispute] = field(default_factory=list)  # the gated cnn's: where motion and the cnn disagreed
    court: str | None = None  # the remembered court the first frame shows (SceneMemory.court_of)


def segment_params(cfg: SegmentConfig, kind: ScorerKind) -> SegmentParams:
    threshold = cfg.threshold_cnn if kind is ScorerKind.CNN else cfg.threshold_motion
    return SegmentParams(
        threshold=threshold,
        hysteresis=cfg.hysteresis,
        smooth=cfg.smooth,
        merge_gap=cfg.merge_gap,
        min_segment=cfg.min_segment,
        pre_roll=cfg.pre_roll,
        post_roll=cfg.post_roll,
    )


def analyse(
    path: Path,
    cfg: PipelineConfig,
    scorer: Scorer,
    progress: Progress | None = None,
    zones: Zones | None = None,
    memory: SceneMemory | None = None,
    hoop: Hoop | None = None,
    cancel: CancelToken | None = None,
) -> Analysis:
    """`zones`: grey these out; None: those drawn on the remembered scene the video shows, if any.
    `hoop`: look for attempts there; None: the remembered scene's hoop, else one found from the arcs.
    `cancel`: checked at every frame; Cancelled when it is set."""
    # The decoder, the tap, motion's threads and the looks keep every core busy already. OpenCV's
    # own pool, on top, split small pictures across threads that then spin waiting: in_view took
    # 13.7 CPU-s with it, 12.3 without (bench/throughput.py). For the whole process, but no
    # caller of analyse runs other OpenCV work that needs the pool.
    cv2.setNumThreads(1)
    info = probe(path)
    blobs = BlobCollector(cfg.attempts.analysis_size) if cfg.attempts.enabled else None
    reader = VideoReader(path, cfg.decode.sample_fps, max_side=scorer.frame_side, info=info, tap=blobs)
    depth = max(8, PREFETCH_BYTES // (3 * int(np.prod(output_size(info.width, info.height, scorer.frame_side)))))
    times: list[float] = []
    chosen: list[ZoneFilter] = []
    known: list[Hoop | None] = [hoop]
    first: list[np.ndarray] = []  # the first frame, as the scorer sees it: where a found hoop is remembered
    params = segment_params(cfg.segment, scorer.kind)
    # Looks at every frame that could belong to a segment, so every clip is confirmed.
    looks = (
        PersonLooks(
            PersonDetector(cache=detector_cache(cfg.state_dir)),
            params.threshold - params.hysteresis,
            params.merge_gap,
            moved_share=same_scene_share(cfg.motion),
        )
        if cfg.segment.confirm_people
        else None
    )

    tick = _per_frame(progress, cancel, info.duration)

    def frames() -> Iterator[np.ndarray]:
        for frame in prefetched(reader, depth):
            if not chosen:  # decided on the first frame: the tripod does not move within a video
                if looks is not None:
                    looks.detector.start()  # now that the decoder is under way; see start()
                found = zones if zones is not None else memory.zones_for(frame.image)[1] if memory else ()
                chosen.append(ZoneFilter(found))
                first.append(frame.image)
                if known[0] is None and memory is not None and blobs is not None:
                    known[0] = memory.hoop_for(frame.image)[1]
            tick(frame.time)
            times.append(frame.time)
            image = chosen[0].apply(frame.image)
            if looks is not None:  # after the zones: a person in an ignored zone confirms nothing
                looks.offer(len(times) - 1, frame.time, image)
            yield image
        if looks is not None:
            looks.close()  # decoded: what is left to do keeps every core busy

    stream = scorer.score(frames())
    try:
        scores = np.fromiter(looks.follow(stream) if looks is not None else stream, dtype=np.float64)
    finally:
        if looks is not None:
            looks.close()  # a video that fails or is cancelled half-way stops looking ahead too
    _log_report(scorer, path.name)
    times_arr = np.asarray(times, dtype=np.float64)
    duration = info.duration or (float(times_arr[-1]) if len(times_arr) else 0.0)
    segments, nobody = _confirm(find_segments(times_arr, scores, duration, params), looks, path.name)
    analysis = Analysis(
        info,
        times_arr,
        scores,
        segments,
        params,
        chosen[0].zones if chosen else (),
        first_image=first[0] if first else None,
        nobody_seen=nobody,
        court=memory.court_of(first[0]) if memory is not None and first else None,
    )
    analysis.disputes = _disputes(scorer, times_arr, scores, params, cfg.segment)
    if blobs is not None:
        _shots(analysis, blobs, known[0], cfg, path, looks.detector if looks is not None else None)
    return analysis


def _log_report(scorer: Scorer, name: str) -> None:
    report = scorer.report()  # the gated cnn says how much the motion model spared it
    if report:
        log.info("%s: %s", name, report)


def _per_frame(progress: Progress | None, cancel: CancelToken | None, duration: float) -> Callable[[float], None]:
    """At each frame, before it is scored: give up when cancelled, then report how far it got (the
    service's heartbeat too, so reported when the duration is unknown)."""

    def tick(time: float) -> None:
        if cancel is not None:
            cancel.check()
        if progress:
            progress(min(1.0, time / duration) if duration > 0 else 0.0)

    return tick


def _disputes(
    scorer: Scorer, times: np.ndarray, scores: np.ndarray, params: SegmentParams, cfg: SegmentConfig
) -> list[Dispute]:
    """Where motion and the cnn disagreed: only the gated cnn has both opinions of a frame."""
    if not isinstance(scorer, GatedScorer):
        return []
    return find_disputes(
        times, scores, scorer.motion_scores, params.threshold, cfg.threshold_motion, params.smooth, params.min_segment
    )


def _shots(
    analysis: Analysis,
    blobs: BlobCollector,
    hoop: Hoop | None,
    cfg: PipelineConfig,
    path: Path,
    detector: PersonDetector | None,
) -> None:
    """The attempts, less those in a stretch where nobody was seen (a ball alone), each shooter
    placed where the person detector saw him at release, judged by a promoted hoop model when
    there is one."""
    _find_attempts(analysis, blobs, hoop, cfg.attempts, path.name)
    analysis.attempts = [
        a for a in analysis.attempts if not any(s.start <= a.rim <= s.end for s in analysis.nobody_seen)
    ]
    if detector is not None and analysis.attempts and analysis.tap_size is not None:
        analysis.attempts = place_shooters(path, analysis.info, analysis.attempts, analysis.tap_size, detector)
    if analysis.attempts and analysis.hoop is not None:
        analysis.attempts, analysis.results_by = judge_with_model(
            path, analysis.info, analysis.hoop, analysis.attempts, cfg.state_dir, cfg.score.runtime
        )


def _confirm(segments: list[Segment], looks: PersonLooks | None, name: str) -> tuple[list[Segment], list[Segment]]:
    """(segments that stay clips, those in which the person detector saw nobody)."""
    if looks is None:
        return segments, []
    confirmed = looks.confirm(segments)
    if confirmed.nobody:
        log.info(
            "%s: %d stretch(es) of motion in which the person detector saw nobody (%d looks): no clip",
            name,
            len(confirmed.nobody),
            len(looks.looks),
        )
    return confirmed.segments, confirmed.nobody


def _find_attempts(analysis: Analysis, blobs: BlobCollector, hoop: Hoop | None, cfg: AttemptsConfig, name: str) -> None:
    """The hoop (given, remembered, else found from this video's arcs) and the attempts at it."""
    if blobs.size is None:
        return
    width, height = blobs.size
    analysis.tap_size = blobs.size
    analysis.hoop_remembered = hoop is not None
    if hoop is None:
        box = find_hoop_box(blobs.frames, width, height, cfg.min_shots)
        if box is None:
            log.info("%s: no hoop found (no place where the ball's arcs end): presence clips only", name)
            return
        hoop = Hoop.of_pixels(*box, width, height, HoopSource.FOUND)
        log.info("%s: hoop found at %s", name, hoop.as_list())
    analysis.hoop = hoop
    analysis.attempts = find_attempts(blobs.frames, HoopBox(*hoop.pixels(width, height)))
    makes = sum(1 for a in analysis.attempts if a.result.value == "make")
    log.info("%s: %d attempt(s), %d make(s)", name, len(analysis.attempts), makes)


def _remember_hoop(memory: SceneMemory, scenes: list[str], result: Analysis) -> None:
    """The court this video's empty frames went to keeps the hoop found on it; a court never seen
    empty keeps it with the video's first frame."""
    assert result.hoop is not None  # process() remembers only a hoop it has
    if scenes:
        memory.set_hoop(scenes[0], result.hoop)
    elif result.first_image is not None:
        memory.remember_hoop_look(result.first_image, result.hoop)


def _hoop_fields(analysis: Analysis, cuts: list[Cut], clip_names: list[str]) -> dict:
    hoop = analysis.hoop
    return {
        "hoop": tuple(hoop.as_list()) if hoop else None,
        "hoop_source": hoop.source.value if hoop else None,
        "attempts": _sidecar_attempts(analysis, cuts, clip_names),
        "results_by": analysis.results_by,
    }


def _sidecar_attempts(analysis: Analysis, cuts: list[Cut], clip_names: list[str]) -> tuple[SidecarAttempt, ...]:
    clip_of = {c.attempt: name for c, name in zip(cuts, clip_names) if c.attempt is not None}
    cut_of = {c.attempt: c.segment for c in cuts if c.attempt is not None}
    width, height = analysis.tap_size or (1, 1)
    return tuple(
        SidecarAttempt(
            start=round(a.start, 3),
            end=round(a.end, 3),
            rim=round(a.rim, 3),
            release=round(a.release, 3) if a.release is not None else None,
            result=a.result.value,
            kind=a.kind.value,
            clip=clip_of.get(n),
            shooter=(round(a.shooter[0] / width, 4), round(a.shooter[1] / height, 4)) if a.shooter else None,
            clip_start=round(cut_of[n].clip_start, 3),
            clip_end=round(cut_of[n].clip_end, 3),
        )
        for n, a in enumerate(analysis.attempts)
    )


def _iso(when: dt.datetime | None) -> str | None:
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
            if (
                there is not None
                or not folder.is_dir()
                or any(not (p.name.startswith(".") and p.name.endswith(PART_SUFFIX)) for p in folder.iterdir())
            ):
                continue
        atomic_write_text(folder / OWNER_FILE, owner + "\n")
        return folder


def _owner_of(folder: Path) -> str | None:
    try:
        return (folder / OWNER_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None  # no mark: an older dunkwatch's outputs, or the user's own folder


def process_video(
    path: Path,
    cfg: PipelineConfig,
    scorer: Scorer,
    outbox: Path,
    clips: bool = True,
    progress: Progress | None = None,
    memory: SceneMemory | None = None,
    sha256: str | None = None,
    zones: Zones | None = None,
    hoop: Hoop | None = None,
    cancel: CancelToken | None = None,
) -> Processed:
    """Analyse one video and write its outputs to a folder of its own in `outbox`; remember its empty
    courts and the hoop found on them. `sha256` (hashed here when not given) says whose folder is whose."""
    started = time.monotonic()
    path = Path(path)
    result = analyse(path, cfg, scorer, progress, zones, memory, hoop, cancel)
    scenes = memory.remember(scorer.learned_scenes) if memory is not None else []
    if memory is not None and result.hoop is not None and not result.hoop_remembered:
        _remember_hoop(memory, scenes, result)
    info = result.info
    cuts = plan_cuts(
        result.segments, result.attempts, info.duration or float(result.times.max(initial=0.0)), result.params
    )
    sha256 = sha256 or sha256_of(path)
    if clips:  # before the folder exists: a full disk leaves nothing half written
        needed = outputs_estimate(
            path.stat().st_size,
            info.duration,
            [c.segment.clip_end - c.segment.clip_start for c in cuts],
            cfg.export.mode != "copy",
            cfg.export.highlight_reel,
        )
        check_before_export(outbox, needed, cfg.min_free_mb)
    out_dir = output_dir(outbox, path.stem, sha256)
    for leftover in leftovers(out_dir):  # from a run that was killed mid-write
        remove_leftover(leftover)
    sidecar_path = out_dir / f"{path.stem}.json"
    stale = _previous_clips(sidecar_path)
    written, reel = (
        write_clips(
            info,
            [c.segment for c in cuts],
            out_dir,
            cfg.export,
            cancel.check if cancel else None,
            [c.label for c in cuts],
        )
        if clips
        else ([], None)
    )
    timeline = (
        write_timeline(
            out_dir / f"{path.stem}.png",
            draw_timeline(
                result.times, result.scores, result.segments, info.duration, result.params.threshold, path.name
            ),
        )
        if cfg.export.timeline
        else None
    )
    sidecar = Sidecar(
        video=str(path.resolve()),
        sha256=sha256,
        duration=round(info.duration, 3),
        width=info.width,
        height=info.height,
        rotation=info.rotation,
        scorer=scorer.kind,
        model=scorer.model_version,
        sample_fps=cfg.decode.sample_fps,
        threshold=result.params.threshold,
        scenes=tuple(scenes),
        recorded_at=_iso(recorded(info.recorded_at)),
        segments=tuple(
            SidecarSegment(**s.as_dict(), recorded_start=_iso(recorded(info.recorded_at, s.start)))
            for s in result.segments
        ),
        clips=tuple(c.name for c in written),
        highlights=reel.name if reel else None,
        timeline=timeline.name if timeline else None,
        fps=round(info.fps, 3) if info.fps else None,
        ignore_zones=result.zones,
        **_hoop_fields(result, cuts, [c.name for c in written]),
        nobody_seen=tuple(SidecarSegment(**s.as_dict(), recorded_start=None) for s in result.nobody_seen),
        court=result.court,
        disputed=tuple(SidecarDispute(d.start, d.end, d.model_in_view) for d in result.disputes),
    )
    # The sidecar is written last: its presence means every file it names is complete.
    write_sidecar(sidecar_path, sidecar)
    for name in stale - sidecar.files():
        (out_dir / name).unlink(missing_ok=True)
    elapsed = time.monotonic() - started
    log.info(
        "%s: %.1f s, %d segments, %d clips, processed in %.1f s (%.1fx real time)",
        path.name,
        info.duration,
        len(result.segments),
        len(written),
        elapsed,
        info.duration / elapsed if elapsed > 0 else 0.0,
    )
    return Processed(sidecar, result.times, result.scores, out_dir)
