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

from bot.core import texts
from bot.core.scoring import below_bands
from bot.reports import signoff
from bot.reports.fonts import cjk_font, latin_font
from bot.reports.images import Scaled, scale
from bot.reports.model import (
    ITEM_HEADERS,
    ItemRow,
    Photo,
    ReportModel,
    change_text,
    percent_text,
    totals_values,
)

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
    pdf.set_creator(texts.label("report", "creator"))


class Document(FPDF):
    """What every Pinjian PDF (report, 通报) shares: page numbers below, section headings
    kept with at least `heading_keep` mm of what follows them."""

    heading_keep = 20

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font(BODY, size=7.5)
        self.set_text_color(*GREY)
        self.cell(0, 4, texts.plain("report", "pdf_footer", page=self.page_no()), align="C")
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
        set_up(self, texts.plain("report", "pdf_title", site=model.site, title=model.title))

    def header(self) -> None:
        self.set_font(BODY, size=7.5)
        self.set_text_color(*GREY)
        self.set_y(7)
        self.cell(0, 4, f"{self.model.site} · {self.model.title}", align="L")
        self.set_x(self.l_margin)
        self.cell(0, 4, texts.plain("report", "pdf_header", id=self.model.inspection_id), align="R")
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
    title = texts.plain("report", "pdf_heading", title=model.title)
    pdf.multi_cell(0, 8, title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    previous = model.previous
    values = [
        model.site,
        model.inspector,
        texts.plain("report", "pdf_period", started=model.started, completed=model.completed),
        texts.plain(
            "report", "pdf_standard", title=model.title, id=model.std_id, version=model.std_version
        ),
        model.report_date.isoformat(),
        texts.plain(
            "report",
            "pdf_previous",
            completed=previous.completed,
            percent=percent_text(previous.percent),
        )
        if previous
        else texts.label("report", "pdf_no_previous"),
    ]
    headers = texts.labels(
        "columns", "site", "inspector", "inspected", "standard_used", "report_date", "previous"
    )
    rows = list(zip(headers, values, strict=True))
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
    totals = texts.plain("report", "pdf_totals", **totals_values(model))
    pdf.cell(0, 8, totals, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(BODY, size=9)
    pdf.multi_cell(
        0,
        5,
        align="L",
        wrapmode=WrapMode.CHAR,
        text=texts.plain(
            "report",
            "pdf_counts",
            items=model.items_total,
            not_applicable=model.not_applicable,
            tasks=len(model.tasks),
            bands=sorted(model.bands, reverse=True),
            below=below_bands(),
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )


def _sections(pdf: _Document, model: ReportModel) -> None:
    pdf.heading(texts.label("report", "pdf_sections"))
    previous = model.previous
    with pdf.table(
        col_widths=(60, 22, 22, 26, 30, 30),
        headings_style=FontFace(emphasis="BOLD", fill_color=HEAD_FILL),
        line_height=5.5,
        text_align=("L", "C", "C", "C", "C", "C"),
    ) as table:
        table.row(
            texts.labels(
                "columns",
                "section",
                "score",
                "applicable_max",
                "percent",
                "previous_percent",
                "change",
            )
        )
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
                texts.label("common", "total"),
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
    pdf.heading(texts.label("report", "pdf_items"))
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
                texts.plain(
                    "report",
                    "pdf_section_row",
                    heading=section.heading,
                    score=section.score,
                    max_score=section.applicable_max,
                    percent=percent_text(section.percent),
                    change=section.change_text,
                ),
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
        row.cell(texts.label("common", "total"), colspan=3, align="L")
        row.cell(f"{model.applicable_max:g}")
        row.cell(f"{model.score:g}")
        row.cell(
            texts.plain(
                "report", "pdf_total_grade", percent=percent_text(model.percent), grade=model.grade
            ),
            colspan=4,
            align="L",
        )


def _tasks(pdf: _Document, model: ReportModel) -> None:
    pdf.heading(texts.plain("report", "pdf_tasks", count=len(model.tasks)))
    if not model.tasks:
        pdf.cell(0, 6, texts.label("report", "pdf_no_tasks"), new_x="LMARGIN", new_y="NEXT")
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
        table.row(
            texts.labels(
                "columns",
                "task_no",
                "no",
                "finding",
                "severity",
                "responsible",
                "status",
                "due",
                "remark",
            )
        )
        for task in model.tasks:
            table.row(
                (
                    f"#{task.id}",
                    str(task.item_no or ""),
                    task.finding,
                    task.severity,
                    task.responsible or texts.label("common", "unassigned"),
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
    pdf.heading(texts.plain("report", "pdf_photos", count=model.photo_count))
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
                pdf.cell(
                    width, height, texts.label("report", "photo_unreadable"), border=1, align="C"
                )
            else:
                w = min(width, height * image.width / image.height)
                pdf.image(io.BytesIO(image.data), x=x, y=top, w=w)
            pdf.set_xy(x, top + height + 0.8)
            pdf.cell(
                width,
                3.4,
                texts.plain(
                    "report", "pdf_photo_caption", no=item.no, which=label, caption=photo.caption
                ),
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
            flowing += [(item, p, _count("photos", i, count)) for i, p in enumerate(item.photos, 1)]
            continue
        cells = [
            *[
                (item, p, _count("before", i, len(item.photos)))
                for i, p in enumerate(item.photos, 1)
            ],
            *[
                (item, p, _count("after", i, len(item.fix_photos)))
                for i, p in enumerate(item.fix_photos, 1)
            ],
        ]
        rows += _chunks(flowing) + _chunks(cells)
        flowing = []
    return rows + _chunks(flowing)


def _count(which: str, index: int, count: int) -> str:
    """照片 1/3, 整改前 1/2, 整改后 2/2."""
    which_label = texts.label("columns", which)
    return texts.plain("report", "photo_count", which=which_label, index=index, count=count)


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
