"""The chart photo: a real PNG with bars in both colours and Chinese text drawn from the font."""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import replace

import pytest
from PIL import Image

from bot.reports.chart import PREVIOUS_COLOUR, THIS_COLOUR, render_png
from bot.reports.model import ReportModel


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _image(data: bytes) -> Image.Image:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.convert("RGB")


async def test_chart_is_a_png_with_both_series(
    model: ReportModel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph … missing from font(s)"
        data = render_png(model)
    image = _image(data)
    assert image.size == (1200, 672)
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # text is anti-aliased: not a blank image
    counts = {rgb: n for n, rgb in colours}
    assert counts.get(_rgb(THIS_COLOUR), 0) > 10_000
    assert counts.get(_rgb(PREVIOUS_COLOUR), 0) > 10_000
    assert not caplog.records


async def test_chinese_labels_are_drawn(model: ReportModel) -> None:
    """Titles that differ only in Chinese characters give different pictures: the glyphs are
    really drawn (a missing font would draw the same empty boxes for both)."""
    one = _image(render_png(replace(model, site="阳光花园")))
    other = _image(render_png(replace(model, site="翠湖苑园")))
    top = (0, 0, 1200, 60)
    assert one.crop(top).tobytes() != other.crop(top).tobytes()
    dark = sum(one.crop(top).convert("L").histogram()[:70])
    assert dark > 500


async def test_chart_without_previous_inspection(model: ReportModel) -> None:
    image = _image(render_png(replace(model, previous=None)))
    counts = {rgb: n for n, rgb in image.getcolors(maxcolors=1 << 20) or []}
    assert counts.get(_rgb(THIS_COLOUR), 0) > 10_000
    assert counts.get(_rgb(PREVIOUS_COLOUR), 0) == 0
