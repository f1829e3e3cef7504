"""Bits of H.264 and HEVC NAL units: emulation prevention, Exp-Golomb fields read and written,
and which pictures nothing refers to. Pure bytes in, bytes out; shared by the smart cut's
parameter sets (avc_sets, hevc_sets) and the frame reader, so it sits below both."""

from __future__ import annotations

from typing import Iterator


class ParameterSetError(ValueError):
    """A record or NAL unit this code cannot read or rewrite: the caller re-encodes instead."""


def unescape(nal: bytes) -> bytes:
    out = bytearray()
    zeros = 0
    for b in nal:
        if zeros >= 2 and b == 3:
            zeros = 0
            continue
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def escape(rbsp: bytes) -> bytes:
    """Emulation prevention: no 00 00 0x (x <= 3) inside a NAL unit."""
    out = bytearray()
    zeros = 0
    for b in rbsp:
        if zeros >= 2 and b <= 3:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    if out and out[-1] == 0:  # a NAL unit never ends in a zero byte (cabac_zero_words)
        out.append(3)
    return bytes(out)


class Reader:
    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def u(self, n: int) -> int:
        value = 0
        for _ in range(n):
            if self.pos >= 8 * len(self.data):
                raise ParameterSetError("NAL unit syntax ends early")
            value = value << 1 | (self.data[self.pos // 8] >> (7 - self.pos % 8)) & 1
            self.pos += 1
        return value

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ParameterSetError("bad Exp-Golomb code")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k % 2 else -(k // 2)


class Writer:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, value: int, n: int) -> None:
        self.bits += [(value >> (n - 1 - i)) & 1 for i in range(n)]

    def ue(self, value: int) -> None:
        code = value + 1
        self.u(0, code.bit_length() - 1)
        self.u(code, code.bit_length())

    def copy(self, data: bytes, start: int, end: int) -> None:
        self.bits += [(data[i // 8] >> (7 - i % 8)) & 1 for i in range(start, end)]

    def aligned(self) -> bytes:
        """The bits with byte_alignment() / rbsp_trailing_bits(): a one, then zeros to the byte."""
        bits = self.bits + [1] + [0] * (-(len(self.bits) + 1) % 8)
        return bytes(int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8))


def sized_units(record: bytes, pos: int, count: int) -> tuple[list[bytes], int]:
    """`count` units each after a 2-byte size, as avcC and hvcC list parameter sets; (units, end)."""
    units = []
    for _ in range(count):
        size = int.from_bytes(record[pos : pos + 2], "big")
        units.append(bytes(record[pos + 2 : pos + 2 + size]))
        pos += 2 + size
        if pos > len(record):
            raise ParameterSetError("parameter set record ends early")
    return units, pos


def nal_units(data: bytes, length_size: int) -> Iterator[tuple[int, bytes]]:
    """(offset of its header byte, NAL unit) of each unit in a length-prefixed MP4 sample."""
    pos = 0
    while pos + length_size < len(data):
        size = int.from_bytes(data[pos : pos + length_size], "big")
        yield pos + length_size, data[pos + length_size : pos + length_size + size]
        pos += length_size + size


def length_size(codec: str, record: bytes) -> int:
    """Bytes of each NAL unit's length field, as an avcC (byte 4) or hvcC (byte 21) record says."""
    at = 4 if codec == "h264" else 21
    return (record[at] & 3) + 1 if len(record) > at else 4


# HEVC's sub-layer non-reference pictures (TRAIL_N, TSA_N, STSA_N, RADL_N, RASL_N, RSV_VCL_N10-14).
_HEVC_UNREFERENCED = frozenset(range(0, 16, 2))


def unreferenced(sample: bytes, codec: str, length: int) -> bool:
    """Whether an MP4 sample's picture is one no other picture refers to, from its NAL headers
    alone: H.264 slices with nal_ref_idc 0, HEVC's non-reference types. These are the pictures
    FFmpeg's skip_frame NONREF leaves undecoded. False for any other codec, or no slice."""
    if codec not in ("h264", "hevc"):
        return False
    slices: list[bool] = []  # per slice: whether nothing refers to its picture
    for _, nal in nal_units(sample, length):
        if not nal:
            continue
        if codec == "h264":
            if nal[0] & 0x1F in (1, 5):  # a slice; nal_ref_idc in the top bits
                slices.append((nal[0] >> 5) & 3 == 0)
        elif (kind := (nal[0] >> 1) & 0x3F) < 32:  # a slice (VCL unit)
            slices.append(kind in _HEVC_UNREFERENCED)
    return bool(slices) and all(slices)
