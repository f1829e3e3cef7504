"""Configuration: frozen dataclasses whose fields carry their default, bounds and description.

Pure apart from `load`, which reads one TOML file. An unknown key, a wrong type or an
out-of-bounds value raises ConfigError with one line naming the key and the value.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dunkwatch.config_values import check_apprise_url, check_value, parse_listen, parse_schedule  # noqa: F401
from dunkwatch.errors import ConfigError

DEFAULT_CONFIG_NAME = "config.toml"

log = logging.getLogger(__name__)

# Keys an earlier version read: a config written for it still loads, with one warning line.
RETIRED_KEYS = {
    "decode.reader": "there is one frame reader now (PyAV; the ffmpeg command for HDR)",
}


def setting(
    default: Any, doc: str, *, lo: float | None = None, hi: float | None = None, choices: tuple[str, ...] | None = None
) -> Any:
    """A config field with its default, bounds and one-line description."""
    return field(default=default, metadata={"doc": doc, "lo": lo, "hi": hi, "choices": choices})


@dataclass(frozen=True)
class PathsConfig:
    inbox: Path = setting(Path("inbox"), "folder the sync client fills with new videos")
    outbox: Path = setting(Path("outbox"), "clips, reels, sidecar JSON and timelines go here")
    archive: Path = setting(Path("archive"), "processed originals move here, untouched")
    quarantine: Path = setting(Path("quarantine"), "videos that failed move here, with <name>.error.txt")
    state_dir: Path = setting(Path("state"), "SQLite journal, model registry and caches")
    corrections: Path = setting(Path("corrections.csv"), "your label fixes: video,start,end,label[,note]")


@dataclass(frozen=True)
class ArchiveConfig:
    keep_days: int = setting(
        0,
        "originals archived more than this many days ago are deleted, oldest first "
        "(0: kept forever); clips, sidecars and training frames stay",
        lo=0,
        hi=36500,
    )
    max_gb: float = setting(
        0.0, "the archive is kept under this many GB by deleting the oldest originals (0: no limit)", lo=0.0, hi=1e6
    )


@dataclass(frozen=True)
class DecodeConfig:
    sample_fps: float = setting(5.0, "frames per second analysed; timestamps come from the container", lo=0.5, hi=60.0)


@dataclass(frozen=True)
class ScoreConfig:
    scorer: str = setting("auto", "auto: cnn when a model is promoted, else motion", choices=("auto", "motion", "cnn"))
    batch_size: int = setting(32, "frames per cnn prediction batch on the CPU", lo=1, hi=1024)
    runtime: str = setting(
        "auto",
        "what runs the cnn: openvino (CPU; bfloat16 where the CPU has AMX or AVX512_BF16), "
        "keras (the training backend, on its GPU when it has one), or auto: keras when its "
        "backend sees an NVIDIA GPU, else openvino",
        choices=("auto", "openvino", "keras"),
    )
    gpu_batch_size: int = setting(
        256,
        "frames per cnn prediction batch when keras runs it on a GPU "
        "(bench/infer_throughput.py prints the fastest for a GPU)",
        lo=1,
        hi=4096,
    )
    motion_gate: float = setting(
        0.05, "cnn runs only near frames whose motion score reaches this; 0: on every frame", lo=0.0, hi=0.9
    )
    gate_margin: float = setting(1.0, "seconds around a gated frame that the cnn also scores", lo=0.0, hi=30.0)


@dataclass(frozen=True)
class MotionConfig:
    analysis_size: int = setting(192, "longer side, in pixels, of the image the motion model compares", lo=64, hi=1024)
    background_window: float = setting(
        120.0, "seconds of footage the empty-scene model is built from", lo=10.0, hi=3600.0
    )
    min_area: float = setting(0.002, "foreground share of the frame that scores 0.5", lo=0.0001, hi=0.5)
    luma_change: float = setting(0.25, "relative brightness change that makes a pixel foreground", lo=0.02, hi=2.0)
    chroma_change: float = setting(
        0.04, "colour (rg chromaticity) change that makes a pixel foreground", lo=0.005, hi=0.5
    )
    person_prior: bool = setting(
        True,
        "look for people (the person detector) on the frames the motion model is "
        "about to take for the empty court; a person there means it is not empty",
    )


@dataclass(frozen=True)
class SegmentConfig:
    threshold_motion: float = setting(0.5, "score that starts a segment with the motion scorer", lo=0.01, hi=0.99)
    threshold_cnn: float = setting(
        0.95, "score that starts a segment with the cnn scorer (the article's 0.95)", lo=0.01, hi=0.999
    )
    hysteresis: float = setting(0.2, "a segment ends only below threshold minus this", lo=0.0, hi=0.9)
    smooth: float = setting(0.6, "seconds of the running median that smooths scores", lo=0.0, hi=10.0)
    merge_gap: float = setting(1.5, "gaps shorter than this (s) join two segments", lo=0.0, hi=60.0)
    min_segment: float = setting(0.8, "segments shorter than this (s) are dropped", lo=0.0, hi=60.0)
    pre_roll: float = setting(1.0, "seconds kept before the action", lo=0.0, hi=30.0)
    post_roll: float = setting(1.5, "seconds kept after the action", lo=0.0, hi=30.0)
    confirm_people: bool = setting(
        True,
        "a stretch in which the person detector sees nobody is no clip (a ball, "
        "a door, a change of light); the sidecar lists it as motion, nobody seen",
    )


@dataclass(frozen=True)
class AttemptsConfig:
    enabled: bool = setting(
        True,
        "one clip per shot where a hoop is in view (found from the ball's arcs, drawn on "
        "the page, or process --hoop); off: presence clips only",
    )
    analysis_size: int = setting(640, "longer side (px) of the grey frames the ball is looked for in", lo=160, hi=1920)
    min_shots: int = setting(2, "arcs that must end at one place before dunkwatch calls it the hoop", lo=1, hi=20)


@dataclass(frozen=True)
class ExportConfig:
    mode: str = setting(
        "smart",
        "smart: frame-accurate, re-encoding only the first and last frames up to a "
        "keyframe and copying the rest (H.264 and HEVC; other codecs, slow motion, tone-mapping to "
        "SDR and Dolby Vision are re-encoded whole, with a log line); reencode: frame-accurate, "
        "every frame re-encoded; copy: fastest, starts on a keyframe",
        choices=("smart", "reencode", "copy"),
    )
    slow_motion: float = setting(1.0, "playback slow-down; 2.0 plays 30 fps footage at 15 fps", lo=1.0, hi=8.0)
    highlight_reel: bool = setting(True, "also join all clips of a video into <stem>_highlights.mp4")
    timeline: bool = setting(True, "draw <stem>.png: scores over time with the segments shaded")
    crf: int = setting(20, "x264 quality when re-encoding; lower is better and larger", lo=0, hi=51)
    preset: str = setting(
        "veryfast",
        "x264 speed/size trade-off when re-encoding",
        choices=("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"),
    )
    smart_preset: str = setting(
        "ultrafast",
        "encoder speed for the ends a smart cut re-encodes (each at most a "
        "group of pictures, at crf); the slower presets cost seconds per 4K clip",
        choices=("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"),
    )
    timelines: tuple = setting(
        ("otio", "fcpxml", "fcp7xml", "edl"),
        "editor timelines per video and per session, pointing at the originals: otio, fcpxml "
        "(Final Cut), fcp7xml (Premiere, Resolve), edl (CMX 3600); [] for none",
        choices=("otio", "fcpxml", "fcp7xml", "edl"),
    )
    hdr: str = setting(
        "keep",
        "clips of HDR (HLG, PQ) videos: keep: 10-bit HEVC with the source's colour tags, "
        "HDR on the phone; sdr: 8-bit H.264 in BT.709, for players and editors without HDR",
        choices=("keep", "sdr"),
    )


@dataclass(frozen=True)
class WatchConfig:
    polling: bool = setting(False, "poll the inbox instead of inotify: for network and FUSE mounts")
    stable_seconds: float = setting(
        5.0, "a file is taken once its size and mtime stay unchanged this long", lo=0.2, hi=3600.0
    )
    rescan_seconds: float = setting(
        300.0, "full inbox scan this often, so a missed event never strands a file", lo=5.0, hi=86400.0
    )
    unreadable_after: float = setting(
        120.0, "an unchanged file still not opening as a video after this long goes to quarantine", lo=0.0, hi=86400.0
    )
    extensions: tuple = setting(("mp4", "mov", "m4v"), "file extensions taken as videos (any case)")
    ignore: tuple = setting(
        (".*", "*.icloud", "*.part", "*.tmp", "*.crdownload", "*.download", "~$*"),
        "names never taken: sync clients' temporary and placeholder files",
    )
    min_duration: float = setting(
        1.0, "videos shorter than this (seconds) are archived without clips: an accidental tap", lo=0.0, hi=3600.0
    )
    live_photos: bool = setting(
        False,
        "also process Live Photos' companion movies (short .MOV files with an "
        "Apple content identifier); by default they are archived without clips",
    )


@dataclass(frozen=True)
class DaemonConfig:
    max_attempts: int = setting(4, "tries per video before a transient error sends it to quarantine", lo=1, hi=100)
    retry_seconds: float = setting(60.0, "wait before the first retry; it doubles with each try", lo=0.0, hi=86400.0)
    stall_seconds: float = setting(
        600.0,
        "a video's worker process that reports no progress this long is stopped, and the video retried",
        lo=1.0,
        hi=86400.0,
    )
    min_free_mb: float = setting(
        512.0,
        "free space kept on the outbox and archive disks; a video waits in the inbox until its outputs fit",
        lo=0.0,
        hi=10_000_000.0,
    )


@dataclass(frozen=True)
class TrainingConfig:
    schedule: str = setting("0 3 * * *", 'when the daemon retrains: a crontab line, or "every 6h" / "every 90s"')
    misfire_grace_seconds: float = setting(
        3600.0, "a run missed (machine asleep) still starts if this late", lo=1.0, hi=604800.0
    )
    sample_fps: float = setting(1.0, "frames per second taken from labelled ranges for training", lo=0.1, hi=30.0)
    input_size: int = setting(224, "side of the square frames the model sees, when a GPU trains", lo=32, hi=512)
    cpu_input_size: int = setting(
        96,
        "the side used instead when only the CPU trains (at 224 ResNet50 trains at a "
        "few frames/s there); the smaller of the two wins",
        lo=32,
        hi=512,
    )
    fine_tune: str = setting(
        "head", "head: train the dense head on a frozen backbone; all: the whole network", choices=("head", "all")
    )
    imagenet: bool = setting(True, "start the backbone from ImageNet weights (downloaded once into state_dir)")
    epochs: int = setting(8, "passes over the training frames", lo=1, hi=1000)
    batch_size: int = setting(
        32, "frames per device per step; the global batch is this times the devices", lo=1, hi=4096
    )
    learning_rate: float = setting(0.001, "Adam learning rate", lo=1e-7, hi=1.0)
    confident_low: float = setting(0.05, "uncorrected frames scored at or below this train as empty", lo=0.0, hi=0.5)
    confident_high: float = setting(
        0.95, "uncorrected frames scored at or above this train as player in view", lo=0.5, hi=1.0
    )
    correction_weight: float = setting(5.0, "a corrected frame weighs this many predicted ones", lo=1.0, hi=100.0)
    max_frames: int = setting(20000, "cap on training frames; corrected frames are kept first", lo=10, hi=10_000_000)
    validation_share: float = setting(
        0.25, "share of videos held out for validation (by video, never by frame)", lo=0.05, hi=0.9
    )
    max_validation_videos: int = setting(
        30,
        "uncorrected videos held out for validation at most (corrected ones keep their share): "
        "judging runs the whole pipeline over each, so this bounds a run as the archive grows",
        lo=1,
        hi=1_000_000,
    )
    devices: tuple = setting((), 'devices to train on, e.g. ["/gpu:0", "/gpu:1"]; empty: every GPU')
    precision: str = setting(
        "auto",
        "auto: mixed_float16 on GPU, float32 on CPU",
        choices=("auto", "float32", "mixed_float16", "mixed_bfloat16"),
    )
    keep_versions: int = setting(5, "model versions kept in the registry; the current one always stays", lo=1, hi=1000)


@dataclass(frozen=True)
class ReviewConfig:
    enabled: bool = setting(False, "the service also serves the review page (else: dunkwatch review)")
    listen: str = setting("127.0.0.1:8765", "host:port of the review page; any address but loopback needs the token")
    token: str = setting("", "the review page's access token off loopback; empty: a new one is printed at start")
    share_days: int = setting(
        7, "a share link for a coach works this many days (rotate the share key to end all)", lo=1, hi=365
    )


@dataclass(frozen=True)
class NotifyConfig:
    urls: tuple = setting((), "Apprise URLs to tell the player (ntfy://, tgram://, pover://, mailto://, json://, ...)")
    events: tuple = setting(
        ("session", "quarantine", "model", "disk"),
        "what is told: a session's clips ready, a "
        "video quarantined, a model promoted or kept, a video waiting for disk space",
        choices=("session", "quarantine", "model", "disk"),
    )
    session_quiet: float = setting(
        600.0, "seconds a session must stay unchanged before its one message goes out", lo=0.0, hi=86400.0
    )
    retry_seconds: float = setting(
        60.0, "wait before a failed send is tried again; it doubles, up to an hour", lo=1.0, hi=3600.0
    )


@dataclass(frozen=True)
class SessionsConfig:
    gap: float = setting(
        7200.0, "seconds between two videos that start a new practice session (7200: 2 h)", lo=60.0, hi=7 * 86400.0
    )
    reel: bool = setting(True, "also join every clip of a session, in recording order, into its session reel")


@dataclass(frozen=True)
class Config:
    paths: PathsConfig = field(default_factory=PathsConfig)
    archive: ArchiveConfig = field(default_factory=ArchiveConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    attempts: AttemptsConfig = field(default_factory=AttemptsConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)
    sessions: SessionsConfig = field(default_factory=SessionsConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    source: Path | None = None  # the file it came from, for messages; None for embedded defaults

    @property
    def pipeline(self) -> "PipelineConfig":
        return PipelineConfig(
            self.paths.state_dir,
            self.decode,
            self.score,
            self.motion,
            self.segment,
            self.export,
            self.daemon.min_free_mb,
            self.attempts,
        )

    @property
    def learning(self) -> "LearnConfig":
        return LearnConfig(self.paths, self.training, self.pipeline)


@dataclass(frozen=True)
class PipelineConfig:
    """What one video's pipeline reads: its sections, the state dir and the disk-space floor."""

    state_dir: Path
    decode: DecodeConfig
    score: ScoreConfig
    motion: MotionConfig
    segment: SegmentConfig
    export: ExportConfig
    min_free_mb: float
    attempts: AttemptsConfig = field(default_factory=AttemptsConfig)


@dataclass(frozen=True)
class LearnConfig:
    """What retraining reads: the paths, its section, and the pipeline's (a candidate is judged as it would run)."""

    paths: PathsConfig
    training: TrainingConfig
    pipeline: PipelineConfig


SECTION_TYPES = {
    "paths": PathsConfig,
    "archive": ArchiveConfig,
    "decode": DecodeConfig,
    "score": ScoreConfig,
    "motion": MotionConfig,
    "segment": SegmentConfig,
    "attempts": AttemptsConfig,
    "export": ExportConfig,
    "watch": WatchConfig,
    "daemon": DaemonConfig,
    "training": TrainingConfig,
    "review": ReviewConfig,
    "sessions": SessionsConfig,
    "notify": NotifyConfig,
}


def describe() -> list[tuple[str, Any, str]]:
    """(dotted key, default, description) for every key, in file order: feeds docs and tests."""
    return [
        (f"{section}.{f.name}", f.default, f.metadata["doc"])
        for section, cls in SECTION_TYPES.items()
        for f in dataclasses.fields(cls)
    ]


def from_dict(data: dict[str, Any], base_dir: Path, source: Path | None = None) -> Config:
    """Validate a parsed TOML mapping; relative paths resolve against base_dir."""
    if not isinstance(data, dict):
        raise ConfigError("config: expected a table of sections")
    sections: dict[str, Any] = {}
    for name, values in data.items():
        if name not in SECTION_TYPES:
            raise ConfigError(f"config section [{name}] is unknown; known: {', '.join(SECTION_TYPES)}")
        if not isinstance(values, dict):
            raise ConfigError(f"config key {name} = {values!r}: expected a [{name}] table")
    for name, cls in SECTION_TYPES.items():
        values = dict(data.get(name, {}))
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for key in list(values):
            if f"{name}.{key}" in RETIRED_KEYS:
                log.warning(
                    "config key %s.%s is no longer used and is ignored: %s", name, key, RETIRED_KEYS[f"{name}.{key}"]
                )
                del values[key]
            elif key not in fields:
                raise ConfigError(f"config key {name}.{key} is unknown; known: {', '.join(fields)}")
        kwargs = {}
        for fname, f in fields.items():
            raw = values.get(fname, str(f.default) if isinstance(f.default, Path) else f.default)
            kwargs[fname] = check_value(f"{name}.{fname}", f, raw, base_dir)
        sections[name] = cls(**kwargs)
    cfg = Config(**sections, source=source)
    _check_cross_fields(cfg)
    return cfg


def _check_cross_fields(cfg: Config) -> None:
    parse_listen(cfg.review.listen)
    seg = cfg.segment
    for key in ("threshold_motion", "threshold_cnn"):
        threshold = getattr(seg, key)
        if seg.hysteresis >= threshold:
            raise ConfigError(
                f"config key segment.hysteresis = {seg.hysteresis!r}: must be below segment.{key} ({threshold!r})"
            )
    inbox = cfg.paths.inbox.resolve()
    for key in ("outbox", "archive", "quarantine", "state_dir"):
        other = getattr(cfg.paths, key).resolve()
        if other == inbox or other.is_relative_to(inbox) or inbox.is_relative_to(other):
            raise ConfigError(
                f'config key paths.{key} = "{getattr(cfg.paths, key)}": must not overlap '
                f'paths.inbox ("{cfg.paths.inbox}"), or dunkwatch would read its own output'
            )
    training = cfg.training
    if training.confident_low >= training.confident_high:
        raise ConfigError(
            f"config key training.confident_low = {training.confident_low!r}: "
            f"must be below training.confident_high ({training.confident_high!r})"
        )
    try:
        parse_schedule(training.schedule)
    except ValueError as exc:
        raise ConfigError(f"config key training.schedule = {training.schedule!r}: {exc}") from None
    for url in cfg.notify.urls:
        check_apprise_url(url)
    if cfg.export.mode == "copy" and cfg.export.slow_motion != 1.0:
        raise ConfigError(
            f"config key export.slow_motion = {cfg.export.slow_motion!r}: "
            'slow motion needs export.mode = "smart" or "reencode" (a stream copy cannot change '
            "speed; smart re-encodes a slowed clip whole)"
        )


def load(path: str | Path | None = None) -> Config:
    """Read a config file; None means ./config.toml when present, else the embedded defaults."""
    import toml  # local: keeps `import dunkwatch.config` cheap for pure callers

    if path is None:
        candidate = Path.cwd() / DEFAULT_CONFIG_NAME
        if not candidate.exists():
            return from_dict({}, Path.cwd())
        path = candidate
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    try:
        data = toml.loads(text)
    except toml.TomlDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return from_dict(data, path.resolve().parent, source=path)
