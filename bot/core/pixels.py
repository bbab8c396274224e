"""The pixel limit every image decode obeys. A PNG of a few kilobytes can declare 13,000 ×
13,000 pixels and take most of a gigabyte to decode, so images are opened only through
`open_image`: it reads the header (nothing decoded yet) and refuses an image over MAX_PIXELS.
Pillow's own limit is set to the same number here, so a decode that went around this module
would still stop (Pillow refuses at twice its limit and only warns below that; the warning is
silenced because `open_image` refuses those images itself)."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

import imagehash
from PIL import Image, UnidentifiedImageError

MAX_PIXELS = 64_000_000
"""About 9,200 × 6,900: every phone's normal photo, and the 50-megapixel modes, fit."""

Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.simplefilter("ignore", Image.DecompressionBombWarning)


def open_image(source: Path | IO[bytes]) -> Image.Image:
    """The image, opened (header read, pixels not decoded); Image.DecompressionBombError over
    MAX_PIXELS, and Pillow's own errors for what is no image."""
    image = Image.open(source)
    width, height = image.size
    if width * height > MAX_PIXELS:
        image.close()
        raise Image.DecompressionBombError(f"{width}×{height} pixels, over {MAX_PIXELS}")
    return image


def too_many_pixels(source: Path | IO[bytes]) -> bool:
    """True if the header declares more than MAX_PIXELS; False for an image within the limit
    and for anything Pillow cannot read (HEIC, say: it is then never decoded either)."""
    try:
        open_image(source).close()
    except Image.DecompressionBombError:
        return True
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return False
    return False


_EXIF_IFD = 0x8769
_DATE_TIME_ORIGINAL = 0x9003


def capture_time(source: Path | IO[bytes]) -> datetime | None:
    """When the camera says the photo was taken (EXIF DateTimeOriginal), as the camera's own
    wall-clock time with no zone; None when the file carries no such time (chat apps that
    recompress photos drop EXIF) or anything about it is unreadable."""
    try:
        with open_image(source) as image:
            raw = image.getexif().get_ifd(_EXIF_IFD).get(_DATE_TIME_ORIGINAL)
    except (Image.DecompressionBombError, UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    if not isinstance(raw, str):
        return None
    try:
        return datetime.strptime(raw.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


_GPS_IFD = 0x8825
_LATITUDE_REF, _LATITUDE, _LONGITUDE_REF, _LONGITUDE = 1, 2, 3, 4


def gps_position(source: Path | IO[bytes]) -> tuple[float, float] | None:
    """Where the photo was taken (EXIF GPS, degrees: latitude north +, longitude east +);
    None when the file carries no position or an unreadable or impossible one (0, 0 included:
    a phone without a fix writes that)."""
    try:
        with open_image(source) as image:
            gps = image.getexif().get_ifd(_GPS_IFD)
        latitude = _degrees(gps.get(_LATITUDE), gps.get(_LATITUDE_REF), "S")
        longitude = _degrees(gps.get(_LONGITUDE), gps.get(_LONGITUDE_REF), "W")
    except (Image.DecompressionBombError, UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    except (TypeError, ZeroDivisionError):
        return None
    if latitude is None or longitude is None or (latitude, longitude) == (0.0, 0.0):
        return None
    if abs(latitude) > 90 or abs(longitude) > 180:
        return None
    return latitude, longitude


def _degrees(value: object, ref: object, negative: str) -> float | None:
    """Degrees from EXIF's (degrees, minutes, seconds) rationals and its N/S or E/W letter."""
    if not isinstance(value, tuple) or len(value) != 3:
        return None
    degrees, minutes, seconds = (float(part) for part in value)
    result = degrees + minutes / 60 + seconds / 3600
    if result != result:  # NaN: a rational with a zero denominator
        return None
    return -result if isinstance(ref, str) and ref.strip("\x00 ").upper() == negative else result


def perceptual_hash(source: Path | IO[bytes]) -> str | None:
    """The photo's perceptual hash (ImageHash's pHash, 64 bits as 16 hex digits): a re-sent,
    resized or recompressed copy lands within a few bits of it, a different scene far away
    (figures in docs/EVIDENCE.md); None for what cannot be read."""
    try:
        with open_image(source) as image:
            image.draft("L", (256, 256))
            return str(imagehash.phash(image))
    except (Image.DecompressionBombError, UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None


def hash_distance(a: str, b: str) -> int:
    """How many of the 64 bits two perceptual hashes differ in."""
    return imagehash.hex_to_hash(a) - imagehash.hex_to_hash(b)


@dataclass(frozen=True, slots=True)
class PhotoFacts:
    """What a photo says of itself: when it was taken, its perceptual hash, where it was taken."""

    taken_at: datetime | None
    phash: str | None
    position: tuple[float, float] | None


def photo_facts(source: Path | bytes) -> PhotoFacts:
    """Read a stored photo's facts in one go. Decoding is CPU work of several milliseconds, so
    the adapters run this in a worker thread, not on the event loop where it would hold up
    every chat (the paced p99 goal, docs/BENCHMARKS.md)."""

    def opened() -> Path | IO[bytes]:
        return source if isinstance(source, Path) else io.BytesIO(source)

    return PhotoFacts(
        taken_at=capture_time(opened()),
        phash=perceptual_hash(opened()),
        position=gps_position(opened()),
    )
