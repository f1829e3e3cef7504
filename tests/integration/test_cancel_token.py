"""A video given up half-way through its cancel token: while frames are scored, or while clips are
written. Nothing that looks finished is left, and the progress callback only reports."""

from __future__ import annotations

import pytest
from conftest import Scene, Visit, encode, shapes_config

from dunkwatch.pipeline.cancel import Cancelled, CancelToken
from dunkwatch.pipeline.process import process_video
from dunkwatch.pipeline.scoring.scorer_choice import motion_scorer


@pytest.fixture(scope="module")
def visit(tmp_path_factory):
    scene = Scene(duration=6, fps=10, seed=5, visits=[Visit(2.0, 4.0, 0.3, 0.6)])
    return encode(
        scene.frames(),
        tmp_path_factory.mktemp("cancel") / "IMG_0400.MOV",
        scene.width,
        scene.height,
        scene.fps,
        preset="veryfast",
    )


def finished_files(outbox):
    return sorted(p.name for p in outbox.rglob("*") if p.is_file() and not p.name.startswith("."))


def test_a_token_set_while_frames_are_scored_stops_the_video_before_any_output(visit, tmp_path):
    cfg = shapes_config({"paths": {"state_dir": str(tmp_path / "state")}}, tmp_path)
    reports: list[float] = []
    token = CancelToken(lambda: len(reports) >= 5)  # given up after five frames
    with pytest.raises(Cancelled):
        process_video(
            visit,
            cfg.pipeline,
            motion_scorer(cfg.pipeline, None),
            tmp_path / "outbox",
            progress=reports.append,
            cancel=token,
        )
    assert len(reports) == 5 and finished_files(tmp_path / "outbox") == []


def test_a_token_set_while_clips_are_written_leaves_no_sidecar_and_no_whole_looking_clip(visit, tmp_path):
    cfg = shapes_config({"paths": {"state_dir": str(tmp_path / "state")}}, tmp_path)
    outbox = tmp_path / "outbox"
    token = CancelToken(lambda: outbox.is_dir())  # given up once the outputs' folder exists
    with pytest.raises(Cancelled):
        process_video(visit, cfg.pipeline, motion_scorer(cfg.pipeline, None), outbox, cancel=token)
    assert finished_files(outbox) == []
    # The same video, not given up: its clip and sidecar.
    done = process_video(
        visit, cfg.pipeline, motion_scorer(cfg.pipeline, None), tmp_path / "again", cancel=CancelToken(lambda: False)
    )
    assert len(done.sidecar.clips) == 1 and "IMG_0400.json" in finished_files(tmp_path / "again")
