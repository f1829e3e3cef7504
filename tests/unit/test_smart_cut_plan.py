"""The smart cut's plan (pure: packet timing in, what to copy out) and the avcC merge."""

from fractions import Fraction

import numpy as np
import pytest

from dunkwatch.pipeline.cutting.bitstream.avc_sets import (
    AvcConfig,
    Dpb,
    ParameterSetError,
    free_ids,
    sps_fields,
    with_dpb,
)
from dunkwatch.pipeline.cutting.cut_plan import NotSmart, PacketIndex, plan_cut

FPS = 10


def index_of(order: list[tuple[int, bool]], drops_leading: bool = False) -> PacketIndex:
    """Packets in decode order as (frame number shown, keyframe); every keyframe may open a copy."""
    shown = np.array([n for n, _ in order])
    key = np.array([k for _, k in order])
    return PacketIndex(
        times=shown / FPS,
        pts=shown,
        dts=np.arange(len(order)) - 2,
        key=key,
        opens=key,
        time_base=Fraction(1, FPS),
        drops_leading=drops_leading,
    )


def closed_gops(groups: int, size: int = 10) -> list[tuple[int, bool]]:
    """I P B B P B B ... in decode order: each P is shown after the two B-frames decoded after it."""
    out = []
    for g in range(groups):
        base = g * size
        out.append((base, True))
        n = 1
        while n < size:
            p = min(n + 2, size - 1)
            out.append((base + p, False))
            out += [(base + b, False) for b in range(n, p)]
            n = p + 1
    return out


def test_the_copy_starts_at_the_first_keyframe_after_the_cut_in_and_ends_where_no_later_frame_is_needed():
    index = index_of(closed_gops(4))
    plan = plan_cut(index, 1.25, 3.45)  # frames 13 .. 34
    assert plan.cut_in == pytest.approx(1.3) and plan.head_frames == 7  # 13..19
    assert index.times[plan.copy_first] == pytest.approx(2.0) and index.key[plan.copy_first]
    # Frames 20..33 copy cleanly (they close after the P at 33); 34 needs the P at 36: re-encoded.
    assert plan.tail_start == pytest.approx(3.4) and plan.tail_frames == 1
    assert plan.frames == 22 == plan.head_frames + plan.copy_count + plan.tail_frames


def open_gop_at_10() -> list[tuple[int, bool]]:
    # An open GOP at frame 10: frames 8 and 9 are decoded after it and shown before it.
    return [
        (0, True),
        (3, False),
        (1, False),
        (2, False),
        (6, False),
        (4, False),
        (5, False),
        (7, False),
        (10, True),
        (8, False),
        (9, False),
        (13, False),
        (11, False),
        (12, False),
        (16, False),
        (14, False),
        (15, False),
        (19, False),
        (17, False),
        (18, False),
    ] + [(20 + n, k) for n, k in closed_gops(1)]


def test_a_keyframe_with_leading_pictures_is_not_copied_from_in_h264():
    assert sorted(n for n, _ in open_gop_at_10()) == list(range(30))
    index = index_of(open_gop_at_10())
    plan = plan_cut(index, 0.55, 2.95)
    assert index.times[plan.copy_first] == pytest.approx(2.0)  # not 1.0, whose leading pictures need frame 7
    assert plan.head_frames == 14 and plan.frames == 24


def test_an_hevc_keyframe_is_copied_from_without_its_leading_pictures():
    index = index_of(open_gop_at_10(), drops_leading=True)
    plan = plan_cut(index, 0.45, 2.95)
    assert index.times[plan.copy_first] == pytest.approx(1.0)
    assert plan.head_frames == 5  # 5, 6, 7, and the leading 8 and 9: re-encoded
    assert plan.copy_count == plan.copy_last - plan.copy_first + 1 - 2  # 8 and 9 left out of the copy
    assert plan.frames == 25 == plan.head_frames + plan.copy_count + plan.tail_frames


def test_a_head_no_longer_than_the_keyframes_decode_delay_moves_the_copy_a_keyframe_on():
    """Frame 10's keyframe is decoded 4 frames before it is shown (dts 6): a clip's edit list then
    starts 4 frames into its decode times, and VLC starts there, at the copy's keyframe, when the
    head is 4 frames or fewer. Such a head grows to the next keyframe; a longer one is kept."""
    index = index_of(open_gop_at_10(), drops_leading=True)
    assert index.times[plan_cut(index, 0.55, 2.95).copy_first] == pytest.approx(2.0)  # head 6..9: 4 frames
    assert index.times[plan_cut(index, 0.45, 2.95).copy_first] == pytest.approx(1.0)  # head 5..9: 5 frames
    assert index.times[plan_cut(index, 1.0, 2.95).copy_first] == pytest.approx(1.0)  # no head at all


def test_a_clip_inside_one_group_of_pictures_is_all_head():
    plan = plan_cut(index_of(closed_gops(2)), 0.15, 0.85)
    assert (plan.head_frames, plan.copy_count, plan.tail_frames, plan.frames) == (7, 0, 0, 7)
    with pytest.raises(NotSmart, match="no frame"):
        plan_cut(index_of(closed_gops(2)), 2.5, 3.0)


def avcc(sps_id: int, pps_ids: tuple[int, ...] = (), length_size: int = 4, frame_bits: int = 1) -> bytes:
    def ue(v: int) -> str:
        code = bin(v + 1)[2:]
        return "0" * (len(code) - 1) + code

    def nal(header: int, prefix: bytes, bits: str) -> bytes:
        bits += "1"
        bits += "0" * (-len(bits) % 8)
        return bytes([header]) + prefix + int(bits, 2).to_bytes(len(bits) // 8, "big")

    sps = nal(0x67, bytes([100, 0, 40]), ue(sps_id) + ue(frame_bits))
    pps = [nal(0x68, b"", ue(p) + ue(sps_id)) for p in (pps_ids or (sps_id,))]
    out = bytes([1, 100, 0, 40, 0xFC | (length_size - 1), 0xE1, 0, len(sps)]) + sps + bytes([len(pps)])
    for p in pps:
        out += len(p).to_bytes(2, "big") + p
    return out + bytes([0xFD, 0xF8, 0xF8, 0])


def test_avcc_records_merge_under_distinct_ids_and_keep_the_sources_header():
    source = AvcConfig.parse(avcc(0))
    assert AvcConfig.parse(source.to_bytes()) == source and source.to_bytes() == avcc(0)
    assert free_ids(source, 2) == [1, 2]
    merged = source.merged(AvcConfig.parse(avcc(1))).merged(AvcConfig.parse(avcc(1)))  # the same set twice
    assert merged.sps_ids() == {0, 1} and merged.pps_ids() == {0, 1}
    assert merged.tail == source.tail and merged.to_bytes()[:5] == avcc(0)[:5]


def test_avcc_records_that_reuse_an_id_or_another_length_field_do_not_merge():
    with pytest.raises(ParameterSetError, match="id 0 is taken"):
        AvcConfig.parse(avcc(0)).merged(AvcConfig.parse(avcc(0, frame_bits=3)))  # another encoder's set 0
    with pytest.raises(ParameterSetError, match="length fields differ"):
        AvcConfig.parse(avcc(0)).merged(AvcConfig.parse(avcc(1, length_size=2)))
    with pytest.raises(ParameterSetError, match="not an avcC"):
        AvcConfig.parse(b"\x00\x00\x00\x01\x67")


# x264's SPS of a High profile stream with B-frames (testsrc2 640x360, preset medium), with its VUI.
X264_HIGH_SPS = bytes.fromhex("6764001eacd940a02ff970110000030001000003003c0f162d96")


def test_an_h264_sps_says_its_profile_and_dpb_and_takes_another_dpb_with_every_other_bit_kept():
    fields = sps_fields(X264_HIGH_SPS)
    assert fields.profile == 100 and fields.dpb == Dpb(references=4, reorder=2, buffering=4)
    assert with_dpb(X264_HIGH_SPS, fields.dpb) == X264_HIGH_SPS
    larger = with_dpb(X264_HIGH_SPS, Dpb(references=5, reorder=3, buffering=6))
    assert sps_fields(larger).dpb == Dpb(5, 3, 6) and sps_fields(larger).profile == 100
    # Only those fields moved: what lies between them reads the same.
    a, b = sps_fields(X264_HIGH_SPS), sps_fields(larger)
    assert a.restriction_at is not None and b.restriction_at is not None
    assert b.restriction_at - b.ref_frames_at[1] == a.restriction_at - a.ref_frames_at[1]
    with pytest.raises(ParameterSetError):
        with_dpb(X264_HIGH_SPS, Dpb(references=4, reorder=2, buffering=3))  # smaller than its references
    with pytest.raises(ParameterSetError):
        with_dpb(X264_HIGH_SPS, Dpb(references=2, reorder=0, buffering=2))  # fewer than the stream keeps


def test_hevc_escaping_round_trips_and_a_pps_is_renumbered_with_the_rest_of_its_bits_kept():
    from dunkwatch.nal_bits import Writer, escape, unescape
    from dunkwatch.pipeline.cutting.bitstream.hevc_sets import parse_pps, renumber_pps

    for rbsp in (b"\x00\x00\x00\x01\x02", b"\x12\x00\x00\x03\x00\x00", b"\x40\x01\x00\x00"):
        assert unescape(escape(rbsp)) == rbsp
        assert b"\x00\x00\x00" not in escape(rbsp) and b"\x00\x00\x01" not in escape(rbsp)
    w = Writer()
    w.u(0x4401, 16)  # NAL header: PPS
    w.ue(0)  # pps id
    w.ue(0)  # sps id
    # The rest, field by field to pps_extension_present_flag: no dependent slices or output flag, no
    # extra bits, no sign hiding, cabac_init_present, one default reference each way, init_qp 26, ...
    bits = (
        "0"
        + "0"
        + "000"
        + "0"
        + "1"
        + "1"
        + "1"
        + "1"
        + "000"
        + "1"
        + "1"
        + "0"
        + "00"
        + "0"
        + "00"
        + "1"
        + "0"
        + "0"
        + "0"
        + "1"
        + "0"
        + "0"
    )
    for b in bits:
        w.u(int(b), 1)
    pps = escape(w.aligned())
    renamed = renumber_pps(pps, 5, 2)
    fields, before = parse_pps(renamed), parse_pps(pps)
    assert (fields.pps_id, fields.sps_id, before.pps_id, before.sps_id) == (5, 2, 0, 0)
    assert {k: v for k, v in vars(fields).items() if k not in ("pps_id", "sps_id", "ids_end")} == {
        k: v for k, v in vars(before).items() if k not in ("pps_id", "sps_id", "ids_end")
    }
