"""Files held by :class:`tests.fakes.telegram_api.FakeTelegramAPI`: ids, sizes and bytes.

Photos get several ``PhotoSize`` entries like on Telegram (90/320/800 px on the long side,
then the original). The largest entry serves the original bytes; the smaller ones serve
small, valid, solid-grey JPEGs of exactly the advertised width and height (so a bot that
picks ``photo[0]`` instead of ``photo[-1]`` gets visibly different bytes).
"""

from __future__ import annotations

import itertools
import secrets
import struct
from dataclasses import dataclass
from typing import Any

DEFAULT_PHOTO_SIZE = (1280, 960)
_THUMB_SIDES = (90, 320, 800)
# Markers that carry the frame size (SOF0..SOF15 except DHT, JPG, DAC).
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# file_id prefixes resembling Telegram's, by kind.
_PREFIXES = {"photo": "AgAC", "document": "BQAC", "sticker": "CAAC", "video": "BAAC"}
# A stand-in sticker payload (not a decodable WebP).
STICKER_BYTES = b"RIFF\x0c\x00\x00\x00WEBPfake-sticker"


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` of a JPEG, read from its SOF marker; ``None`` if not a JPEG."""
    if not data.startswith(b"\xff\xd8"):
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xDA)):
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in _SOF_MARKERS and i + 9 <= len(data):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    return None


def grey_jpeg(width: int, height: int) -> bytes:
    """A valid baseline greyscale JPEG of ``width`` x ``height``, uniformly mid-grey.

    Each 8x8 block is coded as DC difference 0 plus end-of-block, with one-code Huffman
    tables, so every block costs two bits.
    """

    def segment(marker: int, payload: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload

    one_code_table = bytes([1] + [0] * 15) + b"\x00"  # one code of length 1, symbol 0
    blocks = -(-width // 8) * -(-height // 8)
    bits = 2 * blocks
    scan = bytearray(-(-bits // 8))
    if bits % 8:
        scan[-1] = (1 << (8 - bits % 8)) - 1  # pad the last byte with 1-bits
    return b"".join(
        [
            b"\xff\xd8",
            segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
            segment(0xDB, b"\x00" + b"\x01" * 64),
            segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00"),
            segment(0xC4, b"\x00" + one_code_table),
            segment(0xC4, b"\x10" + one_code_table),
            segment(0xDA, b"\x01\x01\x00\x00\x3f\x00"),
            bytes(scan),
            b"\xff\xd9",
        ]
    )


def _scaled(width: int, height: int, side: int) -> tuple[int, int]:
    scale = min(1.0, side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


@dataclass
class StoredFile:
    """One file the fake can serve through ``getFile`` and ``/file/bot<token>/<path>``."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_size: int
    file_path: str
    kind: str
    mime_type: str | None = None
    file_name: str | None = None
    width: int | None = None
    height: int | None = None

    def as_file(self) -> dict[str, Any]:
        """The ``File`` object ``getFile`` returns."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
            "file_path": self.file_path,
        }

    def as_photo_size(self) -> dict[str, Any]:
        """The ``PhotoSize`` object for this file."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "width": self.width,
            "height": self.height,
            "file_size": self.file_size,
        }

    def as_document(self) -> dict[str, Any]:
        """The ``Document`` object for this file."""
        doc: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
        }
        if self.file_name:
            doc["file_name"] = self.file_name
        if self.mime_type:
            doc["mime_type"] = self.mime_type
        return doc


class FileStore:
    """Registry of files by ``file_id`` and by download path."""

    def __init__(self) -> None:
        self.by_id: dict[str, StoredFile] = {}
        self.by_path: dict[str, StoredFile] = {}
        self._photo_groups: dict[str, list[StoredFile]] = {}
        self._counter = itertools.count(1)

    def add(
        self,
        data: bytes,
        *,
        kind: str,
        file_size: int | None = None,
        mime_type: str | None = None,
        file_name: str | None = None,
        width: int | None = None,
        height: int | None = None,
    ) -> StoredFile:
        """Register ``data``; ``file_size`` may claim more bytes than held (huge-file tests)."""
        n = next(self._counter)
        ext = {"photo": "jpg", "sticker": "webp"}.get(kind)
        if ext is None and file_name and "." in file_name:
            ext = file_name.rsplit(".", 1)[1]
        folder = {"photo": "photos", "sticker": "stickers"}.get(kind, f"{kind}s")
        stored = StoredFile(
            file_id=f"{_PREFIXES.get(kind, 'BQAC')}{n:06d}{secrets.token_urlsafe(24)}",
            file_unique_id=f"AQAD{n:06d}{secrets.token_urlsafe(6)}",
            data=data,
            file_size=len(data) if file_size is None else file_size,
            file_path=f"{folder}/file_{n}.{ext or 'bin'}",
            kind=kind,
            mime_type=mime_type,
            file_name=file_name,
            width=width,
            height=height,
        )
        self.by_id[stored.file_id] = stored
        self.by_path[stored.file_path] = stored
        return stored

    def add_photo(self, data: bytes) -> list[dict[str, Any]]:
        """Register a photo; return its ``PhotoSize`` list, smallest first, original last."""
        width, height = jpeg_size(data) or DEFAULT_PHOTO_SIZE
        sizes: list[StoredFile] = []
        for side in _THUMB_SIDES:
            if side >= max(width, height) and side != _THUMB_SIDES[0]:
                break
            w, h = _scaled(width, height, side)
            sizes.append(self.add(grey_jpeg(w, h), kind="photo", width=w, height=h))
        sizes.append(self.add(data, kind="photo", width=width, height=height))
        for size in sizes:
            self._photo_groups[size.file_id] = sizes
        return [size.as_photo_size() for size in sizes]

    def photo_sizes(self, file_id: str) -> list[dict[str, Any]] | None:
        """The ``PhotoSize`` list that ``file_id`` belongs to, if it is a photo."""
        group = self._photo_groups.get(file_id)
        return [size.as_photo_size() for size in group] if group else None
