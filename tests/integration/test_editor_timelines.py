"""Editor timelines: every written file read back through OpenTimelineIO, each clip's range the
sidecar's segment to the frame, on a 30 fps file and on a variable-frame-rate one; the clips point
at the archived original."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import opentimelineio as otio
import pytest
from conftest import SHAPES_TOML, Scene, Visit, encode, variable_rate_copy

from dunkwatch.config import load
from dunkwatch.outputs import Sidecar
from dunkwatch.pipeline.cutting.editor_timelines import editor_rate, timecode_rate
from dunkwatch.service.daemon import Daemon

READERS: dict[str, tuple[str, dict[str, Any] | None]] = {
    ".otio": ("otio_json", {}),
    ".fcpxml": ("fcpx_xml", {}),
    ".xml": ("fcp_xml", {}),
    ".edl": ("cmx_3600", None),
}


def read_back(folder: Path, stem: str, rate: float) -> dict[str, list]:
    clips = {}
    for suffix, (adapter, extra) in READERS.items():
        options = {"rate": timecode_rate(rate)} if extra is None else extra  # an EDL does not say its rate
        timeline = otio.adapters.read_from_file(str(folder / f"{stem}{suffix}"), adapter_name=adapter, **options)
        clips[suffix] = list(timeline.find_clips())
    return clips


def assert_cut_to_the_frame(clips: dict[str, list], sidecar: Sidecar, rate: float, original: Path) -> None:
    for suffix, found in clips.items():
        frame = 1.0 / (rate if suffix == ".otio" else timecode_rate(rate))  # editors count in standard rates
        assert len(found) == len(sidecar.segments), suffix
        for clip, segment in zip(found, sidecar.segments):
            start = clip.source_range.start_time.to_seconds()
            end = start + clip.source_range.duration.to_seconds()
            assert start == pytest.approx(segment.clip_start, abs=frame / 2 + 1e-6), suffix
            assert end == pytest.approx(segment.clip_end, abs=frame / 2 + 1e-6), suffix
            if suffix != ".edl":  # an EDL keeps a reel name and a comment, not a path
                assert clip.media_reference.target_url == original.resolve().as_uri(), suffix


@pytest.mark.slow
def test_timelines_of_a_30_fps_video_and_its_session_match_the_sidecar_and_point_at_the_archive(workdir, config_file):
    scene = Scene(duration=12, fps=30, seed=5, visits=[Visit(2.0, 4.0, 0.2, 0.5), Visit(7.5, 9.5, 0.6, 0.3)])
    encode(scene.frames(), workdir / "inbox" / "IMG_0030.MOV", scene.width, scene.height, scene.fps, preset="veryfast")
    cfg = load(config_file(watch={"stable_seconds": 0.2}))
    assert Daemon(cfg, once=True).run() == 0
    folder = cfg.paths.outbox / "IMG_0030"
    sidecar = Sidecar.read(folder / "IMG_0030.json")
    assert sidecar is not None
    assert len(sidecar.segments) == 2 and sidecar.fps == pytest.approx(30.0)
    archived = cfg.paths.archive / "IMG_0030.MOV"
    assert archived.is_file()
    assert_cut_to_the_frame(read_back(folder, "IMG_0030", 30.0), sidecar, 30.0, archived)
    (session,) = (cfg.paths.outbox / "sessions").iterdir()
    assert_cut_to_the_frame(read_back(session, session.name, 30.0), sidecar, 30.0, archived)


def test_a_variable_frame_rate_video_is_cut_to_the_frame_at_its_own_rate(tmp_path):
    import subprocess
    import sys

    from conftest import REPO

    scene = Scene(duration=10, fps=30, seed=8, visits=[Visit(3.0, 6.0, 0.3, 0.6)])
    cfr = encode(scene.frames(), tmp_path / "cfr.mp4", scene.width, scene.height, scene.fps, preset="ultrafast")
    vfr = tmp_path / "IMG_0031.MOV"  # frames dropped in runs, timestamps kept: a phone under load
    variable_rate_copy(cfr, vfr, 37, (10, 16), "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "copy")
    (tmp_path / "config.toml").write_text('[score]\nscorer = "motion"\n[export]\ntimeline = false\n' + SHAPES_TOML)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dunkwatch",
            "process",
            str(vfr),
            "--config",
            str(tmp_path / "config.toml"),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    folder = tmp_path / "out" / "IMG_0031"
    sidecar = Sidecar.read(folder / "IMG_0031.json")
    assert sidecar is not None
    rate = editor_rate(sidecar.fps)
    assert sidecar.segments and rate > 0
    assert_cut_to_the_frame(read_back(folder, "IMG_0031", rate), sidecar, rate, vfr)
