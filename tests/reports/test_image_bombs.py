"""An image bomb already in the evidence store (stored before uploads were checked for their
pixels): the report worker does not decode it, and the report marks the photo unreadable."""

from __future__ import annotations

import io
import re
import time
from concurrent.futures import ProcessPoolExecutor

from openpyxl import load_workbook
from pypdf import PdfReader

from bot.core.report_request import ReportFormat
from bot.reports.images import scale
from bot.reports.service import ReportService
from storage.records import EvidenceKind
from tests.reports.data import Built
from tests.security.bombs import bomb_png


async def test_a_stored_image_bomb_is_not_decoded_and_the_report_says_so(
    built: Built, pool: ProcessPoolExecutor
) -> None:
    bomb = bomb_png()
    started = time.monotonic()
    assert scale(bomb) is None
    assert time.monotonic() - started < 0.5, "only the header was read"

    stored = await built.db.files.put(bomb)
    async with built.db.transaction() as tx:
        await tx.evidence.add(
            stored.sha256,
            stored.size,
            mime="image/png",
            kind=EvidenceKind.PHOTO,
            created_by=built.people["王检查"],
            inspection_id=built.inspection_id,
            item_no=1,
        )
    service = ReportService(built.db, executor=pool)
    pdf = await service.render(built.inspection_id, ReportFormat.PDF)
    reader = PdfReader(io.BytesIO(await built.db.files.get(pdf.sha256)))
    text = re.sub(r"\s+", "", "\n".join(page.extract_text() for page in reader.pages))
    assert "第1项·照片1/1" in text and "照片无法读取" in text
    assert sum(len(page.images) for page in reader.pages) == len(built.photo_hashes)

    xlsx = await service.render(built.inspection_id, ReportFormat.XLSX)
    sheet = load_workbook(io.BytesIO(await built.db.files.get(xlsx.sha256)))["照片"]
    assert "照片无法读取" in [cell.value for row in sheet.iter_rows() for cell in row]
    assert len(sheet._images) == len(built.photo_hashes)
