"""The corrections parser and the labelling rules are pure: no file, no video, no TensorFlow."""

import numpy as np
import pytest

from dunkwatch.learn.corrections import (
    KnownVideo,
    LabelRules,
    frame_labels,
    labels_hash,
    parse_corrections,
    parse_time,
    prediction_rows,
    render_csv,
)

A = KnownVideo("IMG_0001.MOV", "a" * 64, 120.0)
B = KnownVideo("phone/IMG_0002.MOV", "b" * 64, 60.0)
CATALOGUE = [A, B]


def parse(text):
    return parse_corrections(text, CATALOGUE)


def messages(errors):
    return [str(e) for e in errors]


def test_a_valid_file_with_names_clock_times_aliases_and_a_sha_prefix():
    rows, errors = parse(
        "video,start,end,label,note\n"
        "IMG_0001.MOV,1:05,1:09.5,dunk,windmill\n"
        "phone/IMG_0002.MOV,0,12.25,Empty,\n"
        "bbbbbbbb,00:00:20.000,00:00:25,player\n"  # no note cell at all
        "IMG_0002.MOV,30,31,no,just the file name\n"
    )
    assert errors == []
    assert [(r.row, r.sha256[0], r.start, r.end, r.positive) for r in rows] == [
        (2, "a", 65.0, 69.5, True),
        (3, "b", 0.0, 12.25, False),
        (4, "b", 20.0, 25.0, True),
        (5, "b", 30.0, 31.0, False),
    ]
    assert rows[0].note == "windmill"


@pytest.mark.parametrize(
    "line, expected",
    [
        ("IMG_9999.MOV,1,2,dunk", "row 2: unknown video 'IMG_9999.MOV'"),
        ("IMG_0001.MOV,5,5,dunk", "row 2: end (5) must be after start (5)"),
        ("IMG_0001.MOV,9,5,dunk", "row 2: end (5) must be after start (9)"),
        ("IMG_0001.MOV,100,130,dunk", "row 2: end 130 s is past the end of IMG_0001.MOV (120 s)"),
        ("IMG_0001.MOV,1,2,dunkk", "row 2: unknown label 'dunkk'; use dunk or empty"),
        ("../IMG_0001.MOV,1,2,dunk", "row 2: video '../IMG_0001.MOV' points outside the archive"),
        ("/etc/passwd,1,2,dunk", "row 2: video '/etc/passwd' points outside the archive"),
        ("C:\\Users\\me\\IMG_0001.MOV,1,2,dunk", "points outside the archive"),
        ("IMG_0001.MOV,1:75,2:00,dunk", "row 2: start '1:75' is not seconds or [HH:]MM:SS[.mmm]"),
        ("IMG_0001.MOV,abc,2,dunk", "row 2: start 'abc' is not seconds"),
        ("IMG_0001.MOV,-3,2,dunk", "row 2: start -3 s is negative"),
        (",1,2,dunk", "row 2: the video column is empty"),
    ],
)
def test_each_bad_row_is_named_with_its_problem(line, expected):
    rows, errors = parse("video,start,end,label\n" + line + "\nIMG_0001.MOV,10,12,dunk\n")
    assert len(errors) == 1 and expected in str(errors[0]), errors
    assert [r.row for r in rows] == [3]  # the good row is still used


def test_overlapping_rows_with_different_labels_are_both_left_out_and_both_named():
    rows, errors = parse(
        "video,start,end,label\n"
        "IMG_0001.MOV,10,20,dunk\n"
        "IMG_0001.MOV,30,40,empty\n"
        "IMG_0001.MOV,15,25,empty\n"
        "IMG_0001.MOV,35,38,empty\n"  # same label overlapping: fine
        "phone/IMG_0002.MOV,15,25,dunk\n"
    )  # another video: no overlap
    assert [r.row for r in rows] == [3, 5, 6]
    (error,) = errors
    assert error.row == 2 and "overlaps row 4" in error.message


def test_bom_windows_line_endings_and_an_extra_column():
    text = "\ufeffvideo,start,end,label,note,who\r\nIMG_0001.MOV,1,2,dunk,nice,coach\r\n\r\n# a comment\r\n"
    rows, errors = parse(text)
    assert errors == [] and len(rows) == 1 and rows[0].note == "nice"


def test_a_header_without_the_required_columns_is_one_error():
    rows, errors = parse("file,from,to\nIMG_0001.MOV,1,2\n")
    assert rows == [] and messages(errors) == [
        "row 1: header must name the columns video,start,end,label[,note]; missing video, start, end, label"
    ]


def test_an_ambiguous_file_name_asks_for_the_folder_or_a_hash():
    catalogue = [KnownVideo("a/IMG_1.MOV", "1" * 64, 10), KnownVideo("b/IMG_1.MOV", "2" * 64, 10)]
    rows, errors = parse_corrections("video,start,end,label\nIMG_1.MOV,1,2,dunk\nb/IMG_1.MOV,1,2,dunk\n", catalogue)
    assert [r.sha256[0] for r in rows] == ["2"]
    assert "matches 2 processed videos" in str(errors[0])


@pytest.mark.parametrize(
    "text, seconds", [("75.5", 75.5), ("1:15.5", 75.5), ("00:01:15.500", 75.5), ("1:00:00", 3600.0), ("0", 0.0)]
)
def test_times_in_seconds_or_clock_form(text, seconds):
    assert parse_time(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "1:60", "nan", "inf", "1::2", "a:b"])
def test_bad_times_are_rejected(text):
    with pytest.raises(ValueError):
        parse_time(text)


def test_corrections_decide_and_elsewhere_only_confident_predictions_count():
    rules = LabelRules(confident_low=0.05, confident_high=0.95, correction_weight=5.0)
    times = np.arange(0, 10, 1.0)
    score_times = np.arange(0, 10, 0.5)
    scores = np.array([0.01] * 6 + [0.5] * 4 + [0.99] * 6 + [0.02] * 4)  # 0-2.5 empty, 3-4.5 unsure, 5-7.5 dunk
    rows, _ = parse("video,start,end,label\nIMG_0001.MOV,7,9,empty\n")
    labels, weights = frame_labels(times, rows, score_times, scores, rules)
    assert labels.tolist() == [0, 0, 0, 0, 0, 1, 1, 0, 0, 0]
    assert weights.tolist() == [1, 1, 1, 0, 0, 1, 1, 5, 5, 1]


def test_the_labels_hash_changes_with_corrections_predictions_and_rules():
    rows, _ = parse("video,start,end,label\nIMG_0001.MOV,1,2,dunk\n")
    base = labels_hash(rows, {"a" * 64: "s1"}, LabelRules())
    assert labels_hash(list(rows), {"a" * 64: "s1"}, LabelRules()) == base
    assert labels_hash([], {"a" * 64: "s1"}, LabelRules()) != base
    assert labels_hash(rows, {"a" * 64: "s2"}, LabelRules()) != base
    assert labels_hash(rows, {"a" * 64: "s1"}, LabelRules(confident_high=0.9)) != base


def test_prediction_rows_read_back_as_valid_corrections():
    text = render_csv(prediction_rows("IMG_0001.MOV", [(10.0, 14.5), (60.25, 70.0)], 120.0, "motion"))
    rows, errors = parse(text)
    assert errors == []
    assert [(r.start, r.end, r.positive) for r in rows] == [
        (0, 10, False),
        (10, 14.5, True),
        (14.5, 60.25, False),
        (60.25, 70, True),
        (70, 120, False),
    ]


def test_a_file_that_is_not_utf8_is_read_as_windows_1252_and_said_so():
    from dunkwatch.learn.corrections import decode_csv

    data = "video,start,end,label,note\nIMG_0001.MOV,1,2,dunk,Ren\u00e9e's dunk\n".encode("cp1252")
    text, error = decode_csv(data)
    assert "Ren\u00e9e" in text and error is not None
    assert str(error).startswith("not UTF-8 (byte 0xe9 at offset ") and "Windows-1252" in str(error)
    assert decode_csv("\ufeffvideo\n".encode("utf-8")) == ("video\n", None)


def test_a_video_dropped_twice_under_one_name_is_named_by_its_outbox_folder():
    from dunkwatch.learn.corrections import KnownVideo

    first = KnownVideo("IMG_0001.MOV", "a" * 64, 60.0, ("IMG_0001.MOV",))
    second = KnownVideo("IMG_0001.MOV", "b" * 64, 60.0, ("IMG_0001 (1).MOV",))
    rows, errors = parse_corrections(
        "video,start,end,label\nIMG_0001.MOV,1,2,dunk\nIMG_0001 (1).MOV,1,2,empty\n", [first, second]
    )
    assert errors == [] and [r.sha256 for r in rows] == ["a" * 64, "b" * 64]


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_CELL = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "IMG_0001.MOV",
            "phone/IMG_0002.MOV",
            "aaaaaaaa",
            "../x",
            "C:\\x.mov",
            "1:02.5",
            "-3",
            "nan",
            "inf",
            "1e400",
            "dunk",
            "EMPTY",
            "",
            '"',
            "\ufeff",
            "\r",
            "\x00",
        ]
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    header=st.sampled_from(
        ["video,start,end,label,note", "video,start,end,label", "start,video,label,end", "file,from,to", ""]
    ),
    rows=st.lists(st.lists(_CELL, min_size=0, max_size=7), max_size=8),
    raw=st.text(max_size=200),
)
def test_no_corrections_file_makes_the_parser_raise(header, rows, raw):
    import csv
    import io

    out = io.StringIO()
    csv.writer(out).writerows(rows)
    for text in (header + "\n" + out.getvalue(), raw, header + "\n" + raw):
        valid, errors = parse(text)
        assert all(isinstance(r.start, float) and r.end > r.start for r in valid)
        assert all(isinstance(e.row, int) for e in errors)


def test_make_miss_and_no_shot_rows_change_the_training_labels_and_older_files_stay_valid():
    from dunkwatch.learn.corrections import ShotLabel, result_labels, shot_labels

    old = "video,start,end,label\nIMG_0001.MOV,10,20,dunk\nIMG_0001.MOV,30,40,empty\n"
    shots = old + (
        "IMG_0001.MOV,11,13,make\nIMG_0001.MOV,14,16,Miss\nIMG_0001.MOV,17,19,no shot\nIMG_0001.MOV,50,52,shot\n"
    )
    old_rows, old_errors = parse(old)
    rows, errors = parse(shots)
    assert old_errors == [] and errors == []
    assert [r.shot for r in rows] == [None, None, ShotLabel.MAKE, ShotLabel.MISS, ShotLabel.NO_SHOT, ShotLabel.SHOT]
    times = np.arange(0.0, 60.0, 0.5)
    # Presence: a shot is a player playing (50-52 becomes "in view"); "no shot" leaves presence alone.
    before, _ = frame_labels(times, old_rows, None, None, LabelRules())
    after, weights = frame_labels(times, rows, None, None, LabelRules())
    assert after[(times >= 50) & (times < 52)].tolist() == [1.0] * 4 and before[(times >= 50) & (times < 52)].sum() == 0
    assert after[(times >= 17) & (times < 19)].tolist() == [1.0] * 4  # still inside the dunk row
    # The attempt labels: shots 1, no shot 0, nothing said -1; results: make 1, miss 0.
    s = shot_labels(times, rows)
    assert s[times == 12].item() == 1 and s[times == 18].item() == 0 and s[times == 25].item() == -1
    assert s[times == 51].item() == 1 and (shot_labels(times, old_rows) == -1).all()
    r = result_labels(times, rows)
    assert r[times == 12].item() == 1 and r[times == 15].item() == 0 and r[times == 51].item() == -1
    assert labels_hash(rows, {}, LabelRules()) != labels_hash(old_rows, {}, LabelRules())


def test_two_overlapping_rows_with_different_shot_results_are_both_left_out():
    rows, errors = parse(
        "video,start,end,label\nIMG_0001.MOV,10,12,make\nIMG_0001.MOV,11,13,miss\n"
        "IMG_0001.MOV,20,22,no shot\nIMG_0001.MOV,19,25,dunk\n"
    )
    assert [r.row for r in rows] == [4, 5]  # no shot inside a dunk row is no conflict
    assert messages(errors) == [
        "row 2: overlaps row 3 with a different label (IMG_0001.MOV 10-12 s and 11-13 s); both left out"
    ]
