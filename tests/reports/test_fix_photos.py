"""Fixed items in the report: the photos of the fix beside the photos of the finding, labelled
整改前 / 整改后, in the Excel 照片 sheet and in the PDF."""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook
from pypdf import PdfReader

from bot.reports.excel import PHOTOS_PER_ROW, render_xlsx
from bot.reports.model import load_report
from bot.reports.pdf import render_pdf
from bot.reports.service import load_photos
from storage.records import EvidenceKind, EvidenceRole
from tests.reports.data import Built, jpeg


async def _fix_photo(built: Built, item_no: int, index: int, caption: str | None = None) -> str:
    stored = await built.db.files.put(jpeg(100 + index))
    async with built.db.transaction() as tx:
        task = next(
            t for t in await tx.tasks.for_inspection(built.inspection_id) if t.item_no == item_no
        )
        await tx.evidence.add(
            stored.sha256,
            stored.size,
            mime="image/jpeg",
            kind=EvidenceKind.PHOTO,
            role=EvidenceRole.FIX,
            created_by=built.people["李四"],
            caption=caption,
            task_id=task.id,
        )
    return stored.sha256


async def test_fixed_items_show_after_photos_beside_before_photos(built: Built) -> None:
    # Item 13's task is 待复查 (a fix was submitted); item 7's is still 待整改.
    after = [await _fix_photo(built, 13, 1, "已补签字"), await _fix_photo(built, 13, 2)]
    await _fix_photo(built, 7, 3)
    model = await load_report(built.db, built.inspection_id)
    (item13,) = [i for i in model.items if i.no == 13]
    assert [p.sha256 for p in item13.fix_photos] == after
    assert not next(i for i in model.items if i.no == 7).fix_photos
    assert model.photo_count == 8 + 2
    photos = await load_photos(built.db.files, model)
    assert set(after) <= set(photos)

    sheet = load_workbook(io.BytesIO(render_xlsx(model, photos)))["照片"]
    assert sheet.cell(row=1, column=3).value == "整改前"
    assert sheet.cell(row=1, column=3 + PHOTOS_PER_ROW).value == "整改后"
    images = sheet._images
    assert len(images) == 10
    row13 = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(row=r, column=1).value == 13)
    placed = sorted(i.anchor._from.col for i in images if i.anchor._from.row + 1 == row13)
    assert placed == [2, 2 + PHOTOS_PER_ROW, 3 + PHOTOS_PER_ROW]  # C; F and G (0-based)
    assert "整改说明：已补签字" in sheet.cell(row=row13, column=2).value

    reader = PdfReader(io.BytesIO(render_pdf(model, photos)))
    text = re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))
    for label in ("第13项·整改前1/1", "第13项·整改后1/2·已补签字", "第13项·整改后2/2"):
        assert label in text, label
    assert "第7项·照片1/1" in text
    assert sum(len(page.images) for page in reader.pages) == 10
