import pytest

from dunkwatch.metrics import frames_to_ranges, match_ranges


def test_perfect_match():
    m = match_ranges([(2, 5)], [(2, 5)], 10, 10)
    assert (m.precision, m.recall, m.f1, m.found, m.split) == (1.0, 1.0, 1.0, 1, 0)


def test_boundary_frames_are_left_out_and_misses_count():
    # Off by 0.4 s at both ends: inside the 0.5 s margin, so still perfect.
    assert match_ranges([(2, 5)], [(2.4, 4.6)], 10, 10).f1 == 1.0
    m = match_ranges([(2, 5), (7, 9)], [(2, 5)], 10, 10)
    # 21 + 11 frames kept outside the margins; the one detection is all true.
    assert m.found == 1 and m.recall == pytest.approx(21 / 32) and m.precision == 1.0


def test_split_and_false_detections():
    m = match_ranges([(1, 6)], [(1, 3), (4, 6), (8, 9)], 10, 10)
    assert (m.found, m.split, m.detections) == (1, 1, 3)
    assert m.precision < 1.0


def test_inclusive_frames_to_seconds():
    assert frames_to_ranges([[60, 199]], 10) == [(6.0, 20.0)]


def test_nothing_to_find_and_nothing_found_is_perfect_for_tests_and_promotion_alike():
    from dunkwatch.learn.promotion import JudgedVideo, figures

    empty = match_ranges([], [], 10, 10)
    assert (empty.precision, empty.recall, empty.f1) == (1.0, 1.0, 1.0)
    judged = figures([JudgedVideo("a", 10.0, (), (), True)])
    assert (judged.precision, judged.recall, judged.f1) == (empty.precision, empty.recall, empty.f1)
    false_alarm = match_ranges([], [(2, 4)], 10, 10)
    assert (false_alarm.precision, false_alarm.f1) == (0.0, 0.0)
