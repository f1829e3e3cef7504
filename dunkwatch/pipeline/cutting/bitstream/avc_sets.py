"""H.264 parameter sets as an MP4 track carries them (the avcC record): read their ids, and merge
the records of two encoders into one, so a clip whose head was re-encoded and whose rest is the
original's bitstream names both sets in its one sample description. Pure bytes in, bytes out.

Only possible when the ids differ: x264 numbers its sets as told (`sps-id`), so the re-encoded
parts take ids the source does not use. (x265 cannot be told: hevc_sets renumbers afterwards.)
"""

from __future__ import annotations

from dataclasses import dataclass

from dunkwatch.pipeline.cutting.bitstream.nal_bits import ParameterSetError, Reader, sized_units, unescape


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
