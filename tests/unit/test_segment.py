"""segment is pure: these tests need no video and no TensorFlow."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dunkwatch.pipeline.scoring.segment import SegmentParams, find_segments, smooth_scores

FPS = 10.0


def series(duration, on_ranges, fps=FPS, high=0.99, low=0.01):
    times = np.arange(0, duration, 1 / fps)
    scores = np.full_like(times, low)
    for a, b in on_ranges:
        scores[(times >= a) & (times < b)] = high
    return times, scores


def params(**kw):
    base = dict(threshold=0.5, hysteresis=0.2, smooth=0.0, merge_gap=1.5, min_segment=0.8, pre_roll=1.0, post_roll=1.5)
    base.update(kw)
    return SegmentParams(**base)


def test_one_block_gives_one_padded_segment():
    times, scores = series(20, [(5, 9)])
    (seg,) = find_segments(times, scores, 20, params())
    assert seg.start == pytest.approx(5, abs=0.11)
    assert seg.end == pytest.approx(9, abs=0.11)
    assert seg.clip_start == pytest.approx(4, abs=0.11)
    assert seg.clip_end == pytest.approx(10.5, abs=0.11)
    assert seg.peak == pytest.approx(0.99)


def test_hysteresis_keeps_a_segment_through_a_dip_above_the_release_level():
    times, scores = series(20, [(5, 12)])
    scores[(times >= 7) & (times < 9)] = 0.35  # below 0.5 but above 0.5 - 0.2
    assert len(find_segments(times, scores, 20, params(merge_gap=0))) == 1
    assert len(find_segments(times, scores, 20, params(merge_gap=0, hysteresis=0.0))) == 2


def test_smoothing_removes_a_single_frame_spike():
    times, scores = series(20, [])
    scores[50] = 1.0
    assert find_segments(times, scores, 20, params(min_segment=0, smooth=0.6)) == []
    assert len(find_segments(times, scores, 20, params(min_segment=0, smooth=0))) == 1


def test_smoothing_is_a_running_median_in_seconds():
    times = np.array([0.0, 0.1, 0.2, 0.3, 0.4])
    out = smooth_scores(times, np.array([0.0, 0.0, 1.0, 0.0, 0.0]), 0.3)
    assert out.tolist() == [0.0, 0.0, 0.0, 0.0, 0.0]


def test_merge_gap_bridges_a_short_step_out_only():
    times, scores = series(30, [(5, 9), (10, 14)])
    assert len(find_segments(times, scores, 30, params(merge_gap=1.5))) == 1
    times, scores = series(30, [(5, 9), (12, 16)])
    assert len(find_segments(times, scores, 30, params(merge_gap=1.5))) == 2


def test_min_segment_drops_short_blips():
    times, scores = series(20, [(5, 5.5), (10, 14)])
    segs = find_segments(times, scores, 20, params(min_segment=0.8))
    assert [round(s.start) for s in segs] == [10]


def test_padding_is_clamped_to_the_video():
    times, scores = series(10, [(0, 2), (8.5, 10)])
    segs = find_segments(times, scores, 10, params(pre_roll=3, post_roll=3))
    assert segs[0].clip_start == 0.0
    assert segs[-1].clip_end == 10.0


def test_overlapping_padding_meets_halfway_and_keeps_both_actions():
    times, scores = series(30, [(5, 9), (11, 15)])
    a, b = find_segments(times, scores, 30, params(merge_gap=1.5, pre_roll=2, post_roll=2))
    assert a.clip_end == b.clip_start == pytest.approx(10, abs=0.11)
    assert a.end < a.clip_end and b.clip_start < b.start


def test_empty_input_and_length_mismatch():
    assert find_segments([], [], 10, params()) == []
    with pytest.raises(ValueError):
        find_segments([0.0, 0.1], [0.5], 10, params())


def test_segment_running_to_the_end_of_the_video_ends_there():
    times, scores = series(10, [(7, 10)])
    (seg,) = find_segments(times, scores, 10, params())
    assert seg.end == pytest.approx(10.0, abs=1e-6)
    assert seg.clip_end == 10.0


@st.composite
def score_series(draw):
    n = draw(st.integers(min_value=1, max_value=200))
    steps = draw(st.lists(st.floats(min_value=0.01, max_value=1.0), min_size=n, max_size=n))
    times = np.cumsum(steps) - steps[0]
    scores = draw(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=n, max_size=n))
    duration = float(times[-1]) + draw(st.floats(min_value=0.0, max_value=5.0))
    p = SegmentParams(
        threshold=draw(st.floats(min_value=0.05, max_value=0.99)),
        hysteresis=draw(st.floats(min_value=0.0, max_value=0.04)),
        smooth=draw(st.floats(min_value=0.0, max_value=2.0)),
        merge_gap=draw(st.floats(min_value=0.0, max_value=5.0)),
        min_segment=draw(st.floats(min_value=0.0, max_value=3.0)),
        pre_roll=draw(st.floats(min_value=0.0, max_value=5.0)),
        post_roll=draw(st.floats(min_value=0.0, max_value=5.0)),
    )
    return times, np.array(scores), duration, p


@settings(max_examples=300, deadline=None)
@given(score_series())
def test_segments_are_sorted_disjoint_and_inside_the_video(case):
    times, scores, duration, p = case
    segs = find_segments(times, scores, duration, p)
    for s in segs:
        assert 0.0 <= s.clip_start <= s.start < s.end <= s.clip_end <= duration + 1e-9
        assert s.end - s.start >= p.min_segment - 1e-9
        assert s.start - s.clip_start <= p.pre_roll + 1e-9
        assert s.clip_end - s.end <= p.post_roll + 1e-9
    for a, b in zip(segs, segs[1:]):
        assert a.end < b.start
        assert a.clip_end <= b.clip_start + 1e-9


@settings(max_examples=100, deadline=None)
@given(score_series())
def test_segment_order_of_input_does_not_matter(case):
    times, scores, duration, p = case
    order = np.random.default_rng(0).permutation(len(times))
    assert find_segments(times[order], scores[order], duration, p) == find_segments(times, scores, duration, p)


def test_the_running_median_is_each_windows_own_median_at_steady_and_variable_rates():
    from dunkwatch.pipeline.scoring.segment import smooth_scores

    rng = np.random.default_rng(7)
    steady = np.arange(400) / 5.0
    variable = np.cumsum(rng.choice([0.033, 0.2, 0.5], 400))  # a phone dropping frames now and then
    for times in (steady, variable):
        scores = rng.random(len(times))
        for window in (0.6, 1.0, 3.0):
            half = window / 2
            expected = [np.median(scores[(times >= t - half) & (times <= t + half)]) for t in times]
            assert np.allclose(smooth_scores(times, scores, window), expected)
