"""The monthly 通报 as an Excel workbook, printable on A4: 通报 (title, summary, the projects
ranked by 得分率 with grade and change against last month, the KPI tables per project and per
region), 不合格项汇总表, 失分项 and 图表. Cells are written as excel.py writes them."""

from __future__ import annotations

import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.drawing.image import Image as SheetImage
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from bot.core.texts import label, plain
from bot.reports.bulletin_chart import render_bulletin_png
from bot.reports.bulletin_model import (
    FINDING_HEADERS,
    KPI_HEADERS,
    LOSS_HEADERS,
    RANK_HEADERS,
    UNCONFIRMED_LEGEND,
    BulletinModel,
    KpiRow,
)
from bot.reports.excel import (
    BOLD_FONT,
    CENTER,
    FONT_NAME,
    HEADER_FILL,
    SECTION_FILL,
    merged,
    print_setup,
    put_row,
    set_widths,
)

TITLE_FONT = Font(name=FONT_NAME, size=16, bold=True)
WIDTHS = (8, 22, 12, 10, 11, 11, 11, 11, 12)


def render_bulletin_xlsx(model: BulletinModel) -> bytes:
    workbook = Workbook()
    main = workbook.active
    assert main is not None
    main.title = label("bulletin", "sheet_main")
    _main(main, model)
    _findings(workbook.create_sheet(label("bulletin", "sheet_findings")), model)
    _losses(workbook.create_sheet(label("bulletin", "sheet_losses")), model)
    _chart(workbook.create_sheet(label("bulletin", "sheet_chart")), model)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _heading(sheet: Worksheet, row: int, text: str, last: int) -> int:
    merged(sheet, row, 1, last, text, BOLD_FONT)
    return row + 1


def _kpi_table(
    sheet: Worksheet, row: int, title: str, rows: Sequence[KpiRow], total: KpiRow | None
) -> int:
    put_row(sheet, row, (title, *KPI_HEADERS), font=BOLD_FONT, align=CENTER, fill=HEADER_FILL)
    row += 1
    for entry in rows:
        put_row(sheet, row, (entry.name, *entry.cells()))
        row += 1
    if total is not None:
        put_row(sheet, row, (total.name, *total.cells()), font=BOLD_FONT, fill=SECTION_FILL)
        row += 1
    return row + 1


def _main(sheet: Worksheet, model: BulletinModel) -> None:
    last = len(RANK_HEADERS)
    set_widths(sheet, WIDTHS)
    merged(sheet, 1, 1, last, model.title, TITLE_FONT)
    sheet.cell(row=1, column=1).alignment = CENTER
    sheet.row_dimensions[1].height = 30
    merged(sheet, 2, 1, last, model.heading)
    merged(sheet, 3, 1, last, model.summary())
    sheet.row_dimensions[3].height = 15 * (model.summary().count("\n") + 2)
    row = _heading(sheet, 5, label("bulletin", "ranking"), last)
    put_row(sheet, row, RANK_HEADERS, font=BOLD_FONT, align=CENTER, fill=HEADER_FILL)
    row += 1
    for entry in model.ranking:
        put_row(sheet, row, entry.cells())
        row += 1
    bands = plain("bulletin", "bands", bands=sorted(model.bands, reverse=True))
    merged(sheet, row, 1, last, bands)
    if model.marked:
        row += 1
        merged(sheet, row, 1, last, UNCONFIRMED_LEGEND)
    row = _heading(sheet, row + 2, label("bulletin", "site_kpis"), last)
    row = _kpi_table(sheet, row, label("columns", "site"), model.sites, model.total)
    if model.regions:
        row = _heading(sheet, row, label("bulletin", "region_kpis"), last)
        _kpi_table(sheet, row, label("columns", "region"), model.regions, None)
    print_setup(sheet, landscape=False, title_rows="1:1")


def _findings(sheet: Worksheet, model: BulletinModel) -> None:
    set_widths(sheet, (16, 6, 48, 11, 10, 12, 12))
    put_row(sheet, 1, FINDING_HEADERS, font=BOLD_FONT, align=CENTER, fill=HEADER_FILL)
    for row, entry in enumerate(model.findings, start=2):
        put_row(sheet, row, entry.cells())
    if not model.findings:
        merged(sheet, 2, 1, len(FINDING_HEADERS), label("bulletin", "no_findings_sentence"))
    sheet.freeze_panes = "A2"
    print_setup(sheet, landscape=True, title_rows="1:1")


def _losses(sheet: Worksheet, model: BulletinModel) -> None:
    set_widths(sheet, (6, 20, 6, 56, 10, 10))
    put_row(sheet, 1, LOSS_HEADERS, font=BOLD_FONT, align=CENTER, fill=HEADER_FILL)
    for rank, loss in enumerate(model.losses, start=1):
        cells = (rank, loss.standard, loss.no, loss.content, loss.findings, loss.points_lost)
        put_row(sheet, rank + 1, cells)
    print_setup(sheet, landscape=False, title_rows="1:1")


def _chart(sheet: Worksheet, model: BulletinModel) -> None:
    image = SheetImage(io.BytesIO(render_bulletin_png(model)))
    image.width, image.height = 880, 493
    sheet.add_image(image, "A1")
    print_setup(sheet, landscape=True, title_rows="1:1")
