"""HEVC parameter sets renumbered, so a re-encoded part and the original's bitstream can share one
hvc1 sample description: x265 numbers its VPS, SPS and PPS 0, as phones do, and has no option to
do otherwise, so the re-encoded part's sets and every slice header that names them are rewritten
under ids the source does not use. The slice data after each header is untouched: the header is
read field by field (with the SPS and PPS it depends on) to find where it ends, the new id is
written in, and the header is re-aligned to the byte, so the data moves by whole bytes at most.

Covers what smart_cut's x265 settings produce (one slice per picture, P-frames, wavefront rows
but no tiles, no weighted prediction, no scaling lists); anything else raises ParameterSetError
and the clip is re-encoded whole. The entry points of wavefront rows count bytes of the slice
data as stored: the re-aligned header ends in a byte holding its stop bit, never zero, so the
data's emulation-prevention bytes, and with them the offsets, come out as they were. Pure bytes
in, bytes out.
"""

from __future__ import annotations

from dataclasses import dataclass

from dunkwatch.nal_bits import (
    ParameterSetError,
    Reader,
    Writer,
    escape,
    nal_units,
    sized_units,
    unescape,
)

VPS, SPS, PPS = 32, 33, 34
_IRAP = range(16, 24)
_IDR = (19, 20)


def nal_type(nal: bytes) -> int:
    return (nal[0] >> 1) & 0x3F


def _stop_bit(rbsp: bytes) -> int:
    """Bit position of the rbsp_stop_one_bit: the last one in the payload."""
    for i in range(len(rbsp) - 1, -1, -1):
        if rbsp[i]:
            return 8 * i + 7 - (rbsp[i] & -rbsp[i]).bit_length() + 1
    raise ParameterSetError("empty parameter set")


def _profile_tier_level(r: Reader, max_sub_layers_minus1: int) -> None:
    r.u(88)  # general profile space, tier, profile, compatibility flags, constraint flags
    r.u(8)  # general_level_idc
    present = [(r.u(1), r.u(1)) for _ in range(max_sub_layers_minus1)]
    if max_sub_layers_minus1 > 0:
        r.u(2 * (8 - max_sub_layers_minus1))
    for profile, level in present:
        r.u(88 if profile else 0)
        r.u(8 if level else 0)


@dataclass
class SpsFields:
    sps_id: int
    id_start: int  # bit position of sps_seq_parameter_set_id in the RBSP
    id_end: int
    vps_bits: int  # bit position of sps_video_parameter_set_id (u(4))
    chroma_array_type: int
    pic_size_in_ctbs: int
    log2_max_poc_lsb: int
    num_short_term_sets: int
    delta_pocs: list[int]  # NumDeltaPocs of each short-term set
    long_term: bool
    temporal_mvp: bool
    sao: bool


def _st_ref_pic_set(r: Reader, idx: int, num_sets: int, delta_pocs: list[int]) -> int:
    """Reads st_ref_pic_set(idx); returns its NumDeltaPocs."""
    if idx != 0 and r.u(1):  # inter_ref_pic_set_prediction_flag
        delta_idx = r.ue() + 1 if idx == num_sets else 1
        r.u(1)  # delta_rps_sign
        r.ue()  # abs_delta_rps_minus1
        ref = delta_pocs[idx - delta_idx]
        count = 0
        for _ in range(ref + 1):
            used = r.u(1)
            use_delta = r.u(1) if not used else 1
            count += bool(used or use_delta)
        return count
    negative, positive = r.ue(), r.ue()
    for _ in range(negative + positive):
        r.ue()
        r.u(1)
    return negative + positive


def parse_sps(nal: bytes) -> SpsFields:
    rbsp = unescape(nal)
    r = Reader(rbsp, 16)
    vps_bits = r.pos
    r.u(4)
    max_sub_layers_minus1 = r.u(3)
    r.u(1)
    _profile_tier_level(r, max_sub_layers_minus1)
    id_start = r.pos
    sps_id = r.ue()
    id_end = r.pos
    chroma = r.ue()
    separate = r.u(1) if chroma == 3 else 0
    width, height = r.ue(), r.ue()
    if r.u(1):  # conformance window
        r.ue(), r.ue(), r.ue(), r.ue()
    r.ue(), r.ue()  # bit depths
    log2_max_poc_lsb = r.ue() + 4
    ordering_all = r.u(1)
    for _ in range(0 if ordering_all else max_sub_layers_minus1, max_sub_layers_minus1 + 1):
        r.ue(), r.ue(), r.ue()
    log2_min_cb = r.ue() + 3
    log2_ctb = log2_min_cb + r.ue()
    r.ue(), r.ue(), r.ue(), r.ue()  # transform block sizes and hierarchy depths
    if r.u(1) and r.u(1):  # scaling_list_enabled_flag, sps_scaling_list_data_present_flag
        raise ParameterSetError("HEVC scaling lists in the SPS")
    r.u(1)  # amp
    sao = bool(r.u(1))
    if r.u(1):  # pcm
        r.u(8), r.ue(), r.ue(), r.u(1)
    num_sets = r.ue()
    delta_pocs: list[int] = []
    for i in range(num_sets):
        delta_pocs.append(_st_ref_pic_set(r, i, num_sets, delta_pocs))
    long_term = bool(r.u(1))
    if long_term:
        raise ParameterSetError("HEVC long-term reference pictures")
    temporal_mvp = bool(r.u(1))
    ctb = 1 << log2_ctb
    ctbs = -(-width // ctb) * -(-height // ctb)
    return SpsFields(
        sps_id,
        id_start,
        id_end,
        vps_bits,
        0 if separate else chroma,
        ctbs,
        log2_max_poc_lsb,
        num_sets,
        delta_pocs,
        long_term,
        temporal_mvp,
        sao,
    )


@dataclass
class PpsFields:
    pps_id: int
    sps_id: int
    ids_end: int  # bit position after pps_seq_parameter_set_id
    dependent_slices: bool
    output_flag: bool
    extra_bits: int
    cabac_init: bool
    num_l0_default: int
    slice_chroma_offsets: bool
    weighted: bool
    entry_points: bool
    loop_filter_across_slices: bool
    deblocking_override: bool
    deblocking_disabled: bool
    lists_modification: bool
    header_extension: bool


def parse_pps(nal: bytes) -> PpsFields:
    rbsp = unescape(nal)
    r = Reader(rbsp, 16)
    pps_id, sps_id = r.ue(), r.ue()
    ids_end = r.pos
    dependent, output_flag, extra = r.u(1), r.u(1), r.u(3)
    r.u(1)  # sign data hiding
    cabac_init = r.u(1)
    num_l0_default = r.ue() + 1
    r.ue(), r.se()  # list 1's default count, init_qp
    r.u(1), r.u(1)  # constrained intra, transform skip
    if r.u(1):  # cu_qp_delta_enabled_flag
        r.ue()
    r.se(), r.se()
    chroma_offsets = r.u(1)
    weighted = r.u(1) | r.u(1)
    r.u(1)  # transquant bypass
    tiles, wavefront = r.u(1), r.u(1)
    if tiles:
        raise ParameterSetError("HEVC tiles")
    across = r.u(1)
    override = disabled = 0
    if r.u(1):  # deblocking_filter_control_present_flag
        override, disabled = r.u(1), r.u(1)
        if not disabled:
            r.se(), r.se()
    if r.u(1):
        raise ParameterSetError("HEVC scaling lists in the PPS")
    lists_modification = r.u(1)
    r.ue()  # log2_parallel_merge_level_minus2
    extension = r.u(1)
    if r.u(1):  # pps_extension_present_flag: range or screen-content tools the header reader does not know
        raise ParameterSetError("HEVC PPS extensions")
    return PpsFields(
        pps_id,
        sps_id,
        ids_end,
        bool(dependent),
        bool(output_flag),
        extra,
        bool(cabac_init),
        num_l0_default,
        bool(chroma_offsets),
        bool(weighted),
        bool(wavefront),
        bool(across),
        bool(override),
        bool(disabled),
        bool(lists_modification),
        bool(extension),
    )


def slice_header_end(nal: bytes, sps: SpsFields, pps: PpsFields) -> tuple[bytes, int, int, int]:
    """(RBSP, bit position of slice_pic_parameter_set_id, the bit after it, the bit where
    byte_alignment() starts) of one slice segment NAL unit."""
    rbsp = unescape(nal)
    kind = nal_type(nal)
    r = Reader(rbsp, 16)
    first = r.u(1)
    if kind in _IRAP:
        r.u(1)
    id_start = r.pos
    r.ue()
    id_end = r.pos
    if not first:
        raise ParameterSetError("HEVC picture in more than one slice")
    r.u(pps.extra_bits)
    slice_type = r.ue()  # 0 B, 1 P, 2 I
    if pps.output_flag:
        r.u(1)
    temporal_mvp = False
    if kind not in _IDR:
        r.u(sps.log2_max_poc_lsb)
        if not r.u(1):  # short_term_ref_pic_set_sps_flag
            _st_ref_pic_set(r, sps.num_short_term_sets, sps.num_short_term_sets, sps.delta_pocs)
        elif sps.num_short_term_sets > 1:
            r.u((sps.num_short_term_sets - 1).bit_length())
        if sps.temporal_mvp:
            temporal_mvp = bool(r.u(1))
    sao_luma = sao_chroma = 0
    if sps.sao:
        sao_luma = r.u(1)
        sao_chroma = r.u(1) if sps.chroma_array_type else 0
    if slice_type in (0, 1):
        if slice_type == 0:
            raise ParameterSetError("HEVC B-slice in a re-encoded part")
        num_l0 = r.ue() + 1 if r.u(1) else pps.num_l0_default  # num_ref_idx_active_override_flag
        if pps.lists_modification:
            raise ParameterSetError("HEVC reference list modification")
        if pps.cabac_init:
            r.u(1)
        if temporal_mvp and num_l0 > 1:
            r.ue()  # collocated_ref_idx (a P-slice's collocated picture is in list 0)
        if pps.weighted:
            raise ParameterSetError("HEVC weighted prediction")
        r.ue()  # five_minus_max_num_merge_cand
    r.se()  # slice_qp_delta
    if pps.slice_chroma_offsets:
        r.se(), r.se()
    deblocking_off = pps.deblocking_disabled
    if pps.deblocking_override and r.u(1):
        deblocking_off = bool(r.u(1))
        if not deblocking_off:
            r.se(), r.se()
    if pps.loop_filter_across_slices and (sao_luma or sao_chroma or not deblocking_off):
        r.u(1)
    if pps.entry_points:  # wavefront rows: byte offsets into the slice data, which does not change
        count = r.ue()
        if count:
            r.u(count * (r.ue() + 1))
    if pps.header_extension:
        r.u(8 * r.ue())
    return rbsp, id_start, id_end, r.pos


def _rebuilt(rbsp: bytes, pieces: list[tuple[str, int, int]]) -> bytes:
    """A NAL unit from spans of `rbsp` ("copy", start, end) and new fields ("u4"/"ue", value, 0),
    closed by a stop bit and escaped."""
    w = Writer()
    for kind, a, b in pieces:
        if kind == "copy":
            w.copy(rbsp, a, b)
        elif kind == "u4":
            w.u(a, 4)
        else:
            w.ue(a)
    return escape(w.aligned())


def renumber_vps(nal: bytes, vps_id: int) -> bytes:
    rbsp = unescape(nal)
    return _rebuilt(rbsp, [("copy", 0, 16), ("u4", vps_id, 0), ("copy", 20, _stop_bit(rbsp))])


def renumber_sps(nal: bytes, sps_id: int, vps_id: int) -> bytes:
    rbsp, f = unescape(nal), parse_sps(nal)
    return _rebuilt(
        rbsp,
        [
            ("copy", 0, f.vps_bits),
            ("u4", vps_id, 0),
            ("copy", f.vps_bits + 4, f.id_start),
            ("ue", sps_id, 0),
            ("copy", f.id_end, _stop_bit(rbsp)),
        ],
    )


def renumber_pps(nal: bytes, pps_id: int, sps_id: int) -> bytes:
    rbsp, f = unescape(nal), parse_pps(nal)
    return _rebuilt(rbsp, [("copy", 0, 16), ("ue", pps_id, 0), ("ue", sps_id, 0), ("copy", f.ids_end, _stop_bit(rbsp))])


def renumber_slice(nal: bytes, sps: SpsFields, pps: PpsFields, pps_id: int) -> bytes:
    """The slice segment with its header naming `pps_id`; the slice data is moved, not changed."""
    rbsp, id_start, id_end, end = slice_header_end(nal, sps, pps)
    data = (end + 8) // 8  # byte_alignment(): a one and zeros up to the byte where the data starts
    check = Reader(rbsp, end)
    if check.u(1) != 1 or check.u(8 * data - end - 1) != 0:
        raise ParameterSetError("HEVC slice header not where it was expected to end")
    w = Writer()
    w.copy(rbsp, 0, id_start)
    w.ue(pps_id)
    w.copy(rbsp, id_end, end)
    return escape(w.aligned() + rbsp[data:])


@dataclass(frozen=True)
class HvcConfig:
    """An hvcC record: its 22 header bytes and its arrays of NAL units by type."""

    header: bytes
    arrays: tuple[tuple[int, tuple[bytes, ...]], ...]  # (first byte: completeness and NAL type, units)

    @classmethod
    def parse(cls, record: bytes) -> "HvcConfig":
        if len(record) < 23 or record[0] != 1:
            raise ParameterSetError("not an hvcC record")
        pos, arrays = 23, []
        for _ in range(record[22]):
            if pos + 3 > len(record):
                raise ParameterSetError("hvcC record ends early")
            kind, count = record[pos], int.from_bytes(record[pos + 1 : pos + 3], "big")
            units, pos = sized_units(record, pos + 3, count)
            arrays.append((kind, tuple(units)))
        return cls(bytes(record[:22]), tuple(arrays))

    @property
    def length_size(self) -> int:
        return (self.header[21] & 3) + 1

    def units(self, kind: int) -> tuple[bytes, ...]:
        return tuple(u for k, units in self.arrays for u in units if k & 0x3F == kind)

    def to_bytes(self) -> bytes:
        out = bytearray(self.header) + bytes([len(self.arrays)])
        for kind, units in self.arrays:
            out += bytes([kind]) + len(units).to_bytes(2, "big")
            for unit in units:
                out += len(unit).to_bytes(2, "big") + unit
        return bytes(out)

    def with_units(self, added: dict[int, list[bytes]]) -> "HvcConfig":
        """This record with units added to the arrays of their types (created where missing)."""
        arrays = [(k, units + tuple(added.get(k & 0x3F, ()))) for k, units in self.arrays]
        for kind in added:
            if not any(k & 0x3F == kind for k, _ in arrays):
                arrays.append((0x80 | kind, tuple(added[kind])))
        return HvcConfig(self.header, tuple(arrays))


@dataclass
class Renumbering:
    """The re-encoded part's parameter sets under ids the source does not use, and what its slice
    headers need to be rewritten: its SPS and PPS fields, and the new PPS id."""

    sets: dict[int, list[bytes]]
    sps: SpsFields
    pps: PpsFields
    pps_id: int

    def packet(self, data: bytes, length_size: int) -> bytes:
        """One length-prefixed access unit of the part, its slices renamed; parameter sets in band
        are left out (they are all in the sample description)."""
        out = bytearray()
        for _, nal in nal_units(data, length_size):
            kind = nal_type(nal)
            if kind in (VPS, SPS, PPS):
                continue
            if kind < 32:
                nal = renumber_slice(nal, self.sps, self.pps, self.pps_id)
            out += len(nal).to_bytes(length_size, "big") + nal
        return bytes(out)


def renumbering(source: HvcConfig, part: HvcConfig) -> Renumbering:
    """New ids for the part's one VPS, SPS and PPS: the lowest ones the source does not use."""
    vps, sps, pps = part.units(VPS), part.units(SPS), part.units(PPS)
    if (len(vps), len(sps), len(pps)) != (1, 1, 1):
        raise ParameterSetError("the re-encoded part has more than one parameter set of a kind")
    used_vps = {Reader(unescape(u), 16).u(4) for u in source.units(VPS)}
    used_sps = {parse_sps(u).sps_id for u in source.units(SPS)}
    used_pps = {parse_pps(u).pps_id for u in source.units(PPS)}
    vps_id = min(set(range(16)) - used_vps)
    sps_id = min(set(range(16)) - used_sps)
    pps_id = min(set(range(64)) - used_pps)
    sets = {
        VPS: [renumber_vps(vps[0], vps_id)],
        SPS: [renumber_sps(sps[0], sps_id, vps_id)],
        PPS: [renumber_pps(pps[0], pps_id, sps_id)],
    }
    return Renumbering(sets, parse_sps(sps[0]), parse_pps(pps[0]), pps_id)
