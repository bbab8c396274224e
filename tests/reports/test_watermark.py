"""The watermark band on every photo a report prints (Excel 照片 sheet and PDF), read back from
the rendered files: its bottom strip differs from the plain rendition, the rest does not, and
the stored original is untouched."""

from __future__ import annotations

import hashlib
import io
from datetime import datetime

from openpyxl import load_workbook
from PIL import Image, ImageChops, ImageStat
from pypdf import PdfReader

from bot.reports.excel import render_xlsx
from bot.reports.images import scale
from bot.reports.model import load_report
from bot.reports.pdf import render_pdf
from bot.reports.service import load_photos
from bot.reports.watermark import stamp
from storage.records import EvidenceKind
from tests.reports.data import Built, jpeg


def _difference(a: Image.Image, b: Image.Image, box: tuple[float, float]) -> float:
    """Mean absolute difference of the horizontal strip between fractions `box` of height."""
    top, bottom = (round(a.height * f) for f in box)
    strip = (0, top, a.width, bottom)
    diff = ImageChops.difference(a.convert("L").crop(strip), b.convert("L").crop(strip))
    return float(ImageStat.Stat(diff).mean[0])


def _banded(embedded: bytes, original: bytes) -> bool:
    """True if the embedded image is the original's plain rendition with a band at the bottom."""
    plain = scale(original)
    assert plain is not None
    shown = Image.open(io.BytesIO(embedded))
    reference = Image.open(io.BytesIO(plain.data)).resize(shown.size)
    return (
        _difference(shown, reference, (0, 0.8)) < 4
        and _difference(shown, reference, (0.95, 1)) > 20
    )


async def test_every_printed_photo_carries_the_band(built: Built) -> None:
    model = await load_report(built.db, built.inspection_id)
    photos = await load_photos(built.db.files, model)
    first = next(p for i in model.items for p in i.photos)
    assert first.band.startswith("阳光花园 · 第 ")
    assert " · 接收 2026-11-02 09:00 · 王检查" in first.band

    sheet = load_workbook(io.BytesIO(render_xlsx(model, photos)))["照片"]
    embedded = [image._data() for image in sheet._images]
    assert len(embedded) == 8
    originals = list(photos.values())
    assert all(any(_banded(e, o) for o in originals) for e in embedded)

    reader = PdfReader(io.BytesIO(render_pdf(model, photos)))
    printed = [image.data for page in reader.pages for image in page.images]
    assert len(printed) == 8
    assert all(any(_banded(p, o) for o in originals) for p in printed)

    for digest, data in photos.items():  # the evidence itself is never altered
        assert hashlib.sha256(data).hexdigest() == digest
        assert await built.db.files.get(digest) == data


async def test_the_band_names_the_capture_time_when_the_photo_has_one(built: Built) -> None:
    stored = await built.db.files.put(jpeg(400))
    async with built.db.transaction() as tx:
        await tx.evidence.add(
            stored.sha256,
            stored.size,
            mime="image/jpeg",
            kind=EvidenceKind.PHOTO,
            created_by=built.people["王检查"],
            inspection_id=built.inspection_id,
            item_no=62,
            taken_at=datetime(2026, 11, 2, 8, 45),
        )
    model = await load_report(built.db, built.inspection_id)
    (photo,) = next(i for i in model.items if i.no == 62).photos
    assert photo.band == "阳光花园 · 第 62 项 · 拍摄 2026-11-02 08:45 · 王检查"


def test_the_band_is_drawn_in_cjk_and_latin_glyphs() -> None:
    """Each script is drawn (no empty boxes): the band's CJK and digit halves both mark pixels."""
    blank = Image.new("RGB", (640, 120), (200, 200, 200))
    cjk = stamp(blank, "阳光花园")
    digits = stamp(blank, "2026")
    bare = stamp(blank, " ")
    assert ImageChops.difference(cjk, bare).getbbox() is not None
    assert ImageChops.difference(digits, bare).getbbox() is not None
