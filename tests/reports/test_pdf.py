"""The PDF report: its text read back with pypdf, and the glyph coverage of the shipped fonts."""

from __future__ import annotations

import io
import logging
import re

import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from bot.reports.excel import totals_line
from bot.reports.fonts import cjk_font, latin_font
from bot.reports.model import ReportModel
from bot.reports.pdf import printed, render_pdf
from tests.reports.data import STANDARD


def _text(data: bytes) -> tuple[str, PdfReader]:
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return re.sub(r"\s+", "", text), reader


async def test_pdf_has_the_chinese_text_scores_and_photos(
    model: ReportModel, photos: dict[str, bytes], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    data = render_pdf(model, photos)
    assert data.startswith(b"%PDF-")
    text, reader = _text(data)
    for expected in (
        "物业服务品质检查标准——社区文化管理",
        "检查报告",
        "项目阳光花园",
        "检查员王检查",
        "总分49/58（84.5%）",
        "等级：良好",
        "较上次↓5.8个百分点",
        "一、客户管理",
        "五、宠物管理",
        "↑10.7个百分点",
        "持平",
        "逾期",
        "待复查",
        "2026-11-01",
        "整改任务（12项）",
        "照片（8张",
        "第3项·照片1/1·门岗记录本",
    ):
        assert expected in text, expected
    for item in STANDARD.items:
        assert re.sub(r"\s+", "", printed(item.content))[:12] in text, item.no
    images = sum(len(page.images) for page in reader.pages)
    assert images == model.photo_count
    assert reader.pages[0].mediabox.width == pytest.approx(595.28, abs=0.5)  # A4
    assert not [
        r for r in caplog.records if "missing" in r.getMessage() or "lacks" in r.getMessage()
    ]


def _every_text(model: ReportModel) -> str:
    parts = [model.title, model.site, model.inspector, totals_line(model), "第页共章节得分较上次"]
    for section in model.sections:
        parts += [section.heading, section.change_text]
        for item in section.items:
            parts += [item.content, item.rule, item.responsible, item.status, item.remark]
    for task in model.tasks:
        parts += [task.finding, task.severity, task.responsible, task.status, task.remark]
    return "".join(parts)


async def test_the_shipped_fonts_cover_every_character(model: ReportModel) -> None:
    cjk = set(TTFont(cjk_font()).getBestCmap())
    latin = set(TTFont(latin_font()).getBestCmap())
    bold = set(TTFont(latin_font(bold=True)).getBestCmap())
    used = set(_every_text(model)) | set("".join(s.content + s.rule for s in STANDARD.items))
    missing = {c for c in used if not c.isspace() and ord(c) not in cjk | latin}
    assert not missing
    assert {ord(c) for c in "0123456789./%↑↓—"} <= latin & bold
    gb2312 = []
    for high in range(0xB0, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                gb2312.append(ord(bytes([high, low]).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    assert len(gb2312) == 6763 and set(gb2312) <= cjk  # every GB2312 hanzi


async def test_unusual_names_render_without_missing_glyphs(
    model: ReportModel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    odd = type(model)(**{**model.__dict__, "inspector": "欧阳喆堃", "site": "龘靐小区 B-2"})
    text, _ = _text(render_pdf(odd, {}))
    assert "欧阳喆堃" in text and "龘靐小区B-2" in text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_the_standards_ascii_commas_print_as_chinese_commas(
    model: ReportModel, photos: dict[str, bytes]
) -> None:
    first = STANDARD.item(1)
    assert "," in first.rule, "the standard's own text keeps its ASCII commas"
    assert model.sections[0].items[0].rule == first.rule
    text, _ = _text(render_pdf(model, photos))
    assert "检查精神文明建设方案、实施计划、执行记录，符合1分，合同不规范0.5分，不符合0分" in text
    assert "," not in "".join(re.findall(r"检查精神文明建设方案.{0,40}", text))
