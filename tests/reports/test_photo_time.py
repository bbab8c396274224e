"""Capture-time flags in the report: an inspection photo taken more than
`photo_max_age_hours` before the inspection started, and a fix photo taken before its task was
created, are noted in the item's 备注 (the Excel sheet and the PDF); photos without a capture
time, or taken in time, are not."""

from __future__ import annotations

import io
import re
from datetime import datetime

from openpyxl import load_workbook
from pypdf import PdfReader

from bot.core.pixels import perceptual_hash
from bot.reports.excel import render_xlsx
from bot.reports.model import ReportModel, load_report
from bot.reports.pdf import render_pdf
from bot.reports.service import load_photos
from storage.records import EvidenceKind, EvidenceRole
from tests.core.test_photo_gps import SITE, offset
from tests.reports.data import Built, jpeg

OLD_FINDING = "照片拍摄于 2026-10-30 08:00，早于检查开始 24 小时以上"
OLD_FIX = "整改后照片拍摄于 2026-10-20 18:30，早于整改任务创建"


async def _photo(built: Built, item_no: int, index: int, taken_at: datetime | None) -> None:
    """A finding photo on item `item_no`; the inspection started 2026-11-02 09:00 (Shanghai)."""
    stored = await built.db.files.put(jpeg(200 + index))
    async with built.db.transaction() as tx:
        await tx.evidence.add(
            stored.sha256,
            stored.size,
            mime="image/jpeg",
            kind=EvidenceKind.PHOTO,
            created_by=built.people["王检查"],
            inspection_id=built.inspection_id,
            item_no=item_no,
            taken_at=taken_at,
        )


async def _fix(built: Built, item_no: int, taken_at: datetime) -> None:
    stored = await built.db.files.put(jpeg(300))
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
            task_id=task.id,
            taken_at=taken_at,
        )


def _remark(model: ReportModel, no: int) -> str:
    return next(i.remark for i in model.items if i.no == no)


async def test_old_photos_are_noted_in_the_report(built: Built) -> None:
    await _photo(built, 1, 1, datetime(2026, 10, 30, 8, 0))
    await _photo(built, 2, 2, datetime(2026, 11, 1, 10, 0))  # 23 hours before: in time
    await _photo(built, 4, 3, None)  # 无拍摄时间
    await _fix(built, 13, datetime(2026, 10, 20, 18, 30))  # item 13's task is 待复查
    model = await load_report(built.db, built.inspection_id)
    assert _remark(model, 1) == OLD_FINDING
    assert _remark(model, 2) == "" and _remark(model, 4) == ""
    assert OLD_FIX in _remark(model, 13)
    photos = await load_photos(built.db.files, model)

    sheet = load_workbook(io.BytesIO(render_xlsx(model, photos))).worksheets[0]
    cells = {str(c.value) for row in sheet.iter_rows() for c in row if c.value}
    assert OLD_FINDING in cells
    assert any(OLD_FIX in cell for cell in cells)

    reader = PdfReader(io.BytesIO(render_pdf(model, photos)))
    text = re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))
    assert re.sub(r"\s+", "", OLD_FINDING) in text
    assert re.sub(r"\s+", "", OLD_FIX) in text


async def test_the_age_limit_is_a_company_setting(built: Built) -> None:
    await _photo(built, 1, 1, datetime(2026, 10, 30, 8, 0))
    async with built.db.transaction() as tx:
        await tx.settings.set("photo_max_age_hours", 96)
    assert _remark(await load_report(built.db, built.inspection_id), 1) == ""
    async with built.db.transaction() as tx:
        await tx.settings.set("photo_max_age_hours", 48)
    remark = _remark(await load_report(built.db, built.inspection_id), 1)
    assert remark == "照片拍摄于 2026-10-30 08:00，早于检查开始 48 小时以上"


async def test_a_reused_fix_photo_is_noted_in_the_report(built: Built) -> None:
    """Item 13's fix photo is its finding photo re-sent (the same perceptual hash)."""
    data = jpeg(500)
    digest = perceptual_hash(io.BytesIO(data))
    stored = await built.db.files.put(data)
    async with built.db.transaction() as tx:
        task = next(
            t for t in await tx.tasks.for_inspection(built.inspection_id) if t.item_no == 13
        )
        for role, target in (
            (EvidenceRole.FINDING, {"inspection_id": built.inspection_id, "item_no": 13}),
            (EvidenceRole.FIX, {"task_id": task.id}),
        ):
            await tx.evidence.add(
                stored.sha256,
                stored.size,
                mime="image/jpeg",
                kind=EvidenceKind.PHOTO,
                role=role,
                created_by=built.people["王检查"],
                phash=digest,
                **target,  # type: ignore[arg-type]
            )
    model = await load_report(built.db, built.inspection_id)
    assert "整改后照片与 11-02 第 13 项的照片几乎相同" in _remark(model, 13)
    assert "几乎相同" not in _remark(model, 7)


async def test_photos_taken_far_from_the_site_are_noted_in_the_report(built: Built) -> None:
    """The site has coordinates: a finding photo of item 1 taken 2 km away and a fix photo of
    item 13 taken 12 km away are noted; one of item 2 taken 100 m away is not, nor any without
    GPS."""
    async with built.db.transaction() as tx:
        await tx.sites.set_position(built.site_id, SITE)
        task = next(
            t for t in await tx.tasks.for_inspection(built.inspection_id) if t.item_no == 13
        )
        for index, (target, metres) in enumerate(
            (
                ({"inspection_id": built.inspection_id, "item_no": 1}, 2000),
                ({"inspection_id": built.inspection_id, "item_no": 2}, 100),
                ({"task_id": task.id, "role": EvidenceRole.FIX}, 12_000),
            )
        ):
            stored = await built.db.files.put(jpeg(600 + index))
            await tx.evidence.add(
                stored.sha256,
                stored.size,
                mime="image/jpeg",
                kind=EvidenceKind.PHOTO,
                created_by=built.people["王检查"],
                position=offset(metres),
                **target,  # type: ignore[arg-type]
            )
    model = await load_report(built.db, built.inspection_id)
    assert _remark(model, 1) == "照片拍摄地点距项目 2.0 公里（超过 500 米）"
    assert _remark(model, 2) == ""
    assert "整改后照片拍摄地点距项目 12.0 公里（超过 500 米）" in _remark(model, 13)
    async with built.db.transaction() as tx:
        await tx.sites.set_position(built.site_id, None)
    model = await load_report(built.db, built.inspection_id)
    assert _remark(model, 1) == "" and "拍摄地点" not in _remark(model, 13)
