"""Reading the watermark band back from a photo a person was shown: the picture is the stored
original (scaled), except a dark strip across its bottom."""

from __future__ import annotations

import io

from PIL import Image, ImageChops, ImageOps, ImageStat


def _difference(a: Image.Image, b: Image.Image, box: tuple[float, float]) -> float:
    """Mean absolute difference of the horizontal strip between fractions `box` of height."""
    top, bottom = (round(a.height * f) for f in box)
    strip = (0, top, a.width, bottom)
    diff = ImageChops.difference(a.convert("L").crop(strip), b.convert("L").crop(strip))
    return float(ImageStat.Stat(diff).mean[0])


def banded(shown: bytes, original: bytes) -> bool:
    """True if `shown` is the original picture with a band across its bottom (and not the
    original file itself)."""
    if shown == original:
        return False
    seen = Image.open(io.BytesIO(shown))
    reference = ImageOps.exif_transpose(Image.open(io.BytesIO(original))).resize(seen.size)
    return (
        _difference(seen, reference, (0, 0.8)) < 6 and _difference(seen, reference, (0.95, 1)) > 20
    )
