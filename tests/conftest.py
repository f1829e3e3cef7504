"""Fixtures: temporary folders and videos the tests make themselves with the shipped ffmpeg."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np
import pytest
import toml

if TYPE_CHECKING:
    from dunkwatch.outputs import Sidecar

REPO = Path(__file__).resolve().parent.parent
SHARED_REAL = REPO.parent / "shared" / "data" / "real"


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(*args: str, stdin: bytes | None = None) -> bytes:
    quiet = ["-hide_banner", "-loglevel", "error", "-y"] + (["-nostdin"] if stdin is None else [])
    proc = subprocess.run([ffmpeg(), *quiet, *args], input=stdin, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


@pytest.fixture(scope="session", autouse=True)
def shared_detector_cache(tmp_path_factory) -> Path:
    """One person-detector cache for the whole run, as systemd's CacheDirectory= gives the service
    ($CACHE_DIRECTORY, inherited by every dunkwatch the tests start). Without it each fresh state
    folder converted and compiled the graph again: 1.5 to 5 s of CPU, about 90 times a run. Made
    whole before the first test, under a lock the xdist workers share, so later processes only
    read it; test_person_cache.py covers a cold cache."""
    import fcntl
    import os
    import sys

    root = tmp_path_factory.getbasetemp()
    folder = (root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / "cache"
    folder.mkdir(exist_ok=True)
    os.environ["CACHE_DIRECTORY"] = str(folder)
    with open(folder / ".warming", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".warm").exists():
            # Twice: the first start converts the graph, the second compiles the converted one into
            # OpenVINO's cache (see person._compiled), the looks' graph and the look-ahead's.
            warm = "from dunkwatch.pipeline.scoring.person import PersonDetector, detector_cache; "
            warm += "d = PersonDetector(cache=detector_cache('unused')); d.ready(); d.inline_twin().ready()"
            for _ in range(2):
                subprocess.run([sys.executable, "-c", warm], check=True, timeout=300)
            (folder / ".warm").touch()
    return folder


def found(pattern: str, text: str, flags: int = 0) -> re.Match[str]:
    """re.search, failing the test (with the pattern) where nothing matches."""
    match = re.search(pattern, text, flags)
    assert match is not None, pattern
    return match


def finished_video(store, paths, i: int, when, shots: tuple = ()) -> int:
    """A processed video in the journal, as the service leaves it (with the sessions' summary and no
    files on disk): IMG_<i>.MOV recorded at `when`, one clip, one action from 5 s to 12 s."""
    from dunkwatch.outputs import ScorerKind, VideoOutputs
    from dunkwatch.store import State

    name = f"IMG_{i:04d}"
    row = store.note_seen(paths.inbox / f"{name}.MOV", 1000, when.timestamp())
    store.mark_stable(row.id, 1000, when.timestamp(), f"{i:064x}")
    outputs = VideoOutputs(
        paths.outbox / name,
        1,
        (f"{name}_01.mp4",),
        None,
        ScorerKind.MOTION,
        None,
        60.0,
        recorded_at=when.isoformat(),
        spans=((5.0, 12.0),),
        shots=shots,
        summarised=True,
    )
    store.finish(row.id, State.DONE, outputs=outputs)
    return int(row.id)


def paths_under(root: Path):
    """The folders of a PathsConfig under `root`, its state folder made."""
    from dunkwatch.config import PathsConfig

    paths = PathsConfig(
        root / "inbox", root / "outbox", root / "archive", root / "quarantine", root / "state", root / "corrections.csv"
    )
    paths.state_dir.mkdir(parents=True)
    return paths


# --- a synthetic fixed-camera scene ---------------------------------------------------------

BALL_COLOUR = (214, 96, 28)


@dataclass
class Visit:
    start: float  # seconds the player is in view
    end: float
    x0: float  # horizontal position (0..1) at start and end
    x1: float
    color: tuple[int, int, int] = (200, 40, 40)
    still_from: float | None = None  # stand still from this time until still_to
    still_to: float | None = None
    size: float = 1.0  # 1.0: 6% of the frame wide and 45% high; smaller is farther away
    shuttle: float = 0.0  # > 0: runs back and forth between x0 and x1, one way in this many s


@dataclass
class Scene:
    width: int = 320
    height: int = 180
    fps: float = 30.0
    duration: float = 10.0
    visits: list[Visit] = field(default_factory=list)
    noise: float = 3.0  # sensor noise, grey levels
    light: Callable[[float], float] = lambda t: 1.0  # global brightness factor over time
    cloud: bool = False  # a soft shadow drifting across the scene
    foliage: bool = False  # a tree in the wind: leaves and sky trade places from frame to frame
    balls: list[tuple[float, float]] = field(default_factory=list)  # an orange ball rolls across during each
    seed: int = 7

    def background(self) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        h, w = self.height, self.width
        img = np.zeros((h, w, 3), np.float32)
        horizon = int(h * 0.45)
        img[:horizon] = (205, 205, 198)  # wall
        rows = np.linspace(0.8, 1.0, h - horizon)[:, None, None]
        img[horizon:] = np.array([170, 110, 60], np.float32) * rows  # wooden floor
        for x in range(0, w, max(4, w // 40)):
            img[horizon:, x] *= 0.85  # floor boards give the motion model texture to deal with
        bx, by = int(w * 0.45), int(h * 0.12)
        img[by : by + h // 6, bx : bx + w // 8] = (240, 240, 240)  # backboard
        img[by + h // 6 : by + h // 6 + 3, bx + w // 32 : bx + w // 12] = (230, 90, 20)  # rim
        img += rng.normal(0, 4, img.shape).astype(np.float32)  # fixed texture
        return img

    def player_box(self, v: Visit, t: float) -> tuple[int, int, int, int]:
        if v.still_from is not None and v.still_from <= t <= (v.still_to or v.end):
            t_eff = v.still_from
        else:
            t_eff = t
        if v.shuttle > 0:
            phase = ((t_eff - v.start) / v.shuttle) % 2.0
            frac = phase if phase <= 1.0 else 2.0 - phase
        else:
            frac = (t_eff - v.start) / max(v.end - v.start, 1e-6)
        cx = (v.x0 + (v.x1 - v.x0) * frac) * self.width
        ph, pw = int(self.height * 0.45 * v.size), max(2, int(self.width * 0.06 * v.size))
        top = int(self.height * 0.4 + self.height * 0.45 * (1 - v.size) / 2)
        return int(cx - pw / 2), top, pw, ph

    def frame(self, t: float, base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        img = base * self.light(t)
        if self.cloud:
            yy, xx = np.mgrid[0 : self.height, 0 : self.width]
            cx = (-0.3 + 1.6 * t / self.duration) * self.width
            spread = ((xx - cx) / (self.width * 0.25)) ** 2 + ((yy - self.height * 0.6) / (self.height * 0.5)) ** 2
            blob = np.exp(-spread)
            img = img * (1.0 - 0.4 * blob)[..., None]
        if self.foliage:
            h, w = self.height // 4, self.width // 4  # top-left corner, in 4x4 pixel leaves
            sky = rng.random((h // 4, w // 4)) < 0.3
            leaves = np.where(
                sky[..., None], np.array([150, 190, 235], np.float32), np.array([50, 110, 40], np.float32)
            )
            img[: h // 4 * 4, : w // 4 * 4] = np.repeat(np.repeat(leaves, 4, axis=0), 4, axis=1)
        for v in self.visits:
            if v.start <= t < v.end:
                x, y, pw, ph = self.player_box(v, t)
                x0, x1 = max(0, x), min(self.width, x + pw)
                img[y : y + ph, x0:x1] = v.color
                hx0, hx1 = max(0, x + pw // 4), min(self.width, x + 3 * pw // 4)
                img[y - pw // 2 : y, hx0:hx1] = (120, 80, 60)  # head
        for a, b in self.balls:
            if a <= t < b:  # moves like a player, is no player: motion alone cuts a clip of it
                yy, xx = np.mgrid[0 : self.height, 0 : self.width]
                cx, cy, r = (0.05 + 0.9 * (t - a) / (b - a)) * self.width, self.height * 0.85, self.width * 0.03
                img[(xx - cx) ** 2 + (yy - cy) ** 2 <= r * r] = BALL_COLOUR
        img = img + rng.normal(0, self.noise, img.shape)
        return np.clip(img, 0, 255).astype(np.uint8)

    def frames(self) -> Iterable[np.ndarray]:
        rng = np.random.default_rng(self.seed + 1)
        base = self.background()
        for i in range(int(round(self.duration * self.fps))):
            yield self.frame(i / self.fps, base, rng)

    def truth(self, t: float) -> bool:
        return any(v.start <= t < v.end for v in self.visits)


def encode(
    frames: Iterable[np.ndarray],
    path: Path,
    width: int,
    height: int,
    fps: float,
    codec: str = "libx264",
    audio: bool = True,
    rotation: int = 0,
    preset: str = "medium",
) -> Path:
    """Encode RGB frames; rotation (clockwise degrees to display) is stored as metadata."""
    raw = b"".join(f.tobytes() for f in frames)
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path if not rotation else path.with_name("stored_" + path.name)
    args = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{fps:g}", "-i", "-"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-shortest"]
    args += ["-c:v", codec, "-preset", preset, "-pix_fmt", "yuv420p", "-g", str(int(fps * 2))]
    if codec == "libx265":
        args += ["-x265-params", "log-level=error", "-tag:v", "hvc1"]
    if audio:
        args += ["-c:a", "aac", "-b:a", "96k"]
    run_ffmpeg(*args, str(target), stdin=raw)
    if rotation:
        # ffmpeg's display rotation is counter-clockwise; phones store clockwise turns.
        run_ffmpeg("-display_rotation", str(-rotation), "-i", str(target), "-c", "copy", str(path))
        target.unlink()
    return path


def upright_marker_frames(
    width: int, height: int, fps: float, duration: float, player: tuple[float, float] | None = None
) -> Iterable[np.ndarray]:
    """Upright content: red top band, blue bottom band; a green block while the player is in view."""
    for i in range(int(round(duration * fps))):
        t = i / fps
        img = np.full((height, width, 3), 128, np.uint8)
        img[: height // 5] = (220, 30, 30)
        img[-height // 5 :] = (30, 30, 220)
        if player and player[0] <= t < player[1]:
            img[height // 3 : 2 * height // 3, width // 4 : 3 * width // 4] = (30, 200, 30)
        yield img


def make_portrait_mov(path: Path, duration: float = 6.0, player=(2.0, 4.0), fps: float = 30.0) -> Path:
    """An iPhone-like portrait HEVC .mov: stored landscape, rotation metadata, AAC audio."""
    w, h = 180, 320  # as displayed
    upright = upright_marker_frames(w, h, fps, duration, player)
    stored = (np.ascontiguousarray(np.rot90(f, k=1)) for f in upright)  # turned left, as the sensor saw it
    return encode(stored, path, h, w, fps, codec="libx265", audio=True, rotation=90)


def displayed_first_frame(path: Path) -> np.ndarray:
    """The first frame as a player shows it (ffmpeg applies the rotation metadata)."""
    from dunkwatch.media import probe

    info = probe(path)
    raw = run_ffmpeg("-i", str(path), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-")
    return np.frombuffer(raw, np.uint8).reshape(info.height, info.width, 3)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    for name in ("inbox", "outbox", "archive", "quarantine", "state"):
        (tmp_path / name).mkdir()
    return tmp_path


# Synthetic scenes draw shapes, not people, so the person detector rightly confirms none of their
# clips (segment.confirm_people, on by default). Its prior (motion.person_prior) costs each process
# 1 to 2 s of CPU and, on most shapes, finds nobody among the frames taken for the empty court.
# Tests of everything else on shapes run without both. Tests on real people (test_person_confirm.py,
# test_person_prior.py) keep the shipped defaults, and WITH_PRIOR keeps the prior where a test needs it.
SHAPES = {"segment": {"confirm_people": False}, "motion": {"person_prior": False}}
# The prior kept where real people are in view: it keeps them out of the empty scene.
WITH_PRIOR = {"motion": {"person_prior": True}}


def with_shapes(data: dict) -> dict:
    """A config mapping for a synthetic scene: SHAPES under what `data` says."""
    return {**data, **{section: {**values, **data.get(section, {})} for section, values in SHAPES.items()}}


# The same, for a config file a test writes by hand.
SHAPES_TOML = toml.dumps(SHAPES)


def write_config(folder: Path, **sections: dict) -> Path:
    """folder/config.toml for a synthetic scene (see SHAPES); keyword sections override defaults."""
    path = folder / "config.toml"
    path.write_text(toml.dumps(with_shapes(sections)), encoding="utf-8")
    return path


def shapes_config(data: dict, base_dir: Path):
    """from_dict for a synthetic scene (see SHAPES)."""
    from dunkwatch.config import from_dict

    return from_dict(with_shapes(data), base_dir)


@pytest.fixture
def config_file(workdir: Path) -> Callable[..., Path]:
    """Write a config.toml into the work folder; keyword sections override defaults. The scenes
    are synthetic, so SHAPES applies unless a test says otherwise itself."""
    return lambda **sections: write_config(workdir, **sections)


@pytest.fixture(scope="session")
def portrait_mov(tmp_path_factory) -> Path:
    return make_portrait_mov(tmp_path_factory.mktemp("media") / "IMG_0001.MOV")


@pytest.fixture(scope="session")
def real_ground_truth() -> dict:
    return json.loads((SHARED_REAL / "ground_truth.json").read_text())


# --- cuts of the shared real footage ---------------------------------------------------------

REAL_NAME = "one-by-one-person-detection.mp4"


def cut_real(path: Path, start: float, end: float | None = None) -> Path:
    """[start, end) s of the shared real video, re-encoded so the cut is frame-accurate."""
    path.parent.mkdir(parents=True, exist_ok=True)
    span = ["-t", f"{end - start:g}"] if end is not None else []
    run_ffmpeg(
        "-ss",
        f"{start:g}",
        "-i",
        str(SHARED_REAL / REAL_NAME),
        *span,
        "-c:v",
        "libx264",
        "-crf",
        "18",
        "-preset",
        "veryfast",
        "-pix_fmt",
        "yuv420p",
        str(path),
    )
    return path


def real_visits(start: float = 0.0, end: float | None = None) -> list[tuple[float, float]]:
    """The ground truth's visits in [start, end) s, in the cut's own time."""
    from dunkwatch.metrics import frames_to_ranges

    truth = json.loads((SHARED_REAL / "ground_truth.json").read_text())[REAL_NAME]
    end = truth["frames"] / truth["fps"] if end is None else end
    return [
        (max(a, start) - start, min(b, end) - start)
        for a, b in frames_to_ranges(truth["person_frames"], truth["fps"])
        if b > start and a < end
    ]


EMPTY_ROOM = (0.0, 5.5)  # the shared video's first seconds: nobody in view yet


def real_frames(start: float, end: float, width: int, height: int) -> np.ndarray:
    """Frames [start, end) s of the shared real video at its 10 fps, scaled to width x height."""
    raw = run_ffmpeg(
        "-ss",
        f"{start:g}",
        "-i",
        str(SHARED_REAL / REAL_NAME),
        "-t",
        f"{end - start:g}",
        "-vf",
        f"scale={width}:{height}",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-",
    )
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def composed_real(
    path: Path,
    parts: list[tuple[float, float] | float],
    rolls: list[tuple[float, float]],
    width: int = 384,
    height: int = 216,
) -> tuple[Path, list[tuple[float, float]]]:
    """A clip of the real room: each part is a (start, end) cut of the shared video, or a number
    of seconds of its empty room (played back and forth); an orange ball rolls across the floor
    during each (from, to) s of the clip, which motion alone takes for a player. Returns the
    clip and its visits in the clip's own time."""
    import cv2

    fps = 10.0
    empty = real_frames(*EMPTY_ROOM, width, height)
    pingpong = np.concatenate([empty, empty[::-1]])
    frames, visits, clock = [], [], 0.0
    for part in parts:
        if isinstance(part, tuple):
            chunk = real_frames(part[0], part[1], width, height)
            visits += [(a + clock, b + clock) for a, b in real_visits(*part)]
        else:
            n = int(round(part * fps))
            chunk = np.concatenate([pingpong] * (n // len(pingpong) + 1))[:n]
        frames.append(chunk)
        clock += len(chunk) / fps
    video = np.concatenate(frames)
    radius = max(3, int(0.025 * width))
    for i, frame in enumerate(video):
        t = i / fps
        for a, b in rolls:
            if a <= t < b:
                x = int((0.05 + 0.9 * (t - a) / (b - a)) * width)
                y = int(height * 0.85 + 0.03 * height * np.sin(3 * t))  # bounces a little on the floor
                cv2.circle(frame, (x, y), radius, (214, 96, 28), -1, cv2.LINE_AA)
                cv2.circle(
                    frame, (x - radius // 3, y - radius // 3), max(1, radius // 3), (240, 150, 80), -1, cv2.LINE_AA
                )
    return encode(video, path, width, height, fps, audio=False, preset="veryfast"), visits


def pytest_collection_modifyitems(items):
    """Slow tests first: with two xdist workers the short ones then fill in beside them, instead
    of one long test running alone at the end."""
    items.sort(key=lambda item: 0 if item.get_closest_marker("slow") else 1)


# --- HDR copies, as an iPhone records them ----------------------------------------------------

HDR_TAGS = {"arib-std-b67": "HLG", "smpte2084": "PQ"}


def make_hdr_copy(
    source: Path,
    path: Path,
    transfer: str = "arib-std-b67",
    rotation: int = 90,
    audio: bool = True,
    preset: str = "ultrafast",
    extra: tuple[str, ...] = (),
) -> Path:
    """`source` as an iPhone records HDR: 10-bit HEVC (hvc1) in .mov, BT.2020 primaries and matrix,
    HLG (or PQ) transfer, made with zscale; stored turned (portrait pixels with a display matrix
    that turns it back `rotation` degrees clockwise), AAC audio."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stored = path.with_name("stored_" + path.name)
    turn = {0: [], 90: ["transpose=2"], 180: ["hflip,vflip"], 270: ["transpose=1"]}[rotation]
    white = ":npl=203" if transfer == "smpte2084" else ""
    # The sources are SDR (BT.709, or untagged): say so, so zscale has a path to HDR.
    vf = ",".join(
        turn
        + [
            f"zscale=tin=bt709:min=bt709:pin=bt709:rin=tv:t={transfer}:m=bt2020nc:p=bt2020:r=tv{white}",
            "format=yuv420p10le",
        ]
    )
    args = ["-i", str(source)]
    if audio:
        args += [
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=44100",
            "-shortest",
            "-map",
            "0:v:0",
            "-map",
            "1:a:0",
            "-c:a",
            "aac",
            "-b:a",
            "96k",
        ]
    args += [
        "-vf",
        vf,
        "-c:v",
        "libx265",
        "-preset",
        preset,
        "-crf",
        "18",  # phone-like quality
        "-x265-params",
        f"log-level=error:colorprim=bt2020:transfer={transfer}:colormatrix=bt2020nc",
        "-color_primaries",
        "bt2020",
        "-color_trc",
        transfer,
        "-colorspace",
        "bt2020nc",
        "-tag:v",
        "hvc1",
        *extra,
        str(stored),
    ]
    run_ffmpeg(*args)
    run_ffmpeg(
        "-display_rotation",
        str(-rotation),
        "-i",
        str(stored),
        "-c",
        "copy",
        "-map_metadata",
        "0",
        "-movflags",
        "use_metadata_tags",
        str(path),
    )
    stored.unlink()
    return path


def variable_rate_copy(source: Path, dest: Path, period: int, dropped: tuple[int, int], *codec: str) -> Path:
    """`source` with frames `dropped` (first, last) of every `period` left out, their neighbours'
    timestamps kept: a phone's variable frame rate (slow motion, or a phone under load)."""
    first, last = dropped
    run_ffmpeg(
        "-i",
        str(source),
        "-vf",
        f"select='not(between(mod(n\\,{period})\\,{first}\\,{last}))'",
        "-fps_mode",
        "vfr",
        *codec,
        str(dest),
    )
    return dest


def bare_sidecar(**fields: object) -> "Sidecar":
    """A sidecar with nothing in it but what `fields` says: for tests of what reads one."""
    from dunkwatch.outputs import ScorerKind, Sidecar

    base: dict[str, object] = {
        "video": "v",
        "sha256": "",
        "duration": 30.0,
        "width": 640,
        "height": 360,
        "rotation": 0,
        "scorer": ScorerKind.MOTION,
        "model": None,
        "sample_fps": 5.0,
        "threshold": 0.5,
        "scenes": (),
        "recorded_at": None,
        "segments": (),
        "clips": (),
        "highlights": None,
        "timeline": None,
    }
    return Sidecar(**{**base, **fields})  # type: ignore[arg-type]  # each field's type is Sidecar's own
