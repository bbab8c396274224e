"""The band printed across the bottom of a photo wherever another person sees it, in the manner
of the 水印相机 field staff use: 项目 · 第 N 项 · 拍摄/接收 time · who took it.

Only renditions carry it: the stored original is never touched (its SHA-256 is its identity).
Text is drawn per character run in DejaVu Sans (Latin, digits, ·) or Droid Sans Fallback (CJK),
as the report fonts are (bot.reports.fonts)."""

from __future__ import annotations

from functools import cache

from PIL import Image, ImageDraw, ImageFont

from bot.reports.fonts import cjk_font, latin_font

BAND_OPACITY = 150
"""0–255: how dark the band behind the text is (the photo shows through a little)."""


@cache
def _font(cjk: bool, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(cjk_font() if cjk else latin_font()), size)


def _runs(text: str) -> list[tuple[bool, str]]:
    """The text cut into runs of CJK (True) and other characters."""
    runs: list[tuple[bool, str]] = []
    for char in text:
        cjk = ord(char) >= 0x2E80
        if runs and runs[-1][0] == cjk:
            runs[-1] = (cjk, runs[-1][1] + char)
        else:
            runs.append((cjk, char))
    return runs


def stamp(image: Image.Image, band: str) -> Image.Image:
    """The image (RGB) with `band` written on a dark strip across its bottom; a text too long
    for the width is drawn smaller."""
    size = max(10, image.width // 32)
    runs = _runs(band)
    while size > 8 and sum(_font(c, size).getlength(t) for c, t in runs) > image.width - size:
        size -= 1
    height = size * 2
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rectangle((0, image.height - height, image.width, image.height), (0, 0, 0, BAND_OPACITY))
    x = size / 2
    y = image.height - height / 2
    for cjk, text in runs:
        font = _font(cjk, size)
        draw.text((x, y), text, font=font, fill=(255, 255, 255, 255), anchor="lm")
        x += font.getlength(text)
    return Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
