"""Promotion, splitting, the schedule and the registry: pure rules, no TensorFlow, no video."""

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from dunkwatch.config import from_dict, parse_schedule
from dunkwatch.errors import ConfigError, ModelError
from dunkwatch.learn import registry
from dunkwatch.learn.dataset import LabelledVideo, cap_frames, split_by_video
from dunkwatch.learn.train import balanced_weights, judge, should_promote
from dunkwatch.metrics import runs, segment_recall
from dunkwatch.schedule import crontab_weekdays, make_trigger


def video(sha: str, positives: int, n: int = 20) -> LabelledVideo:
    labels = np.zeros(n, np.float32)
    labels[:positives] = 1
    return LabelledVideo(sha * 64, f"{sha}.mp4", Path(f"/a/{sha}.mp4"), np.arange(n, dtype=float), labels,
                         np.ones(n, np.float32))


def test_validation_is_split_by_whole_video_and_both_sides_see_a_player():
    videos = [video("a", 5), video("b", 0), video("c", 3), video("d", 0)]
    train, val = split_by_video(videos, share=0.5)
    assert {v.sha256 for v in train}.isdisjoint({v.sha256 for v in val})
    assert len(val) == 2 and any(v.positives for v in val) and any(v.positives for v in train)
    assert split_by_video(videos, share=0.5) == (train, val)  # stable from run to run


def test_cap_frames_keeps_corrected_frames_first():
    v = video("a", 10, n=100)
    v.weights[50:60] = 5.0
    capped = cap_frames(v, 30, np.random.default_rng(0))
    assert len(capped.times) == 30 and set(range(50, 60)) <= set(capped.times.astype(int))
    assert capped.positives >= 5


def test_balanced_weights_give_both_classes_the_same_total():
    y = np.array([1, 0, 0, 0, 0, 0], np.float32)
    w = balanced_weights(y, np.ones(6, np.float32))
    assert w[y == 1].sum() == pytest.approx(w[y == 0].sum())


def test_judge_scores_frames_at_the_threshold_and_counts_segments():
    times = np.arange(10, dtype=float)
    labels = np.array([0, 1, 1, 1, 0, 0, 1, 1, 0, 0], np.float32)
    scores = np.array([0, .99, .99, .5, 0, 0, 0, 0, 0, 0], np.float32)  # second visit missed
    m = judge(scores, labels, [10], [times], 1.0, threshold=0.95)
    assert m["precision"] == 1.0 and m["recall"] == pytest.approx(0.4) and m["segment_recall"] == 0.5
    assert m["empty_baseline_accuracy"] == 0.5 and m["frames"] == 10


def test_promotion_rules():
    good = {"f1": 0.8, "accuracy": 0.9, "empty_baseline_accuracy": 0.7, "positives": 5}
    assert should_promote(good, None)[0]
    assert not should_promote({**good, "accuracy": 0.7}, None)[0]  # no better than "empty" everywhere
    assert not should_promote({**good, "positives": 0}, None)[0]
    assert should_promote(good, {"f1": 0.8})[0]  # not lower: promoted
    assert not should_promote(good, {"f1": 0.81})[0]


def test_runs_and_segment_recall():
    mask = np.array([0, 1, 1, 0, 1], bool)
    assert runs(mask, np.arange(5.0), 1.0) == [(1.0, 3.0), (4.0, 5.0)]
    assert segment_recall([(1, 3), (6, 7)], [(2, 2.5)]) == 0.5 and segment_recall([], []) == 1.0


@pytest.mark.parametrize("text", ["0 3 * * *", "*/15 * * * 1-5", "30 2 1 * sun", "every 6h", "every 90s"])
def test_valid_schedules(text):
    parse_schedule(text)
    assert make_trigger(text) is not None


@pytest.mark.parametrize("text", ["nightly", "0 3 * *", "61 3 * * *", "0 25 * * *", "every 6 hours", "every 0s"])
def test_bad_schedules_name_the_key(text, tmp_path):
    with pytest.raises(ConfigError, match="training.schedule"):
        from_dict({"training": {"schedule": text}}, tmp_path)


def test_crontab_sunday_is_not_apschedulers_monday():
    assert crontab_weekdays("0") == "sun" and crontab_weekdays("7") == "sun"
    assert crontab_weekdays("1-5") == "mon-fri" and crontab_weekdays("*/2") == "*/2"
    trigger = make_trigger("0 3 * * 0")
    after = datetime(2026, 11, 23, tzinfo=timezone.utc)  # a Monday
    assert trigger.get_next_fire_time(None, after).strftime("%a") == "Sun"


def test_registry_keeps_the_last_n_versions_and_never_the_current_one_away(tmp_path):
    for _ in range(4):
        registry.add_version(tmp_path, lambda p: p.write_bytes(b"m"), {"f1": 0.5})
    registry.set_current(tmp_path, "v0001")  # rolled back to the oldest
    assert registry.prune(tmp_path, keep=2) == ["v0002"]
    assert registry.versions(tmp_path) == ["v0001", "v0003", "v0004"]
    assert registry.current_version(tmp_path) == "v0001"
    with pytest.raises(ModelError, match="v0002 is not in the registry"):
        registry.set_current(tmp_path, "v0002")
    assert not [p for p in (tmp_path / "models").iterdir() if p.name.startswith(".")]


def test_models_lists_versions_and_use_rolls_back(tmp_path, capsys):
    from dunkwatch import cli

    (tmp_path / "config.toml").write_text('[paths]\nstate_dir = "state"\n')
    state = tmp_path / "state"
    for f1 in (0.7, 0.9):
        version = registry.add_version(state, lambda p: p.write_bytes(b"m"),
                                       {"metrics": {"f1": f1, "precision": 1.0, "recall": f1, "segment_recall": 1.0,
                                                    "frames": 40}, "created": "2026-11-28T03:00:00+0000"})
        registry.set_current(state, version)
    config = str(tmp_path / "config.toml")
    assert cli.main(["models", "--config", config]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[1].startswith("  v0001") and listing[2].startswith("* v0002") and "0.900" in listing[2]
    assert cli.main(["models", "use", "v0001", "--config", config]) == 0
    assert registry.current_version(state) == "v0001"
    assert cli.main(["models", "use", "v0009", "--config", config]) == 2
    assert "v0009 is not in the registry" in capsys.readouterr().err
