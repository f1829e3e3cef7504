"""The cold-start motion scorer on real footage with ground truth, and on synthetic scenes."""

from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_REAL, WITH_PRIOR, Scene, Visit, encode, shapes_config

from dunkwatch.metrics import frames_to_ranges, match_ranges
from dunkwatch.pipeline.process import analyse
from dunkwatch.pipeline.scoring.motion import MotionScorer


def run_motion(path: Path, **overrides):
    cfg = shapes_config(overrides, path.parent)
    return analyse(path, cfg.pipeline, MotionScorer(cfg.motion, cfg.decode.sample_fps))


def test_real_footage_every_visit_is_one_segment_with_high_frame_f1(real_ground_truth):
    name = "one-by-one-person-detection.mp4"
    truth = real_ground_truth[name]
    result = run_motion(SHARED_REAL / name, **WITH_PRIOR)
    visits = frames_to_ranges(truth["person_frames"], truth["fps"])
    match = match_ranges(
        visits, [(s.start, s.end) for s in result.segments], truth["frames"] / truth["fps"], truth["fps"]
    )
    assert match.f1 >= 0.95, match
    # One segment per visit: all six found, none split, no segment elsewhere.
    assert (match.found, match.split, match.detections) == (6, 0, 6), match


def scene_video(tmp_path: Path, scene: Scene, name="scene.mp4") -> Path:
    return encode(scene.frames(), tmp_path / name, scene.width, scene.height, scene.fps, audio=False)


def covered(segments, a, b) -> float:
    """Share of [a, b) inside detected actions."""
    grid = np.linspace(a, b, 200, endpoint=False)
    inside = np.zeros_like(grid, dtype=bool)
    for s in segments:
        inside |= (grid >= s.start) & (grid < s.end)
    return inside.mean()


def test_a_player_standing_still_stays_in_view(tmp_path):
    # Walks in, then stands still for 20 s of a 40 s video: more still frames than empty ones
    # near the middle, which would fool a background that simply adapts.
    scene = Scene(duration=40, fps=15, visits=[Visit(5, 32, 0.2, 0.7, still_from=8, still_to=29)])
    result = run_motion(scene_video(tmp_path, scene))
    assert len(result.segments) == 1
    seg = result.segments[0]
    assert covered(result.segments, 5.5, 31.5) > 0.97
    assert seg.start == pytest.approx(5, abs=0.5) and seg.end == pytest.approx(32, abs=0.5)


def test_a_player_running_around_one_spot_for_long_stays_in_view(tmp_path):
    # Back and forth over the same stretch of floor for 40 s: every pixel there changes often,
    # which must not be mistaken for leaves in the wind.
    scene = Scene(duration=60, fps=10, visits=[Visit(5, 55, 0.3, 0.55, shuttle=0.7, size=1.5)])
    result = run_motion(scene_video(tmp_path, scene))
    assert len(result.segments) == 1, result.segments
    assert covered(result.segments, 5.5, 54.5) > 0.97


def test_clouds_light_changes_leaves_and_noise_alone_give_no_segments(tmp_path):
    scene = Scene(
        duration=30,
        fps=15,
        noise=6.0,
        cloud=True,
        foliage=True,
        light=lambda t: 1.0 - 0.25 * min(1.0, max(0.0, (t - 10) / 5)),
    )  # dims by 25% over 5 s
    result = run_motion(scene_video(tmp_path, scene))
    assert result.segments == [], result.segments
    assert np.percentile(result.scores, 95) < 0.3


def test_a_player_is_found_under_a_drifting_cloud(tmp_path):
    scene = Scene(duration=30, fps=15, cloud=True, visits=[Visit(12, 18, 0.3, 0.6, color=(60, 60, 160))])
    result = run_motion(scene_video(tmp_path, scene))
    assert len(result.segments) == 1
    assert result.segments[0].start == pytest.approx(12, abs=0.5)
    assert result.segments[0].end == pytest.approx(18, abs=0.5)


def test_leaves_in_the_wind_are_not_a_player_but_a_player_is(tmp_path):
    scene = Scene(duration=30, fps=15, foliage=True, visits=[Visit(12, 18, 0.5, 0.8, color=(60, 60, 160))])
    result = run_motion(scene_video(tmp_path, scene))
    assert len(result.segments) == 1, result.segments
    assert result.segments[0].start == pytest.approx(12, abs=0.5)
    assert result.segments[0].end == pytest.approx(18, abs=0.5)


def test_a_far_away_player_under_a_cloud_is_found(tmp_path):
    # A third of the default figure: 2% of the frame wide, 15% high, as at the far end of a court.
    scene = Scene(
        width=640,
        height=360,
        duration=20,
        fps=15,
        noise=5,
        cloud=True,
        visits=[Visit(6, 12, 0.2, 0.6, color=(90, 70, 60), size=1 / 3)],
    )
    result = run_motion(scene_video(tmp_path, scene))
    assert len(result.segments) == 1, result.segments
    assert covered(result.segments, 6.5, 11.5) > 0.95


def test_sudden_exposure_change_is_not_a_player(tmp_path):
    scene = Scene(duration=20, fps=15, light=lambda t: 1.0 if t < 10 else 1.2)
    assert run_motion(scene_video(tmp_path, scene)).segments == []
    # The control: the same jump with a player arriving after it. A scorer blinded by the jump
    # (or one that never finds anything) fails here.
    scene = Scene(duration=20, fps=15, light=lambda t: 1.0 if t < 10 else 1.2, visits=[Visit(13, 17, 0.2, 0.5)])
    found = run_motion(scene_video(tmp_path, scene, "control.mp4")).segments
    assert len(found) == 1 and covered(found, 13.5, 16.5) > 0.95


def test_a_player_whose_brightness_matches_the_floor_is_found_by_colour(tmp_path):
    # Same brightness as the floor (about 110 on average) but a different hue.
    scene = Scene(duration=20, fps=15, visits=[Visit(6, 12, 0.2, 0.5, color=(70, 150, 110))])
    result = run_motion(scene_video(tmp_path, scene))
    assert len(result.segments) == 1
    assert covered(result.segments, 6.5, 11.5) > 0.95


def test_scores_are_probabilities_and_one_per_frame(tmp_path):
    scene = Scene(duration=6, fps=10, visits=[Visit(2, 4, 0.2, 0.6)])
    result = run_motion(scene_video(tmp_path, scene))
    assert len(result.scores) == len(result.times) == 30
    assert np.all((result.scores >= 0) & (result.scores <= 1))
