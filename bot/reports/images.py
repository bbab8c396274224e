"""Evidence photos scaled down for embedding: phones send 3–12 MP JPEGs, a report needs far less,
and 60 full-size photos would push a report past what a chat will carry."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from bot.core.pixels import open_image
from bot.reports.watermark import stamp

log = logging.getLogger(__name__)

REPORT_SIDE = 800
"""Long side of a photo in a report: about 300 dpi at the 60 mm a photo gets on the PDF page."""
ORIENTATION = 0x0112
# EXIF orientation → the transpose that makes the photo upright (as phones record it).
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class Scaled:
    data: bytes
    width: int
    height: int


def scale(
    data: bytes, max_side: int = REPORT_SIDE, quality: int = 80, band: str = ""
) -> Scaled | None:
    """A JPEG no larger than max_side × max_side, upright, with the watermark `band` across its
    bottom when one is given; None if the bytes are no image or one over the pixel limit
    (bot.core.pixels: it is not decoded at all)."""
    try:
        with open_image(io.BytesIO(data)) as opened:
            # JPEG draft mode decodes at 1/2, 1/4 or 1/8 scale directly: much faster than
            # decoding the full photo and resizing it.
            width, height = opened.size
            ratio = max_side / max(width, height, 1)
            opened.draft("RGB", (round(width * ratio), round(height * ratio)))
            image = opened.convert("RGB") if opened.mode != "RGB" else opened.copy()
            orientation = opened.getexif().get(ORIENTATION, 1)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        log.warning("a photo could not be read for the report: %s", exc)
        return None
    image.thumbnail((max_side, max_side), Image.Resampling.BICUBIC)
    if orientation in TRANSPOSE:
        image = image.transpose(TRANSPOSE[orientation])
    if band:
        image = stamp(image, band)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return Scaled(out.getvalue(), image.width, image.height)
