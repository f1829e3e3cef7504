"""Write clips, the highlight reel and the sidecar JSON with the ffmpeg that imageio-ffmpeg ships.

Every file is written under a hidden `.part` name and renamed when complete.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Callable, Sequence

from dunkwatch.config import ExportConfig
from dunkwatch.errors import ExportError
from dunkwatch.fsutil import PART_SUFFIX, atomic_target, atomic_write_text
from dunkwatch.media import MediaInfo, dies_with_parent, ffmpeg_exe, probe
from dunkwatch.outputs import Sidecar
from dunkwatch.pipeline.cutting.cut_plan import FRAME_EPS, NotSmart, PacketIndex, frames_in, index_packets
from dunkwatch.pipeline.cutting.ffmpeg_presets import (
    AAC,
    MP4,
    MP4_FILE,
    atempo_chain,
    clip_streams,
    dating_args,
    hvc1_tag,
    source_cut,
    video_encoding,
)
from dunkwatch.pipeline.cutting.smart_cut import smart_clip, smart_index
from dunkwatch.pipeline.scoring.segment import Segment

log = logging.getLogger(__name__)


# A bound that only a hang reaches: x264 on two cores re-encodes 4K at a few frames/s, so allow a
# minute to start plus half a minute per second of media written.
FFMPEG_START_SECONDS = 60.0
FFMPEG_SECONDS_PER_MEDIA_SECOND = 30.0

StopCheck = Callable[[], None]  # raises (pipeline/cancel.py's Cancelled) when the video is given up


def _run_ffmpeg(args: list[str], target: Path, media_seconds: float, stop: StopCheck | None = None) -> None:
    """Run ffmpeg to write `target`; killed when it outlives its bound or the service stops."""
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]
    limit = FFMPEG_START_SECONDS + FFMPEG_SECONDS_PER_MEDIA_SECOND * max(0.0, media_seconds)
    deadline = time.monotonic() + limit
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace", preexec_fn=dies_with_parent
    )
    try:
        while True:
            try:
                _, stderr = proc.communicate(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if stop is not None:
                    stop()  # SIGTERM: the clip is abandoned now, not after a long re-encode
                if time.monotonic() > deadline:
                    # An OSError: retried later like a full disk, then quarantined if it keeps hanging.
                    raise TimeoutError(f"{target}: ffmpeg was still writing after {limit:.0f} s; stopped it")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        detail = (stderr.strip().splitlines() or ["no message"])[-1]
        raise ExportError(f"{target}: ffmpeg failed: {detail}")


def safe_stem(stem: str) -> str:
    """A video's name as output names use it: no control characters (a newline breaks ffmpeg's
    concat list) and no quotes."""
    return re.sub(r"[\x00-\x1f\x7f'\"]", "_", stem)


def clip_name(stem: str, number: int, segment: Segment, label: str = "") -> str:
    """<stem>_03_01m12s.mp4; with a label (an attempt and its result): <stem>_03_01m12s_shot02-make.mp4."""
    minutes, seconds = divmod(int(segment.start), 60)
    return f"{stem}_{number:02d}_{minutes:02d}m{seconds:02d}s{'_' + label if label else ''}.mp4"


def cut_clip(
    info: MediaInfo,
    start: float,
    end: float,
    dest: Path,
    cfg: ExportConfig,
    stop: StopCheck | None = None,
    index: PacketIndex | None = None,
) -> Path:
    """One clip of [start, end) from the original, with its audio, at full resolution, dated at
    the moment it was filmed. `index` (smart mode): the source's packets, when a smart cut is safe."""
    if cfg.mode == "smart" and index is not None and _try_smart(info, start, end, dest, cfg, stop, index):
        return dest
    duration = max(0.0, end - start)
    # Seeking before -i is frame-accurate when re-encoding and keyframe-aligned with copy. The
    # frames kept are those shown in [start, end), to FRAME_EPS, as a smart cut keeps them: a frame
    # shown exactly at `end` is the next clip's (rounded to the millisecond, it was in both).
    args = [*source_cut(info.path, start - FRAME_EPS, duration), *clip_streams(0, 0)]
    if cfg.mode == "copy":
        args += ["-c", "copy", "-avoid_negative_ts", "make_zero"]
        args += hvc1_tag(info.video_codec)
    else:  # reencode, and smart where a smart cut is not safe
        # ffmpeg applies the rotation metadata while re-encoding, so pixels come out upright.
        encoder, filters = video_encoding(info, cfg)
        args += [*encoder, *AAC]
        if cfg.slow_motion > 1.0:
            filters.append(f"setpts={cfg.slow_motion:g}*PTS")
            args += ["-fps_mode", "passthrough", "-af", atempo_chain(1.0 / cfg.slow_motion)]
        if filters:
            args += ["-vf", ",".join(filters)]
        if index is not None:  # -t counts from the first frame after the seek, which may keep one too many
            args += ["-frames:v", str(frames_in(index, start, end))]
    args += dating_args(info.recorded_at, start)
    args += MP4
    with atomic_target(dest) as tmp:
        _run_ffmpeg([*args, str(tmp)], dest, duration * cfg.slow_motion, stop)
    return dest


def _try_smart(
    info: MediaInfo, start: float, end: float, dest: Path, cfg: ExportConfig, stop: StopCheck | None, index: PacketIndex
) -> bool:
    """A smart cut of the clip; False (said in the log) when it must be re-encoded whole instead."""
    stopped: list[bool] = []

    def stop_check() -> None:
        try:
            stop() if stop else None
        except BaseException:
            stopped.append(True)  # the service is stopping: that must get through, not a fallback
            raise

    def run(args: list[str], target: Path, seconds: float) -> None:
        _run_ffmpeg(args, target, seconds, stop_check)

    try:
        smart_clip(info, start, end, dest, cfg, run, index)
        return True
    except NotSmart as exc:
        log.info("%s: re-encoded whole, not smart-cut: %s", dest.name, exc)
    except OSError:
        raise  # a full disk or a hung ffmpeg: retried later, as for any clip
    except Exception as exc:  # noqa: BLE001 - a smart cut that fails costs speed, never the clip
        if stopped:
            raise
        log.warning("%s: the smart cut failed (%s: %s); re-encoded whole instead", dest.name, type(exc).__name__, exc)
    return False


def join_clips(
    clips: Sequence[Path], dest: Path, media_seconds: float, stop: StopCheck | None = None, dating: Sequence[str] = ()
) -> Path:
    """The highlight reel: the clips one after another, without re-encoding them again."""
    list_file = dest.with_name(f".{dest.stem}.concat{PART_SUFFIX}")
    # Paths relative to the list (beside a video's clips: just their names), quotes escaped.
    listing = "".join("file '" + os.path.relpath(c, list_file.parent).replace("'", "'\\''") + "'\n" for c in clips)
    list_file.write_text(listing, encoding="utf-8")
    try:
        with atomic_target(dest) as tmp:
            # auto_convert off: the clips share one sample description (joinable), so their packets go
            # in as they are, without the parameter sets the conversion would repeat in band.
            _run_ffmpeg(
                [
                    "-f",
                    "concat",
                    "-safe",
                    "0",
                    "-auto_convert",
                    "0",
                    "-i",
                    str(list_file),
                    "-map",
                    "0:v",
                    "-map",
                    "0:a?",
                    "-c",
                    "copy",
                    *_undo_concat_offset(clips[0]),
                    *dating,
                    *MP4_FILE,
                    str(tmp),
                ],
                dest,
                media_seconds / 10,
                stop,
            )  # a stream copy: far faster than real time
    finally:
        list_file.unlink(missing_ok=True)
    return dest


def _undo_concat_offset(first_clip: Path) -> list[str]:
    """The concat demuxer moves each file by its earliest timestamp, which is AAC's priming packet
    (1024 samples before 0): the reel's video would start 21-23 ms late, behind an empty edit.
    Moving the output back by as much starts the reel's video at 0."""
    import av

    firsts: dict[int, float] = {}
    with av.open(str(first_clip)) as container:
        for count, packet in enumerate(container.demux()):
            if packet.pts is not None and packet.time_base is not None:
                firsts.setdefault(packet.stream.index, float(packet.pts * packet.time_base))
            if len(firsts) == len(container.streams) or count > 100:
                break
    earliest = min(firsts.values(), default=0.0)
    return ["-output_ts_offset", f"{earliest:.6f}"] if earliest < 0 else []


def write_clips(
    info: MediaInfo,
    segments: Sequence[Segment],
    out_dir: Path,
    cfg: ExportConfig,
    stop: StopCheck | None = None,
    labels: Sequence[str] | None = None,
) -> tuple[list[Path], Path | None]:
    """All clips of one video, then the reel; returns (clips, reel or None). `labels` name each clip's attempt.
    `stop` is called before each clip and the reel, and while ffmpeg runs: it raises to give up."""
    stem = safe_stem(info.path.stem)
    index = _clip_index(info, cfg) if segments else None
    names = labels or [""] * len(segments)
    clips = []
    for i, (seg, label) in enumerate(zip(segments, names), start=1):
        if stop is not None:
            stop()
        clips.append(
            cut_clip(info, seg.clip_start, seg.clip_end, out_dir / clip_name(stem, i, seg, label), cfg, stop, index)
        )
    if stop is not None and clips:
        stop()
    reel = None
    if cfg.highlight_reel and clips:
        seconds = sum(seg.clip_end - seg.clip_start for seg in segments) * cfg.slow_motion
        dest = out_dir / f"{stem}_highlights.mp4"
        if joinable([probe(c) for c in clips]):
            reel = join_clips(clips, dest, seconds, stop, dating_args(info.recorded_at, segments[0].clip_start))
        else:  # sample descriptions differ (a smart clip with nothing re-encoded): no copy joins them
            log.info("%s: the reel is re-encoded: its clips' parameter sets differ", info.path.name)
            reel = join_session(clips, dest, stop)
    return clips, reel


def _clip_index(info: MediaInfo, cfg: ExportConfig) -> PacketIndex | None:
    """The source's packet index when its clips may be smart-cut, or are re-encoded (it counts
    their frames); else None, said once per video."""
    if cfg.mode == "copy":
        return None
    if cfg.mode == "reencode":
        try:
            return index_packets(info.path, info.start)
        except Exception as exc:  # noqa: BLE001 - clips are cut by duration alone then
            log.info("%s: its packets could not be indexed (%s): clips cut by duration", info.path.name, exc)
            return None
    try:
        return smart_index(info, cfg)
    except NotSmart as exc:
        log.info("%s: clips re-encoded, not smart-cut: %s", info.path.name, exc)
    return None


def write_sidecar(path: Path, sidecar: Sidecar) -> Path:
    atomic_write_text(path, sidecar.to_json())
    return path


def joinable(infos: Sequence[MediaInfo]) -> bool:
    """Whether a stream copy can join these clips: one codec, size, orientation, pixel format and
    audio, and the same parameter sets (a joined track has one sample description)."""
    import av

    kinds = {(i.video_codec, i.width, i.height, i.rotation, i.pix_fmt, i.has_audio) for i in infos}
    if len(kinds) != 1:
        return False
    descriptions = set()
    for info in infos:
        with av.open(str(info.path)) as container:
            descriptions.add(bytes(container.streams.video[0].codec_context.extradata or b""))
    return len(descriptions) == 1


REEL_PART_VERSION = 1  # in a part's name: a change to the fitting encode makes every part again


def join_session(clips: Sequence[Path], dest: Path, stop: StopCheck | None = None, parts: Path | None = None) -> Path:
    """A practice's reel: clips of several videos, one after another. Clips alike (codec, size,
    pixel format, audio) are joined as they are; mixed ones (another phone, portrait and
    landscape, HDR beside SDR) are re-encoded to the first clip's size, letterboxed, in H.264.

    With `parts` (a folder for this reel alone), each mixed clip is re-encoded once into it and the
    reel is joined from those parts by stream copy: a session that grows by a clip re-encodes that
    clip, not the whole session again. Parts no clip needs any more are removed."""
    infos = [probe(c) for c in clips]
    seconds = sum(i.duration for i in infos)
    if joinable(infos):
        if parts is not None and parts.is_dir():
            _remove_parts(parts, keep=())
        return join_clips(clips, dest, seconds, stop)
    width, height = infos[0].width // 2 * 2, infos[0].height // 2 * 2
    if parts is not None:
        fitted = [_fitted_part(info, width, height, parts, stop) for info in infos]
        _remove_parts(parts, keep=fitted)
        if joinable([probe(p) for p in fitted]):
            return join_clips(fitted, dest, seconds, stop)
        log.info("%s: its fitted parts differ; the reel is re-encoded whole", dest.name)
    inputs, parts_graph, audio_parts = [], [], []
    for n, info in enumerate(infos):
        inputs += ["-i", str(info.path)]
        parts_graph += _fitting(n, info, width, height)
        audio_parts.append(f"[v{n}][a{n}]")
    graph = ";".join(parts_graph) + ";" + "".join(audio_parts) + f"concat=n={len(infos)}:v=1:a=1[v][a]"
    with atomic_target(dest) as tmp:
        _run_ffmpeg(
            [*inputs, "-filter_complex", graph, "-map", "[v]", "-map", "[a]", *_FITTED, str(tmp)], dest, seconds, stop
        )
    return dest


# One encoding for a mixed reel and for each of its parts: parts made alike share one sample
# description, so a stream copy joins them.
_FITTED = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", *AAC, "-movflags", "+faststart", "-f", "mp4"]


def _fitting(n: int, info: MediaInfo, width: int, height: int) -> list[str]:
    """Filter graph chains that fit input `n` to width x height at 30 fps ([v{n}]) with stereo
    48 kHz sound, silence where it has none ([a{n}])."""
    return [
        f"[{n}:v]scale={width}:{height}:force_original_aspect_ratio=decrease,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=30,format=yuv420p[v{n}]",
        f"[{n}:a]aresample=48000,aformat=channel_layouts=stereo[a{n}]"
        if info.has_audio
        else f"anullsrc=r=48000:cl=stereo,atrim=duration={info.duration:.3f}[a{n}]",
    ]


def _fitted_part(info: MediaInfo, width: int, height: int, parts: Path, stop: StopCheck | None) -> Path:
    """The clip fitted to the reel, made once: its name holds what it was made from (the clip's
    path, size and modification time, and the reel's size), so a changed clip is made again."""
    stat = info.path.stat()
    made_from = f"{REEL_PART_VERSION}|{info.path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{width}x{height}"
    part = parts / f"{safe_stem(info.path.stem)}-{hashlib.sha256(made_from.encode()).hexdigest()[:12]}.mp4"
    if part.is_file():
        return part
    parts.mkdir(parents=True, exist_ok=True)
    graph = ";".join(_fitting(0, info, width, height))
    with atomic_target(part) as tmp:
        _run_ffmpeg(
            ["-i", str(info.path), "-filter_complex", graph, "-map", "[v0]", "-map", "[a0]", *_FITTED, str(tmp)],
            part,
            info.duration,
            stop,
        )
    return part


def _remove_parts(parts: Path, keep: Sequence[Path]) -> None:
    for old in parts.glob("*.mp4"):
        if old not in keep:
            old.unlink(missing_ok=True)
