"""The empty scene's pairwise comparisons are worked out only when a window needs them, each
update's rows on that update's tolerance: the same matrix as working them out at every update."""

import numpy as np

from dunkwatch.pipeline.scoring import empty_scene
from dunkwatch.pipeline.scoring.courts import RememberedScene
from dunkwatch.pipeline.scoring.empty_scene import EmptySceneModel


def _frames(count: int, seed: int = 3) -> list[np.ndarray]:
    """A court with restless corner pixels (so the tolerance changes from update to update) and a
    player who comes and goes."""
    rng = np.random.default_rng(seed)
    court = rng.integers(60, 200, (54, 96, 3)).astype(np.uint8)
    frames = []
    for k in range(count):
        frame = court.copy()
        # A screen flickering harder and harder: each update learns another tolerance there.
        frame[:24, :40] = np.clip(128 + (4 + 3 * k) * rng.choice([-1, 1], (24, 40, 1)), 0, 255)
        if (k // 7) % 2:
            x = 10 + 3 * (k % 7)
            frame[20:45, x : x + 12] = (30, 40, 160)
        frames.append(frame)
    return frames


class _AtOnce(EmptySceneModel):
    """Works out each update's rows in that update, as the model did before it waited."""

    def _update(self) -> None:
        super()._update()
        self._pairwise()


def _drive(model: EmptySceneModel, frames: list[np.ndarray]) -> EmptySceneModel:
    """Candidates in, and every 6 the oldest dropped, as MotionScorer drives it, but with nobody
    asking for the background (as when a remembered court decides it)."""
    for k, frame in enumerate(frames):
        model.add(k, frame)
        if k % 6 == 5:
            model.drop_before(k - 12)
    return model


def test_rows_worked_out_late_equal_rows_worked_out_at_once():
    frames = _frames(30)
    late = _drive(EmptySceneModel(0.01, window_frames=20), frames)
    eager = _drive(_AtOnce(0.01, window_frames=20), frames)
    assert len({id(tolerance) for _, _, tolerance in late._unworked}) >= 2  # waiting, from several updates
    assert eager._unworked == []
    assert len(late.index) == len(eager.index) > 12
    np.testing.assert_array_equal(late._pairwise(), eager._pairwise())
    assert not np.isnan(late._pairwise()).any()


def test_a_remembered_court_decides_without_comparing_candidates_pairwise(monkeypatch):
    frames = _frames(12)
    court = RememberedScene("court", np.stack([frames[0], frames[1]]))
    compared: list[int] = []
    real = empty_scene.share_changed

    def counted(ref: np.ndarray, others: np.ndarray, tolerance: np.ndarray) -> np.ndarray:
        compared.append(len(others))
        return real(ref, others, tolerance)

    monkeypatch.setattr(empty_scene, "share_changed", counted)
    model = EmptySceneModel(0.01, remembered=[court], window_frames=12)
    for k, frame in enumerate(frames):
        model.add(k, frame)
    assert model.background() is not None
    assert compared == []  # courts.py matched the remembered court with its own comparisons
    forgetful = EmptySceneModel(0.01, window_frames=12)
    for k, frame in enumerate(frames):
        forgetful.add(k, frame)
    assert forgetful.background() is not None
    assert compared == [12] * 12  # without one, every candidate against all the others
