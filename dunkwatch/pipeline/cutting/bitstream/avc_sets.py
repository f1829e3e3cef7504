"""H.264 parameter sets as an MP4 track carries them (the avcC record): read their ids, and merge
the records of two encoders into one, so a clip whose head was re-encoded and whose rest is the
original's bitstream names both sets in its one sample description. Pure bytes in, bytes out.

Only possible when the ids differ: x264 numbers its sets as told (`sps-id`), so the re-encoded
parts take ids the source does not use. (x265 cannot be told: hevc_sets renumbers afterwards.)

The re-encoded parts also take the source's decoded picture buffer (Dpb): H.264 Annex C.4.4 lets
a decoder that meets an IDR whose SPS gives another DPB size throw away the frames still waiting
to be shown (OpenH264 does), which would cost each clip the copied part's last frames.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dunkwatch.nal_bits import (
    ParameterSetError,
    Reader,
    Writer,
    escape,
    sized_units,
    unescape,
)


@dataclass(frozen=True)
class AvcConfig:
    """An avcC record: its header fields, its SPS and PPS NAL units, and the bytes after them
    (High profiles add chroma format and bit depths there)."""

    profile: int
    compatibility: int
    level: int
    length_size: int
    sps: tuple[bytes, ...]
    pps: tuple[bytes, ...]
    tail: bytes = b""

    @classmethod
    def parse(cls, record: bytes) -> "AvcConfig":
        if len(record) < 7 or record[0] != 1:
            raise ParameterSetError("not an avcC record (Annex B extradata?)")
        sps, pos = sized_units(record, 6, record[5] & 0x1F)
        if pos >= len(record):
            raise ParameterSetError("avcC record ends early")
        pps, pos = sized_units(record, pos + 1, record[pos])
        return cls(record[1], record[2], record[3], (record[4] & 3) + 1, tuple(sps), tuple(pps), bytes(record[pos:]))

    def to_bytes(self) -> bytes:
        out = bytearray(
            [1, self.profile, self.compatibility, self.level, 0xFC | (self.length_size - 1), 0xE0 | len(self.sps)]
        )
        for nal in self.sps:
            out += len(nal).to_bytes(2, "big") + nal
        out.append(len(self.pps))
        for nal in self.pps:
            out += len(nal).to_bytes(2, "big") + nal
        return bytes(out + self.tail)

    def sps_ids(self) -> set[int]:
        return {_sps_id(nal) for nal in self.sps}

    def pps_ids(self) -> set[int]:
        return {_pps_id(nal) for nal in self.pps}

    def merged(self, other: "AvcConfig") -> "AvcConfig":
        """This record with `other`'s sets added (the header stays this one's: the source's); a
        set already here is not added twice, and one that reuses an id here for other bytes is an
        error (a decoder would take one for the other)."""
        if other.length_size != self.length_size:
            raise ParameterSetError(f"NAL length fields differ ({self.length_size} and {other.length_size} bytes)")
        sps, pps = list(self.sps), list(self.pps)
        for have, new, ids in ((sps, other.sps, _sps_id), (pps, other.pps, _pps_id)):
            for nal in new:
                if nal in have:
                    continue
                if ids(nal) in {ids(h) for h in have}:
                    raise ParameterSetError(f"parameter set id {ids(nal)} is taken by another set")
                have.append(nal)
        if len(sps) > 31:
            raise ParameterSetError("more than 31 sequence parameter sets")
        return AvcConfig(
            self.profile, self.compatibility, self.level, self.length_size, tuple(sps), tuple(pps), self.tail
        )

    def dpb(self) -> "Dpb":
        """The largest DPB any of the record's SPSs asks for."""
        if not self.sps:
            raise ParameterSetError("no sequence parameter set")
        found = [sps_fields(nal).dpb for nal in self.sps]
        return Dpb(max(d.references for d in found), max(d.reorder for d in found), max(d.buffering for d in found))

    def with_dpb(self, dpb: "Dpb") -> "AvcConfig":
        """This record with every SPS saying `dpb`."""
        return replace(self, sps=tuple(with_dpb(nal, dpb) for nal in self.sps))


@dataclass(frozen=True)
class Dpb:
    """An SPS's max_num_ref_frames, and VUI's max_num_reorder_frames and max_dec_frame_buffering
    (as given or as inferred)."""

    references: int
    reorder: int
    buffering: int


@dataclass(frozen=True)
class SpsFields:
    profile: int  # profile_idc
    dpb: Dpb
    ref_frames_at: tuple[int, int]  # rbsp bits of max_num_ref_frames
    restriction_at: int | None  # rbsp bit where max_num_reorder_frames starts; None: not written


# Table A-1: MaxDpbMbs by level_idc (9 is level 1b); the DPB a stream without VUI's numbers gets.
_MAX_DPB_MBS = {9: 396, 10: 396, 11: 900, 12: 2376, 13: 2376, 20: 2376, 21: 4752, 22: 8100, 30: 8100, 31: 18000}
_MAX_DPB_MBS |= {32: 20480, 40: 32768, 41: 32768, 42: 34816, 50: 110400, 51: 184320, 52: 184320}
_MAX_DPB_MBS |= {60: 696320, 61: 696320, 62: 696320}
_HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}  # with chroma format etc.


def sps_fields(nal: bytes) -> SpsFields:
    """What an H.264 SPS says of its profile and DPB (7.3.2.1.1 and E.1.1)."""
    rbsp = unescape(nal)
    r = Reader(rbsp, 8)
    profile, constraints, level = r.u(8), r.u(8), r.u(8)
    r.ue()  # seq_parameter_set_id
    if profile in _HIGH_PROFILES:
        chroma = r.ue()
        r.u(1 if chroma == 3 else 0)  # separate_colour_plane_flag
        r.ue(), r.ue(), r.u(1)  # bit depths, qpprime_y_zero_transform_bypass_flag
        if r.u(1):  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma != 3 else 12):
                if r.u(1):
                    _skip_scaling_list(r, 16 if i < 6 else 64)
    r.ue()  # log2_max_frame_num_minus4
    poc_type = r.ue()
    if poc_type == 0:
        r.ue()
    elif poc_type == 1:
        r.u(1), r.se(), r.se()
        for _ in range(r.ue()):
            r.se()
    ref_at = r.pos
    ref_frames = r.ue()
    ref_frames_at = (ref_at, r.pos)
    r.u(1)  # gaps_in_frame_num_value_allowed_flag
    mbs = (r.ue() + 1) * (r.ue() + 1)  # width in macroblocks times height in map units
    if not r.u(1):  # frame_mbs_only_flag: map units are field pairs
        mbs *= 2
        r.u(1)
    r.u(1)  # direct_8x8_inference_flag
    if r.u(1):  # frame_cropping_flag
        for _ in range(4):
            r.ue()
    intra_only = bool(constraints & 0x10) and profile in {44, 86, 100, 110, 122, 244}
    inferred = 0 if intra_only else min(_MAX_DPB_MBS.get(level, 696320) // max(mbs, 1), 16)
    if not r.u(1) or not _vui_to_restriction(r):
        return SpsFields(profile, Dpb(ref_frames, inferred, inferred), ref_frames_at, None)
    at = r.pos
    return SpsFields(profile, Dpb(ref_frames, r.ue(), r.ue()), ref_frames_at, at)


def with_dpb(nal: bytes, dpb: Dpb) -> bytes:
    """The SPS saying `dpb`: max_num_ref_frames, and VUI's max_num_reorder_frames and
    max_dec_frame_buffering (the last two fields of an SPS). Every other bit stays. More reference
    frames than a stream uses change nothing in its decoding: a P-frame's first reference is the
    frame before it however many are kept."""
    fields = sps_fields(nal)
    if fields.restriction_at is None:
        raise ParameterSetError("the SPS writes no bitstream restriction to change")
    if dpb.buffering < max(dpb.references, dpb.reorder) or dpb.references < fields.dpb.references:
        raise ParameterSetError(f"the SPS cannot take the DPB {dpb}")
    rbsp = unescape(nal)
    w = Writer()
    w.copy(rbsp, 0, fields.ref_frames_at[0])
    w.ue(dpb.references)
    w.copy(rbsp, fields.ref_frames_at[1], fields.restriction_at)
    w.ue(dpb.reorder)
    w.ue(dpb.buffering)
    return escape(w.aligned())


def _skip_scaling_list(r: Reader, size: int) -> None:
    last = following = 8
    for _ in range(size):
        if following:
            following = (last + r.se() + 256) % 256
        last = following or last


def _vui_to_restriction(r: Reader) -> bool:
    """Reads VUI parameters up to bitstream_restriction_flag; returns it."""
    if r.u(1) and r.u(8) == 255:  # aspect_ratio_info_present_flag, aspect_ratio_idc: Extended_SAR
        r.u(32)
    if r.u(1):  # overscan_info_present_flag
        r.u(1)
    if r.u(1):  # video_signal_type_present_flag
        r.u(4)
        if r.u(1):
            r.u(24)
    if r.u(1):  # chroma_loc_info_present_flag
        r.ue(), r.ue()
    if r.u(1):  # timing_info_present_flag
        r.u(32), r.u(32), r.u(1)
    hrd = [r.u(1) and _skip_hrd(r) for _ in range(2)]  # NAL, then VCL
    if any(hrd):
        r.u(1)  # low_delay_hrd_flag
    r.u(1)  # pic_struct_present_flag
    if not r.u(1):
        return False
    r.u(1)  # motion_vectors_over_pic_boundaries_flag
    for _ in range(4):  # max bytes per picture, bits per macroblock, motion vector lengths
        r.ue()
    return True


def _skip_hrd(r: Reader) -> bool:
    count = r.ue() + 1
    r.u(8)  # bit_rate_scale, cpb_size_scale
    for _ in range(count):
        r.ue(), r.ue(), r.u(1)
    r.u(20)  # four delay and offset lengths
    return True


def _sps_id(nal: bytes) -> int:
    return Reader(unescape(nal)[4:]).ue()  # nal header, profile_idc, constraint flags, level_idc, then the id


def _pps_id(nal: bytes) -> int:
    return Reader(unescape(nal)[1:]).ue()


def free_ids(config: AvcConfig, count: int) -> list[int]:
    """`count` SPS/PPS ids (x264 gives both the same number) that the record does not use."""
    used = config.sps_ids() | config.pps_ids()
    free = [i for i in range(32) if i not in used][:count]
    if len(free) < count:
        raise ParameterSetError("no free parameter set id")
    return free
