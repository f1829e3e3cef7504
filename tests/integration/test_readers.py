"""The PyAV reader against the OpenCV one it replaced (kept as a reference in
tests/helpers/opencv_reader.py): the same segments on the shared real video to within one sample,
and, where non-reference frames are skipped, every sample still within half a sample interval of
its place."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helpers"))
from conftest import REAL_NAME, SHARED_REAL, Scene, Visit, encode
from opencv_reader import OpenCVReader

import dunkwatch.pipeline.process as process  # noqa: E402
from dunkwatch.config import from_dict
from dunkwatch.pipeline.process import analyse
from dunkwatch.pipeline.scoring.decode import VideoReader
from dunkwatch.pipeline.scoring.pyav_decoder import _reference_frames_suffice
from dunkwatch.pipeline.scoring.scorer_choice import motion_scorer


@pytest.mark.slow
def test_segments_on_the_shared_video_move_by_at_most_one_sample_against_opencv(tmp_path, monkeypatch):
    # The readers are under test, not the person detector: motion alone, twice.
    cfg = from_dict({"segment": {"confirm_people": False}}, tmp_path).pipeline
    found = {"pyav": analyse(SHARED_REAL / REAL_NAME, cfg, motion_scorer(cfg, None, person_prior=False)).segments}
    monkeypatch.setattr(process, "VideoReader", OpenCVReader)
    found["opencv"] = analyse(SHARED_REAL / REAL_NAME, cfg, motion_scorer(cfg, None, person_prior=False)).segments
    step = 1.0 / 5.0
    assert len(found["pyav"]) == len(found["opencv"]) >= 5
    for a, b in zip(found["opencv"], found["pyav"]):
        assert abs(a.start - b.start) <= step + 1e-6 and abs(a.end - b.end) <= step + 1e-6


def test_skipping_non_reference_frames_keeps_every_sample_in_its_place(tmp_path):
    scene = Scene(duration=6, fps=30, seed=4, visits=[Visit(2.0, 4.0, 0.3, 0.6)])
    video = encode(
        scene.frames(), tmp_path / "b_frames.mp4", scene.width, scene.height, scene.fps, preset="medium"
    )  # x264's default B-frames: the non-reference ones
    assert _reference_frames_suffice(video, 0.1)
    times = np.array([f.time for f in VideoReader(video, 5.0, max_side=96)])
    grid = np.arange(len(times)) * 0.2
    assert len(times) == 30 and np.all(np.abs(times - grid) <= 0.1 + 1e-6)
    opencv = np.array([f.time for f in OpenCVReader(video, 5.0, max_side=96)])
    assert len(opencv) == len(times)
