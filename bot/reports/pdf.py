"""The report as an A4 PDF: header, totals and grade, the section table against the previous
inspection, the item table of the paper form, the task list, then the photos keyed by item.

Fonts are embedded (subset) from the shipped files, so the PDF shows the same on any machine.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Mapping, Sequence

from fpdf import FPDF, FontFace
from fpdf.enums import WrapMode

from bot.core.scoring import BELOW_BANDS
from bot.reports import signoff
from bot.reports.fonts import cjk_font, latin_font
from bot.reports.images import Scaled, scale
from bot.reports.model import ItemRow, Photo, ReportModel, change_text, percent_text

log = logging.getLogger(__name__)

# An ASCII comma of the standard's text, except one between digits (1,000).
_ASCII_COMMA = re.compile(r",(?!\d)\s*|(?<!\d),\s*")

BODY = "dejavu"
CJK = "droid"
HEAD_FILL = (217, 225, 242)
SECTION_FILL = (242, 242, 242)
LOST = (192, 0, 0)
GREY = (110, 110, 110)
PHOTO_COLUMNS = 3
PHOTO_GAP = 4.0
PHOTO_MAX_H = 48.0
CAPTION_H = 7.6
CAPTION_CHARS = 24
ITEM_HEADERS = (
    "序号",
    "标准内容",
    "评分细则",
    "分值",
    "得分",
    "责任人",
    "状态",
    "达标时间",
    "备注",
)
ITEM_WIDTHS = (8, 48, 48, 9, 10, 15, 12, 18, 22)
ITEM_ALIGN = ("C", "L", "L", "C", "C", "C", "C", "C", "L")


def set_up(pdf: FPDF, title: str) -> None:
    """The fonts, margins and metadata every Pinjian PDF (report, 通报) is set with."""
    pdf.add_font(BODY, "", str(latin_font()))
    pdf.add_font(BODY, "B", str(latin_font(bold=True)))
    pdf.add_font(CJK, "", str(cjk_font()))
    # Text is set in DejaVu Sans; characters it lacks (all of CJK) come from Droid Sans
    # Fallback, also in bold text, which Droid has no face for.
    pdf.set_fallback_fonts([CJK], exact_match=False)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_margins(10, 14, 10)
    pdf.set_title(title)
    pdf.set_creator("品检 Pinjian")


class Document(FPDF):
    """What every Pinjian PDF (report, 通报) shares: page numbers below, section headings
    kept with at least `heading_keep` mm of what follows them."""

    heading_keep = 20

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font(BODY, size=7.5)
        self.set_text_color(*GREY)
        self.cell(0, 4, f"第 {self.page_no()} 页 / 共 {{nb}} 页", align="C")
        self.set_text_color(0, 0, 0)

    def heading(self, text: str) -> None:
        if self.will_page_break(self.heading_keep):
            self.add_page()
        self.ln(3)
        self.set_font(BODY, "B", 11)
        self.cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
        self.set_font(BODY, size=8)


class _Document(Document):
    def __init__(self, model: ReportModel) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.model = model
        set_up(self, f"{model.site} {model.title} 检查报告")

    def header(self) -> None:
        self.set_font(BODY, size=7.5)
        self.set_text_color(*GREY)
        self.set_y(7)
        self.cell(0, 4, f"{self.model.site} · {self.model.title}", align="L")
        self.set_x(self.l_margin)
        self.cell(0, 4, f"检查报告 · 编号 {self.model.inspection_id}", align="R")
        self.set_text_color(0, 0, 0)
        self.set_y(14)


def render_pdf(model: ReportModel, photos: Mapping[str, bytes]) -> bytes:
    pdf = _Document(model)
    pdf.add_page()
    _summary(pdf, model)
    _sections(pdf, model)
    _items(pdf, model)
    _tasks(pdf, model)
    _signoff(pdf, model)
    _photos(pdf, model, photos)
    data = bytes(pdf.output())
    for key, font in pdf.fonts.items():
        missing = getattr(font, "missing_glyphs", [])
        if missing:
            log.warning("report font %s lacks %s", key, "".join(chr(c) for c in missing[:20]))
    return data


def _summary(pdf: _Document, model: ReportModel) -> None:
    pdf.set_font(BODY, "B", 16)
    pdf.multi_cell(0, 8, f"{model.title}\n检查报告", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    previous = model.previous
    rows = [
        ("项目", model.site),
        ("检查员", model.inspector),
        ("检查时间", f"{model.started} 至 {model.completed}"),
        ("检查标准", f"{model.title}（{model.std_id} 版本 {model.std_version}）"),
        ("报告日期", model.report_date.isoformat()),
        (
            "上次检查",
            f"{previous.completed}，得分率 {percent_text(previous.percent)}"
            if previous
            else "无（本项目此前没有同一标准的已完成检查）",
        ),
    ]
    pdf.set_font(BODY, size=9)
    with pdf.table(
        col_widths=(25, 165),
        first_row_as_headings=False,
        line_height=5.5,
        text_align=("L", "L"),
        wrapmode=WrapMode.CHAR,
    ) as table:
        for label, value in rows:
            row = table.row()
            row.cell(label, style=FontFace(emphasis="BOLD", fill_color=HEAD_FILL))
            row.cell(value)
    pdf.ln(4)
    pdf.set_font(BODY, "B", 13)
    grade = f"　等级：{model.grade}" if model.grade else ""
    change = "" if model.change is None else f"　较上次 {change_text(model.change)}"
    pdf.cell(
        0,
        8,
        f"总分 {model.score:g} / {model.applicable_max:g}（{percent_text(model.percent)}）"
        f"{grade}{change}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_font(BODY, size=9)
    bands = "，".join(f"{name} ≥ {floor:g}%" for floor, name in sorted(model.bands, reverse=True))
    pdf.multi_cell(
        0,
        5,
        align="L",
        wrapmode=WrapMode.CHAR,
        text=f"共 {model.items_total} 项，不适用 {model.not_applicable} 项（不计入满分）；"
        f"整改任务 {len(model.tasks)} 项。等级划分：{bands}，其下为{BELOW_BANDS}。",
        new_x="LMARGIN",
        new_y="NEXT",
    )


def _sections(pdf: _Document, model: ReportModel) -> None:
    pdf.heading("章节得分（与上次检查对比）")
    previous = model.previous
    with pdf.table(
        col_widths=(60, 22, 22, 26, 30, 30),
        headings_style=FontFace(emphasis="BOLD", fill_color=HEAD_FILL),
        line_height=5.5,
        text_align=("L", "C", "C", "C", "C", "C"),
    ) as table:
        table.row(("章节", "得分", "适用满分", "得分率", "上次得分率", "较上次"))
        for s in model.sections:
            table.row(
                (
                    s.heading,
                    f"{s.score:g}",
                    f"{s.applicable_max:g}",
                    percent_text(s.percent),
                    percent_text(s.previous_percent),
                    s.change_text,
                )
            )
        table.row(
            (
                "合计",
                f"{model.score:g}",
                f"{model.applicable_max:g}",
                percent_text(model.percent),
                percent_text(previous.percent if previous else None),
                change_text(model.change),
            ),
            style=FontFace(emphasis="BOLD"),
        )


def printed(text: str) -> str:
    """The standard's text as the form prints it: its ASCII commas as Chinese ones (，). The
    stored text stays verbatim."""
    return _ASCII_COMMA.sub("，", text)


def _items(pdf: _Document, model: ReportModel) -> None:
    pdf.heading("检查明细")
    pdf.set_font(BODY, size=7.5)
    with pdf.table(
        col_widths=ITEM_WIDTHS,
        headings_style=FontFace(emphasis="BOLD", fill_color=HEAD_FILL),
        line_height=3.8,
        text_align=ITEM_ALIGN,
        wrapmode=WrapMode.CHAR,
        padding=0.8,
    ) as table:
        table.row(ITEM_HEADERS)
        for section in model.sections:
            row = table.row(style=FontFace(emphasis="BOLD", fill_color=SECTION_FILL))
            row.cell(
                f"{section.heading}　得分 {section.score:g} / {section.applicable_max:g}"
                f"（{percent_text(section.percent)}）　较上次 {section.change_text}",
                colspan=len(ITEM_HEADERS),
                align="L",
            )
            for item in section.items:
                lost = item.score is not None and item.score < item.max_score
                row = table.row()
                for text in (
                    str(item.no),
                    printed(item.content),
                    printed(item.rule),
                    f"{item.max_score:g}",
                ):
                    row.cell(text)
                row.cell(item.score_text, style=FontFace(color=LOST) if lost else None)
                for text in (
                    item.responsible,
                    item.status,
                    item.due.isoformat() if item.due else "",
                    item.remark,
                ):
                    row.cell(text)
        row = table.row(style=FontFace(emphasis="BOLD"))
        row.cell("合计", colspan=3, align="L")
        row.cell(f"{model.applicable_max:g}")
        row.cell(f"{model.score:g}")
        row.cell(
            f"得分率 {percent_text(model.percent)}　等级 {model.grade or '—'}",
            colspan=4,
            align="L",
        )


def _tasks(pdf: _Document, model: ReportModel) -> None:
    pdf.heading(f"整改任务（{len(model.tasks)} 项）")
    if not model.tasks:
        pdf.cell(0, 6, "没有整改任务。", new_x="LMARGIN", new_y="NEXT")
        return
    pdf.set_font(BODY, size=7.5)
    with pdf.table(
        col_widths=(12, 9, 62, 18, 16, 13, 18, 42),
        headings_style=FontFace(emphasis="BOLD", fill_color=HEAD_FILL),
        line_height=3.8,
        text_align=("C", "C", "L", "C", "C", "C", "C", "L"),
        wrapmode=WrapMode.CHAR,
        padding=0.8,
    ) as table:
        table.row(("编号", "序号", "问题", "严重程度", "责任人", "状态", "达标时间", "备注"))
        for task in model.tasks:
            table.row(
                (
                    f"#{task.id}",
                    str(task.item_no or ""),
                    task.finding,
                    task.severity,
                    task.responsible or "未指定",
                    task.status,
                    task.due.isoformat() if task.due else "",
                    task.remark,
                )
            )


def _signoff(pdf: _Document, model: ReportModel) -> None:
    if model.signoff is None:
        return
    pdf.heading(signoff.heading(model.signoff))
    pdf.set_font(BODY, size=9)
    for line in signoff.lines(model.signoff):
        pdf.multi_cell(0, 5.5, printed(line), new_x="LMARGIN", new_y="NEXT")


def _photos(pdf: _Document, model: ReportModel, photos: Mapping[str, bytes]) -> None:
    """A grid of photos, PHOTO_COLUMNS to a row, each captioned with its item. A fixed item's
    photos start a row of their own: 整改前, then 整改后 beside them, each labelled."""
    rows = _photo_rows(model)
    if not rows:
        return
    pdf.add_page()
    pdf.heading(f"照片（{model.photo_count} 张，按检查项序号排列）")
    width = (pdf.epw - PHOTO_GAP * (PHOTO_COLUMNS - 1)) / PHOTO_COLUMNS
    pdf.set_font(BODY, size=7)
    for row in rows:
        images = [
            scale(photos[p.sha256], band=p.band) if p.sha256 in photos else None for _, p, _ in row
        ]
        height = _photo_height(images, width)
        if pdf.will_page_break(height + CAPTION_H + 2):
            pdf.add_page()
        top = pdf.get_y()
        for offset, ((item, photo, label), image) in enumerate(zip(row, images, strict=True)):
            x = pdf.l_margin + offset * (width + PHOTO_GAP)
            if image is None:
                pdf.set_xy(x, top)
                pdf.cell(width, height, "照片无法读取", border=1, align="C")
            else:
                w = min(width, height * image.width / image.height)
                pdf.image(io.BytesIO(image.data), x=x, y=top, w=w)
            pdf.set_xy(x, top + height + 0.8)
            pdf.cell(
                width,
                3.4,
                f"第 {item.no} 项 · {label}" + (f" · {photo.caption}" if photo.caption else ""),
                new_x="LEFT",
                new_y="NEXT",
            )
            pdf.cell(width, 3.4, _clip(printed(item.content), CAPTION_CHARS))
        pdf.set_xy(pdf.l_margin, top + height + CAPTION_H + 2)


PhotoCell = tuple[ItemRow, Photo, str]


def _photo_rows(model: ReportModel) -> list[list[PhotoCell]]:
    """The grid's rows of (item, photo, label): items without a fix run on from row to row."""
    rows: list[list[PhotoCell]] = []
    flowing: list[PhotoCell] = []
    for item in model.items:
        if not item.fix_photos:
            count = len(item.photos)
            flowing += [(item, p, f"照片 {i}/{count}") for i, p in enumerate(item.photos, 1)]
            continue
        cells = [
            *[(item, p, f"整改前 {i}/{len(item.photos)}") for i, p in enumerate(item.photos, 1)],
            *[
                (item, p, f"整改后 {i}/{len(item.fix_photos)}")
                for i, p in enumerate(item.fix_photos, 1)
            ],
        ]
        rows += _chunks(flowing) + _chunks(cells)
        flowing = []
    return rows + _chunks(flowing)


def _chunks(cells: list[PhotoCell]) -> list[list[PhotoCell]]:
    return [cells[i : i + PHOTO_COLUMNS] for i in range(0, len(cells), PHOTO_COLUMNS)]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _photo_height(images: Sequence[Scaled | None], width: float) -> float:
    heights = [
        min(PHOTO_MAX_H, width * image.height / image.width)
        for image in images
        if image is not None
    ]
    return max(heights, default=6.0)
