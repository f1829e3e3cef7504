"""A session reel of mixed clips grows by re-encoding the new clip alone: each clip is fitted to
the reel once, into a parts folder, and the reel is joined from the parts by stream copy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import encode

from dunkwatch.media import probe
from dunkwatch.pipeline.cutting import export
from dunkwatch.pipeline.cutting.export import join_session


def clip(path: Path, width: int, height: int, seconds: float, shade: int, audio: bool = True) -> Path:
    frames = (np.full((height, width, 3), (shade + 3 * i) % 256, np.uint8) for i in range(round(seconds * 30)))
    return encode(frames, path, width, height, 30, audio=audio, preset="veryfast")


def frame_count(path: Path) -> int:
    import av

    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> list[Path]:
    """Landscape, portrait (another size: never joinable with the first) and a silent clip."""
    folder = tmp_path_factory.mktemp("clips")
    return [
        clip(folder / "a.mp4", 160, 96, 1.0, 40),
        clip(folder / "b.mp4", 96, 160, 1.5, 120),
        clip(folder / "c.mp4", 160, 96, 0.5, 200, audio=False),
    ]


def test_a_growing_mixed_session_fits_each_clip_once_and_drops_parts_it_no_longer_needs(mixed, tmp_path, monkeypatch):
    parts, reel = tmp_path / "parts", tmp_path / "reel.mp4"
    encoded: list[str] = []  # what ffmpeg wrote: parts and reels
    real_run = export._run_ffmpeg

    def counted(args, target, *rest, **kwargs):
        encoded.append(target.name)
        return real_run(args, target, *rest, **kwargs)

    monkeypatch.setattr(export, "_run_ffmpeg", counted)

    join_session(mixed[:2], reel, parts=parts)
    assert frame_count(reel) == 30 + 45 and probe(reel).has_audio
    assert (probe(reel).width, probe(reel).height) == (160, 96)  # the first clip's size, the portrait letterboxed
    made = {p.name: p.stat().st_mtime_ns for p in parts.glob("*.mp4")}
    assert len(made) == 2

    encoded.clear()
    join_session(mixed, reel, parts=parts)  # a third clip synced later
    assert frame_count(reel) == 30 + 45 + 15
    assert probe(reel).duration == pytest.approx(3.0, abs=0.1)
    now = {p.name: p.stat().st_mtime_ns for p in parts.glob("*.mp4")}
    assert len(now) == 3 and all(now[name] == mtime for name, mtime in made.items())  # the first two not made again
    assert encoded == [next(n for n in now if n.startswith("c-")), "reel.mp4"]  # the new clip's part, then the join

    join_session([mixed[1], mixed[2]], reel, parts=parts)  # the first clip left the session
    assert len(list(parts.glob("*.mp4"))) == 2  # its part is gone; a new first size refits the others
    assert (probe(reel).width, probe(reel).height) == (96, 160) and frame_count(reel) == 45 + 15


def test_a_reel_of_clips_alike_is_joined_as_they_are_and_leaves_no_parts(mixed, tmp_path):
    parts, reel = tmp_path / "parts", tmp_path / "reel.mp4"
    join_session(mixed[:2], reel, parts=parts)
    assert list(parts.glob("*.mp4"))
    join_session([mixed[0], mixed[0]], reel, parts=parts)  # alike: a stream copy, nothing to fit
    assert not list(parts.glob("*.mp4")) and frame_count(reel) == 60
