"""Archive retention's plan: which originals go, in what order, and which never do."""

from pathlib import Path

from dunkwatch.config import ArchiveConfig
from dunkwatch.service.retention import DAY, GB, ArchivedOriginal, Kept, plan_retention

NOW = 1_000 * DAY


def original(video_id: int, days_ago: float, gb: float = 1.0) -> ArchivedOriginal:
    return ArchivedOriginal(
        video_id,
        f"IMG_{video_id:04d}.MOV",
        Path(f"/archive/IMG_{video_id:04d}.MOV"),
        int(gb * GB),
        NOW - days_ago * DAY,
    )


def deleted(plan) -> list[int]:
    return [d.original.video_id for d in plan.deletions]


def test_nothing_is_deleted_by_default():
    plan = plan_retention([original(1, 900, 50.0)], {}, ArchiveConfig(), NOW)
    assert deleted(plan) == [] and plan.size == int(50 * GB) and plan.next_deletion is None


def test_originals_older_than_keep_days_go_and_the_next_one_is_named():
    plan = plan_retention([original(1, 40), original(2, 31), original(3, 10)], {}, ArchiveConfig(keep_days=30), NOW)
    assert deleted(plan) == [1, 2] and "keep_days = 30" in plan.deletions[0].reason
    assert plan.next_deletion is not None
    upcoming, when = plan.next_deletion
    assert upcoming.video_id == 3 and when == NOW + 20 * DAY
    assert (plan.originals, plan.size) == (1, int(GB))


def test_max_gb_deletes_the_oldest_first_until_the_rest_fits():
    originals = [original(3, 1, 2.0), original(1, 5, 2.0), original(2, 3, 2.0), original(4, 0, 2.0)]
    plan = plan_retention(originals, {}, ArchiveConfig(max_gb=5.0), NOW)
    assert deleted(plan) == [1, 2] and plan.size == int(4 * GB) and "max_gb = 5 GB" in plan.deletions[0].reason


def test_kept_originals_stay_past_both_limits_and_the_next_oldest_goes_instead():
    originals = [original(1, 60), original(2, 50), original(3, 40), original(4, 35), original(5, 1)]
    kept = {1: Kept.PINNED, 2: Kept.UNTRAINED, 3: Kept.JUDGED}
    plan = plan_retention(originals, kept, ArchiveConfig(keep_days=30, max_gb=3.5), NOW)
    assert deleted(plan) == [4, 5]  # 4 by age; then 5, the only free one left, for max_gb
    assert plan.size == int(3 * GB)  # still over max_gb: the kept ones are never touched
