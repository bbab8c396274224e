"""Labels in the report files are not HTML: a name, a title or a reason with & or < in it shows
in the Excel and the PDF as it was typed, never as an escaped entity."""

from __future__ import annotations

import dataclasses
import io
import re

from openpyxl import load_workbook
from pypdf import PdfReader

from bot.reports.excel import render_xlsx
from bot.reports.model import AppealRow, ReportModel, SignOff
from bot.reports.pdf import render_pdf

MARKED = "A&B <甲>"


def _marked(model: ReportModel) -> ReportModel:
    appeal = AppealRow(
        item_no=7,
        filed_by=MARKED,
        filed_at="2026-11-03 10:00",
        reason=MARKED,
        decision="改判",
        decided_by=MARKED,
        decided_at="2026-11-04 09:00",
        decision_reason=MARKED,
        score_before=0.0,
        score_after=1.0,
    )
    signoff = SignOff(
        inspector=MARKED,
        submitted="2026-11-02 17:00",
        status="已确认",
        responsible=MARKED,
        confirmed="2026-11-05 08:00",
        how="确认",
        deadline="2026-11-05 24:00",
        appeals=(appeal,),
    )
    return dataclasses.replace(model, site=MARKED, title=MARKED, signoff=signoff)


APPEAL = (
    f"申诉 第 7 项：{MARKED} 2026-11-03 10:00，理由：{MARKED}；"
    f"裁决：改判 0分 → 1分（{MARKED} 2026-11-04 09:00，理由：{MARKED}）"
)


def test_the_excel_shows_marked_values_as_typed(
    model: ReportModel, photos: dict[str, bytes]
) -> None:
    workbook = load_workbook(io.BytesIO(render_xlsx(_marked(model), photos)))
    form = workbook["检查表"]
    texts = [c.value for row in form.iter_rows() for c in row if isinstance(c.value, str)]
    assert form["A1"].value == f"{MARKED}　检查表"
    assert form["A2"].value.startswith(f"项目：{MARKED}　检查员：")
    assert f"项目负责人：{MARKED}　确认时间：2026-11-05 08:00" in texts
    assert APPEAL in texts
    assert not [t for t in texts if "&amp;" in t or "&lt;" in t]


def test_the_pdf_shows_marked_values_as_typed(model: ReportModel, photos: dict[str, bytes]) -> None:
    reader = PdfReader(io.BytesIO(render_pdf(_marked(model), photos)))
    text = re.sub(r"\s+", "", "\n".join(page.extract_text() for page in reader.pages))
    assert re.sub(r"\s+", "", APPEAL) in text
    assert "&amp;" not in text and "&lt;" not in text
