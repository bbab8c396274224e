"""A decompression bomb: a PNG of a few kilobytes that declares 13,000 × 13,000 pixels (a
one-bit palette image of zeros; decoding it to RGB would take about half a gigabyte)."""

from __future__ import annotations

import struct
import zlib
from functools import cache

SIDE = 13_000


@cache
def bomb_png(side: int = SIDE) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", side, side, 1, 3, 0, 0, 0)
    row = b"\x00" + bytes((side + 7) // 8)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"PLTE", b"\x00\x00\x00\xff\xff\xff")
        + chunk(b"IDAT", zlib.compress(row * side, 9))
        + chunk(b"IEND", b"")
    )
