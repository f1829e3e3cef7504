"""Promotion, splitting, the schedule and the registry: pure rules, no TensorFlow, no video."""

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from dunkwatch.config import from_dict, parse_schedule
from dunkwatch.errors import ConfigError, ModelError
from dunkwatch.learn.corrections import Correction
from dunkwatch.learn.dataset import LabelledVideo, cap_frames, split_by_video
from dunkwatch.learn.decision import within_frame_cap
from dunkwatch.learn.fit import balanced_weights
from dunkwatch.learn.promotion import JudgedVideo, decide, figures, truth_ranges
from dunkwatch.metrics import runs
from dunkwatch.models import registry
from dunkwatch.service.schedule import crontab_weekdays, make_trigger


def video(sha: str, positives: int, n: int = 20, corrected: bool = False) -> LabelledVideo:
    labels = np.zeros(n, np.float32)
    labels[:positives] = 1
    return LabelledVideo(
        sha * 64,
        f"{sha}.mp4",
        Path(f"/a/{sha}.mp4"),
        np.arange(n, dtype=float),
        labels,
        np.ones(n, np.float32),
        corrected,
    )


def test_validation_is_split_by_whole_video_and_both_sides_see_a_player():
    videos = [video("a", 5), video("b", 0), video("c", 3), video("d", 0)]
    train, val = split_by_video(videos, share=0.5)
    assert {v.sha256 for v in train}.isdisjoint({v.sha256 for v in val})
    assert len(val) == 2 and any(v.positives for v in val) and any(v.positives for v in train)
    assert split_by_video(videos, share=0.5) == (train, val)  # stable from run to run


@pytest.mark.parametrize("seed", range(6))
def test_corrected_videos_fall_on_both_sides_of_the_split(seed):
    names = [chr(ord("a") + (seed + k) % 8) for k in range(8)]
    videos = [video(n, 5 if k % 2 else 0, corrected=k in (1, 6)) for k, n in enumerate(names)]
    train, val = split_by_video(videos, share=0.25)
    assert any(v.corrected for v in train) and any(v.corrected for v in val)
    assert any(v.positives for v in train) and any(v.positives for v in val)
    lone = [video(n, 5, corrected=k == 3) for k, n in enumerate(names[:4])]
    train, val = split_by_video(lone, share=0.25)
    assert [v.corrected for v in val] == [True]  # judged on, and the reason says to correct a second


def month_of_videos(n: int = 600) -> list[LabelledVideo]:
    """n videos, every third with a player, every 50th corrected: a month's archive."""
    return [video(f"{k:05d}", 5 if k % 3 == 0 else 0, corrected=k % 50 == 0) for k in range(n)]


def test_a_large_archive_holds_out_at_most_max_uncorrected_and_the_corrected_keep_their_share():
    videos = month_of_videos()
    free_train, free_val = split_by_video(videos, share=0.25)
    assert len(free_val) == 150  # a quarter: each judged by running the whole pipeline over it
    train, val = split_by_video(videos, share=0.25, max_uncorrected=30)
    assert sum(not v.corrected for v in val) == 30
    assert [v.sha256 for v in val if v.corrected] == [v.sha256 for v in free_val if v.corrected]
    assert any(v.positives for v in val) and any(v.positives for v in train) and any(v.corrected for v in train)
    assert sorted(v.sha256 for v in train + val) == sorted(v.sha256 for v in videos)
    assert not {v.sha256 for v in train} & {v.sha256 for v in val}
    few = month_of_videos(40)  # below the bound the split is what it always was
    assert split_by_video(few, share=0.25, max_uncorrected=30) == split_by_video(few, share=0.25)


def test_a_large_archive_trains_on_every_corrected_video_and_as_many_others_as_max_frames_allows():
    train, _ = split_by_video(month_of_videos(), share=0.25, max_uncorrected=30)
    kept = within_frame_cap(train, 40)  # max_frames 400 at 10 frames a video
    assert len(kept) == 40 and {v.sha256 for v in train if v.corrected} <= {v.sha256 for v in kept}
    assert any(v.positives for v in kept)
    assert kept == [v for v in train if v in kept]  # the split's stable order
    assert within_frame_cap(train[:30], 40) == train[:30]


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


def test_runs():
    mask = np.array([0, 1, 1, 0, 1], bool)
    assert runs(mask, np.arange(5.0), 1.0) == [(1.0, 3.0), (4.0, 5.0)]


def correction(start, end, positive, row=2):
    return Correction(row, "a" * 64, "a.mp4", start, end, positive)


def test_truth_is_the_prediction_with_corrections_painted_over_it():
    predicted = [(10.0, 20.0), (30.0, 35.0)]
    fixes = [correction(30, 35, False), correction(50, 55, True, row=3), correction(12, 14, False, row=4)]
    assert truth_ranges(60.0, predicted, fixes) == ((10.0, 12.0), (14.0, 20.0), (50.0, 55.0))
    assert truth_ranges(60.0, predicted, []) == ((10.0, 20.0), (30.0, 35.0))


def judged(truth, detected, corrected=True, duration=60.0, roll=None):
    clips = tuple((max(0.0, a - roll[0]), b + roll[1]) for a, b in detected) if roll else None
    return JudgedVideo("a.mp4", duration, tuple(truth), tuple(detected), corrected, clips)


def test_promotion_is_judged_on_what_the_player_sees_not_on_frames_inside_the_roll():
    """Issue 32's refused model: every visit found, motion's only false clip gone, a few samples
    lost at the visits' edges, which the pre- and post-roll (1 s, 1.5 s) hold anyway."""
    truth, roll = [(10, 20), (40, 45)], (1.0, 1.5)
    motion = figures([judged(truth, [(10, 20), (30, 32), (40, 45)], roll=roll)])
    trimmed = figures([judged(truth, [(10.8, 19.2), (40.8, 44.2)], roll=roll)])
    assert trimmed.recall < motion.recall  # frame recall alone would refuse it ...
    promote, reason = decide(trimmed, motion, "motion", any_corrected=True)
    assert promote and "0 false clips, not 1" in reason  # ... the player takes it
    lost = figures([judged(truth, [(10.8, 19.2)], roll=roll)])
    assert not decide(lost, motion, "motion", any_corrected=True)[0]  # an event lost
    extra = figures([judged(truth, [(10, 20), (30, 32), (40, 45), (50, 52)], roll=roll)])
    assert not decide(extra, motion, "motion", any_corrected=True)[0]  # a false clip added
    cut_short = figures([judged(truth, [(13, 20), (40, 45)], roll=roll)])  # 2 s of a visit outside its clip
    promote, reason = decide(cut_short, motion, "motion", any_corrected=True)
    assert not promote and "of event time" in reason


def test_figures_count_frames_events_and_false_segments():
    f = figures([judged([(10, 20), (40, 45)], [(10, 20), (30, 32)])])
    assert (f.events_found, f.events, f.false_segments) == (1, 2, 1)
    assert f.precision < 1.0 and f.recall < 1.0
    perfect = figures([judged([(10, 20)], [(10.2, 19.8)])])  # within the boundary frames left out
    assert (perfect.precision, perfect.recall, perfect.f1) == (1.0, 1.0, 1.0)


def test_promotion_needs_no_worse_on_every_figure_and_better_on_one_where_corrected():
    # The user marked the motion model's clip at 30-32 s (a ball) as empty.
    truth = [(10, 20), (40, 45)]
    motion = figures([judged(truth, [(10, 20), (30, 32), (40, 45)])])
    fixed = figures([judged(truth, [(10, 20), (40, 45)])])
    worse = figures([judged(truth, [(10, 20)])])  # lost a visit along with the ball
    same = figures([judged(truth, [(10, 20), (30, 32), (40, 45)])])
    assert decide(fixed, motion, "motion", any_corrected=True)[0]
    promote, reason = decide(worse, motion, "motion", any_corrected=True)
    assert not promote and "worse than motion" in reason and "1 of 2 events" in reason
    assert not decide(same, motion, "motion", any_corrected=True)[0]  # better on nothing
    promote, reason = decide(fixed, motion, "motion", any_corrected=False)
    assert not promote and "no validation video has corrections" in reason
    # One boundary sample more or less is no reason to replace anything.
    nudged = figures([judged(truth, [(10, 20.6), (30, 32), (40, 45)])])
    assert not decide(nudged, motion, "motion", any_corrected=True)[0]


@pytest.mark.parametrize(
    "text, after, expected",
    [
        ("0 3 * * *", "2026-01-05 10:07", "2026-01-06 03:00"),  # a Monday morning: tomorrow at 03:00
        ("*/15 * * * 1-5", "2026-01-05 10:07", "2026-01-05 10:15"),
        ("*/15 * * * 1-5", "2026-01-10 10:07", "2026-01-12 00:00"),  # Saturday: Monday's first quarter
        ("30 2 * * sun", "2026-01-05 10:07", "2026-01-11 02:30"),
        ("0 4 * * 0", "2026-01-05 10:07", "2026-01-11 04:00"),  # crontab's 0 is Sunday, not Monday
        # Day of month and weekday both restricted: either runs it, as in cron(8), not both at once.
        ("0 3 1 * sun", "2026-03-30 10:07", "2026-04-01 03:00"),  # the 1st, a Wednesday
        ("0 3 1 * sun", "2026-04-02 10:07", "2026-04-05 03:00"),  # a Sunday
        ("0 3 */2 * mon", "2026-01-05 10:07", "2026-01-19 03:00"),  # "*/2" counts as unrestricted: both
    ],
)
def test_valid_crontab_schedules_fire_when_cron_would(text, after, expected):
    from datetime import datetime, timezone

    def at(stamp: str) -> datetime:
        return datetime.strptime(stamp, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc)

    assert make_trigger(text, timezone.utc).get_next_fire_time(None, at(after)) == at(expected)


@pytest.mark.parametrize("text, seconds", [("every 6h", 6 * 3600), ("every 90s", 90), ("every 2m", 120)])
def test_valid_interval_schedules(text, seconds):
    assert parse_schedule(text) == ("interval", seconds)
    assert make_trigger(text).interval.total_seconds() == seconds


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
        figures_ = {
            "f1": f1,
            "precision": 1.0,
            "recall": f1,
            "events_found": 2,
            "events": 2,
            "false_segments": 0,
            "frames": 40,
            "videos": 1,
        }
        version = registry.add_version(
            state,
            lambda p: p.write_bytes(b"m"),
            {
                "metrics": figures_,
                "created": "2026-11-28T03:00:00+0000",
                "baseline": {"name": "motion", "metrics": {**figures_, "f1": 0.615, "false_segments": 3}},
            },
        )
        registry.set_current(state, version)
    config = str(tmp_path / "config.toml")
    assert cli.main(["models", "--config", config]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[1].startswith("  v0001") and listing[2].startswith("* v0002") and "0.900" in listing[2]
    assert "replaced: motion" in listing[2] and "0.615" in listing[2]  # the baseline beside it
    assert cli.main(["models", "use", "v0001", "--config", config]) == 0
    assert registry.current_version(state) == "v0001"
    assert cli.main(["models", "use", "v0009", "--config", config]) == 2
    assert "v0009 is not in the registry" in capsys.readouterr().err


def test_check_prints_the_next_three_runs_as_cron_reads_the_line(tmp_path, capsys):
    from datetime import timedelta

    from dunkwatch.cli import main

    (tmp_path / "config.toml").write_text('[training]\nschedule = "0 3 1 * sun"\n', encoding="utf-8")
    now = datetime.now().astimezone()
    assert main(["check", "--config", str(tmp_path / "config.toml")]) == 0
    days = (now.replace(hour=3, minute=0, second=0, microsecond=0) + timedelta(days=d) for d in range(60))
    expected = [d for d in days if d > now and (d.day == 1 or d.weekday() == 6)][:3]
    said = capsys.readouterr().out
    assert f"next runs {', '.join(d.strftime('%Y-%m-%d %H:%M') for d in expected)} (local time)" in said
