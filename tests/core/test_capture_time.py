"""The capture time read from a photo's EXIF (bot.core.pixels.capture_time)."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

from PIL import Image

from bot.core.pixels import capture_time, photo_facts

EXIF_IFD = 0x8769
DATE_TIME_ORIGINAL = 0x9003


def photo(original: str | None = None, *, fmt: str = "JPEG") -> bytes:
    image = Image.new("RGB", (64, 48), (120, 130, 140))
    exif = Image.Exif()
    if original is not None:
        exif.get_ifd(EXIF_IFD)[DATE_TIME_ORIGINAL] = original
    out = io.BytesIO()
    image.save(out, fmt, exif=exif.tobytes())
    return out.getvalue()


def recompressed(data: bytes) -> bytes:
    """What a chat app does to a photo: decode, re-encode, no EXIF carried over."""
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).save(out, "JPEG", quality=70)
    return out.getvalue()


def test_the_capture_time_is_read_from_exif() -> None:
    assert capture_time(io.BytesIO(photo("2026:11:03 09:41:07"))) == datetime(2026, 11, 3, 9, 41, 7)


def test_a_png_with_exif_is_read_as_well() -> None:
    png = photo("2026:11:03 09:41:07", fmt="PNG")
    assert capture_time(io.BytesIO(png)) == datetime(2026, 11, 3, 9, 41, 7)


def test_a_file_path_is_read_as_well(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(photo("2026:12:01 17:05:00"))
    assert capture_time(path) == datetime(2026, 12, 1, 17, 5)


def test_no_exif_means_no_capture_time() -> None:
    assert capture_time(io.BytesIO(photo())) is None
    assert capture_time(io.BytesIO(recompressed(photo("2026:11:03 09:41:07")))) is None


def test_an_edited_time_is_read_as_the_file_says() -> None:
    """EXIF is the file's own claim: a rewritten DateTimeOriginal is what is read (the limit
    docs/EVIDENCE.md states)."""
    assert capture_time(io.BytesIO(photo("2025:01:01 08:00:00"))) == datetime(2025, 1, 1, 8)


def test_an_unreadable_time_or_file_gives_none() -> None:
    assert capture_time(io.BytesIO(photo("0000:00:00 00:00:00"))) is None
    assert capture_time(io.BytesIO(photo("yesterday"))) is None
    assert capture_time(io.BytesIO(b"not an image")) is None


def test_photo_facts_read_bytes_and_files_alike(tmp_path: Path) -> None:
    data = photo("2026:11:03 09:41:07")
    path = tmp_path / "p.jpg"
    path.write_bytes(data)
    from_bytes, from_file = photo_facts(data), photo_facts(path)
    assert from_bytes == from_file
    assert from_bytes.taken_at == datetime(2026, 11, 3, 9, 41, 7)
    assert from_bytes.phash is not None and len(from_bytes.phash) == 16
    assert from_bytes.position is None
