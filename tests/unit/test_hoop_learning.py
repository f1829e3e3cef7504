"""The hoop model's labels, split and promotion rule, and the crop it sees: pure, no video, no Keras."""

from pathlib import Path

from conftest import bare_sidecar

from dunkwatch.hoop import Hoop
from dunkwatch.learn.corrections import KnownVideo, parse_corrections
from dunkwatch.learn.hoop_learning import HoopFigures, LabelledShot, decide, labelled_shots, no_shot_times, split
from dunkwatch.outputs import Sidecar, SidecarAttempt
from dunkwatch.pipeline.shots.rim_model import crop_box

A = KnownVideo("A.MOV", "a" * 64, 30.0)
B = KnownVideo("B.MOV", "b" * 64, 30.0)


def sidecar(rims: list[tuple[float, str]], hoop=(0.5, 0.2, 0.05, 0.08)) -> Sidecar:
    return bare_sidecar(
        hoop=hoop,
        attempts=tuple(SidecarAttempt(r - 1.5, r + 0.7, r, r - 1.0, res, "shot", None) for r, res in rims),
    )


def test_each_detected_attempt_inside_a_make_or_miss_row_is_a_labelled_shot_with_what_the_player_saw():
    rows, errors = parse_corrections(
        "video,start,end,label\nA.MOV,2,6,make\nA.MOV,8,12,miss\nA.MOV,20,22,make\n"
        "B.MOV,1,5,no shot\nB.MOV,10,14,dunk\n",
        [A, B],
    )
    assert errors == []
    videos = {
        A.sha256: (Path("/a.mov"), sidecar([(4.0, "miss"), (10.0, "miss"), (25.0, "make")])),
        B.sha256: (Path("/b.mov"), sidecar([(3.0, "make")])),
    }
    shots = labelled_shots(rows, videos)
    # 20-22 holds no detected attempt (a shot the finder missed): no rim time to crop at.
    assert [(s.sha256[0], s.rim, s.make, s.shown) for s in shots] == [
        ("a", 4.0, True, "miss"),
        ("a", 10.0, False, "miss"),
    ]
    assert shots[0].hoop == Hoop(0.5, 0.2, 0.05, 0.08)
    negatives = no_shot_times(rows)
    assert list(negatives) == [B.sha256]
    assert [round(t, 6) for t in negatives[B.sha256]] == [round(1.0 + 0.2 * k, 6) for k in range(20)]
    # A video without a hoop has no attempts to label.
    assert labelled_shots(rows, {A.sha256: (Path("/a.mov"), sidecar([(4.0, "miss")], hoop=None))}) == []


def test_it_is_promoted_only_when_it_gets_more_held_out_shots_right_than_what_is_in_use():
    assert decide(HoopFigures(4, 4), HoopFigures(4, 3))[0]
    assert not decide(HoopFigures(4, 3), HoopFigures(4, 3))[0]  # as good is not better
    assert not decide(HoopFigures(4, 2), HoopFigures(4, 3))[0]
    promote, reason = decide(HoopFigures(0, 0), HoopFigures(0, 0))
    assert not promote and "nothing to judge it on" in reason


def test_the_newest_labelled_videos_are_held_out_and_one_video_alone_is_not_judged():
    def shot(sha: str) -> LabelledShot:
        return LabelledShot(sha, Path("/x"), Hoop(0.5, 0.2, 0.05, 0.08), 1.0, True, "make")

    assert split([shot("a"), shot("a"), shot("b"), shot("c")], 0.2) == (["a", "b"], ["c"])
    assert split([shot("a"), shot("a")], 0.2) == (["a"], [])


def test_the_crop_is_a_square_over_the_rim_and_net_inside_the_frame():
    x0, y0, x1, y1 = crop_box(Hoop(0.5, 0.3, 0.05, 0.08), 1920, 1080)
    assert x1 - x0 == y1 - y0 == 240  # 2.5 rim widths (96 px)
    assert x0 < 0.5 * 1920 and x1 > 0.55 * 1920 and y0 < 0.3 * 1080 and y1 > 0.38 * 1080
    # At the frame's corner the square is shifted inside, never cut.
    x0, y0, x1, y1 = crop_box(Hoop(0.95, 0.0, 0.05, 0.08), 1920, 1080)
    assert (x1, y0) == (1920, 0) and x1 - x0 == y1 - y0
