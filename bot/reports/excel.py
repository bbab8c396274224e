"""The report as an Excel workbook in the form layout companies already keep on paper.

Sheets: 检查表 (the form: 序号 / 标准内容 / 评分细则 / 分值 / 得分 / 责任人 / 状态 / 达标时间 /
备注, section rows, totals), 照片 (the evidence photos, keyed by 序号), 整改任务 (the task list) and
章节汇总 (per section, this inspection against the previous one). Every cell is written through
`bot.reports.sheet_text.write`, so text a person entered never becomes a formula.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.drawing.image import Image as SheetImage
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from bot.core.scoring import below_bands
from bot.core.texts import label, labels, plain
from bot.reports import signoff
from bot.reports.images import scale
from bot.reports.model import (
    ITEM_HEADERS,
    ItemRow,
    Photo,
    ReportModel,
    SignOff,
    change_text,
    percent_text,
    totals_values,
)
from bot.reports.sheet_text import write

FONT_NAME = "宋体"
WIDTHS = (6, 42, 42, 7, 8, 10, 9, 12, 28)
HEADER_ROW = 4
PHOTO_PX = 240
PHOTOS_PER_ROW = 3
_THIN = Side(style="thin", color="808080")
BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
SECTION_FILL = PatternFill("solid", fgColor="F2F2F2")
LOST_FONT = Font(name=FONT_NAME, size=10, color="C00000")
BODY_FONT = Font(name=FONT_NAME, size=10)
BOLD_FONT = Font(name=FONT_NAME, size=10, bold=True)
WRAP = Alignment(wrap_text=True, vertical="top")
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


def render_xlsx(model: ReportModel, photos: Mapping[str, bytes]) -> bytes:
    """The workbook as bytes; `photos` maps evidence sha256 to the stored file."""
    workbook = Workbook()
    form = workbook.active
    assert form is not None
    form.title = label("report", "sheet_form")
    _form(form, model)
    _photos(workbook.create_sheet(label("report", "sheet_photos")), model, photos)
    _tasks(workbook.create_sheet(label("report", "sheet_tasks")), model)
    _sections(workbook.create_sheet(label("report", "sheet_sections")), model)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def print_setup(sheet: Worksheet, *, landscape: bool, title_rows: str) -> None:
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "landscape" if landscape else "portrait"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = title_rows
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    sheet.page_margins.top = sheet.page_margins.bottom = 0.6
    sheet.print_options.horizontalCentered = True
    sheet.oddFooter.center.text = plain("report", "excel_footer")


def set_widths(sheet: Worksheet, widths: Sequence[float]) -> None:
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width


def put_row(
    sheet: Worksheet,
    row: int,
    values: Iterable[Any],
    *,
    font: Font = BODY_FONT,
    align: Alignment = WRAP,
    fill: PatternFill | None = None,
) -> None:
    for column, value in enumerate(values, start=1):
        cell = write(sheet, row, column, value)
        cell.font = font
        cell.alignment = align
        cell.border = BORDER
        if fill is not None:
            cell.fill = fill


def merged(
    sheet: Worksheet, row: int, first: int, last: int, value: Any, font: Font = BODY_FONT
) -> None:
    cell = write(sheet, row, first, value)
    cell.font = font
    cell.alignment = Alignment(vertical="center", wrap_text=True)
    if last > first:
        sheet.merge_cells(start_row=row, start_column=first, end_row=row, end_column=last)


def totals_line(model: ReportModel) -> str:
    return plain(
        "report", "excel_totals", **totals_values(model), not_applicable=model.not_applicable
    )


def _form(sheet: Worksheet, model: ReportModel) -> None:
    last = len(ITEM_HEADERS)
    set_widths(sheet, WIDTHS)
    title = plain("report", "excel_title", title=model.title)
    merged(sheet, 1, 1, last, title, Font(name=FONT_NAME, size=16, bold=True))
    sheet.cell(row=1, column=1).alignment = CENTER
    sheet.row_dimensions[1].height = 30
    merged(
        sheet,
        2,
        1,
        last,
        plain(
            "report",
            "excel_meta",
            site=model.site,
            inspector=model.inspector,
            started=model.started,
            completed=model.completed,
            version=model.std_version,
            date=model.report_date,
        ),
    )
    merged(sheet, 3, 1, last, totals_line(model), BOLD_FONT)
    put_row(sheet, HEADER_ROW, ITEM_HEADERS, font=BOLD_FONT, align=CENTER, fill=HEADER_FILL)
    sheet.freeze_panes = f"A{HEADER_ROW + 1}"
    row = HEADER_ROW + 1
    for section in model.sections:
        put_row(sheet, row, [""] * last, font=BOLD_FONT, fill=SECTION_FILL)
        write(sheet, row, 1, section.heading)
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=3)
        write(sheet, row, 4, section.applicable_max)
        write(sheet, row, 5, section.score)
        change = plain(
            "report",
            "excel_section_change",
            percent=percent_text(section.percent),
            change=section.change_text,
        )
        write(sheet, row, 6, change)
        sheet.merge_cells(start_row=row, start_column=6, end_row=row, end_column=last)
        row += 1
        for item in section.items:
            _item(sheet, row, item)
            row += 1
    put_row(
        sheet,
        row,
        [label("common", "total"), "", "", model.applicable_max, model.score, "", "", "", ""],
        font=BOLD_FONT,
    )
    sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=3)
    write(sheet, row, 6, plain("report", "excel_not_applicable", count=model.not_applicable))
    sheet.merge_cells(start_row=row, start_column=6, end_row=row, end_column=last)
    row += 1
    percent = None if model.percent is None else model.percent / 100
    put_row(
        sheet,
        row,
        [label("columns", "percent"), "", "", percent, "", "", "", "", ""],
        font=BOLD_FONT,
    )
    sheet.cell(row=row, column=4).number_format = "0.0%"
    sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=3)
    sheet.merge_cells(start_row=row, start_column=4, end_row=row, end_column=5)
    row += 1
    bands = sorted(model.bands, reverse=True)
    grade = [label("columns", "grade"), "", "", model.grade or "—", "", "", "", "", ""]
    put_row(sheet, row, grade, font=BOLD_FONT)
    sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=3)
    sheet.merge_cells(start_row=row, start_column=4, end_row=row, end_column=5)
    write(sheet, row, 6, plain("report", "excel_bands", bands=bands, below=below_bands()))
    sheet.merge_cells(start_row=row, start_column=6, end_row=row, end_column=last)
    if model.signoff is not None:
        _signoff(sheet, row + 2, model.signoff, last)
    print_setup(sheet, landscape=True, title_rows=f"{HEADER_ROW}:{HEADER_ROW}")


def _signoff(sheet: Worksheet, row: int, block: SignOff, last: int) -> None:
    """检查员, 项目负责人 and the appeals under the form, each line across the page."""
    for index, text in enumerate([signoff.heading(block), *signoff.lines(block)]):
        cell = write(sheet, row + index, 1, text)
        cell.alignment = Alignment(vertical="center", wrap_text=True)
        if index == 0:
            cell.font = BOLD_FONT
        sheet.merge_cells(
            start_row=row + index, start_column=1, end_row=row + index, end_column=last
        )


def _item(sheet: Worksheet, row: int, item: ItemRow) -> None:
    score: float | str | None = item.score_text if item.not_applicable else item.score
    values = (
        item.no,
        item.content,
        item.rule,
        item.max_score,
        score,
        item.responsible,
        item.status,
        item.due,
        item.remark,
    )
    put_row(sheet, row, values)
    for column in (1, 4, 5, 6, 7, 8):
        sheet.cell(row=row, column=column).alignment = CENTER
    sheet.cell(row=row, column=8).number_format = "yyyy-mm-dd"
    lost = item.score is not None and item.score < item.max_score
    if lost:
        sheet.cell(row=row, column=5).font = LOST_FONT


def _photos(sheet: Worksheet, model: ReportModel, photos: Mapping[str, bytes]) -> None:
    """Photos keyed by 序号, three to a row; with fixes, 整改后 beside 整改前 in three more."""
    fixed = any(item.fix_photos for item in model.items)
    column_width = (PHOTO_PX - 5) / 7
    stages = 2 if fixed else 1
    set_widths(sheet, (6, 30, *([column_width] * PHOTOS_PER_ROW * stages)))
    headings = labels("columns", "before", "after") if fixed else labels("columns", "photos")
    put_row(sheet, 1, labels("columns", "no", "content_captions"), font=BOLD_FONT, fill=HEADER_FILL)
    for stage, heading in enumerate(headings):
        first = 3 + stage * PHOTOS_PER_ROW
        cell = sheet.cell(row=1, column=first, value=heading)
        cell.font, cell.alignment, cell.fill, cell.border = BOLD_FONT, CENTER, HEADER_FILL, BORDER
        sheet.merge_cells(
            start_row=1, start_column=first, end_row=1, end_column=first + PHOTOS_PER_ROW - 1
        )
    sheet.freeze_panes = "A2"
    row = 2
    for item in model.items:
        rows = max(len(item.photos), len(item.fix_photos))
        for start in range(0, rows, PHOTOS_PER_ROW):
            before = item.photos[start : start + PHOTOS_PER_ROW]
            after = item.fix_photos[start : start + PHOTOS_PER_ROW]
            put_row(sheet, row, (item.no, _photo_text(item, before, after)))
            sheet.cell(row=row, column=1).alignment = CENTER
            tallest = max(
                _embed(sheet, row, 3, before, photos),
                _embed(sheet, row, 3 + PHOTOS_PER_ROW, after, photos),
            )
            sheet.row_dimensions[row].height = tallest * 0.75 + 6
            row += 1
    if row == 2:
        put_row(sheet, row, ("", label("report", "no_photos")))
    print_setup(sheet, landscape=fixed, title_rows="1:1")


def _photo_text(item: ItemRow, before: Sequence[Photo], after: Sequence[Photo]) -> str:
    text = item.content
    captions = [p.caption for p in before if p.caption]
    if captions:
        text += "\n" + plain("report", "photo_captions", captions=captions)
    fix_captions = [p.caption for p in after if p.caption]
    if fix_captions:
        text += "\n" + plain("report", "fix_captions", captions=fix_captions)
    return text


def _embed(
    sheet: Worksheet, row: int, column: int, group: Sequence[Photo], photos: Mapping[str, bytes]
) -> int:
    """Put the group's photos in the row from `column` on; the tallest height in pixels."""
    tallest = 40
    for offset, photo in enumerate(group):
        cell = sheet.cell(row=row, column=column + offset)
        cell.border = BORDER
        scaled = scale(photos[photo.sha256], band=photo.band) if photo.sha256 in photos else None
        if scaled is None:
            write(sheet, row, column + offset, label("report", "photo_unreadable"))
            continue
        image = SheetImage(io.BytesIO(scaled.data))
        image.width = PHOTO_PX
        image.height = round(PHOTO_PX * scaled.height / scaled.width)
        tallest = max(tallest, image.height)
        sheet.add_image(image, cell.coordinate)
    return tallest


def _tasks(sheet: Worksheet, model: ReportModel) -> None:
    headers = labels(
        "columns", "task_id", "no", "finding", "severity", "responsible", "status", "due", "remark"
    )
    set_widths(sheet, (9, 6, 50, 11, 10, 9, 12, 30))
    put_row(sheet, 1, headers, font=BOLD_FONT, align=CENTER, fill=HEADER_FILL)
    sheet.freeze_panes = "A2"
    for row, task in enumerate(model.tasks, start=2):
        values = (
            task.id,
            task.item_no,
            task.finding,
            task.severity,
            task.responsible,
            task.status,
            task.due,
            task.remark,
        )
        put_row(sheet, row, values)
        sheet.cell(row=row, column=7).number_format = "yyyy-mm-dd"
    if model.tasks:
        sheet.auto_filter.ref = f"A1:H{len(model.tasks) + 1}"
    else:
        put_row(sheet, 2, ("", "", label("report", "no_tasks")))
    print_setup(sheet, landscape=True, title_rows="1:1")


def _sections(sheet: Worksheet, model: ReportModel) -> None:
    previous = model.previous
    set_widths(sheet, (26, 10, 10, 10, 12, 16))
    headers = labels(
        "columns", "section", "score", "applicable_max", "percent", "previous_percent", "change"
    )
    put_row(sheet, 1, headers, font=BOLD_FONT, align=CENTER, fill=HEADER_FILL)
    row = 2
    for section in model.sections:
        put_row(
            sheet,
            row,
            (
                section.heading,
                section.score,
                section.applicable_max,
                percent_text(section.percent),
                percent_text(section.previous_percent),
                section.change_text,
            ),
        )
        row += 1
    put_row(
        sheet,
        row,
        (
            label("common", "total"),
            model.score,
            model.applicable_max,
            percent_text(model.percent),
            percent_text(previous.percent if previous else None),
            change_text(model.change),
        ),
        font=BOLD_FONT,
    )
    note = (
        plain("report", "excel_previous", completed=previous.completed, id=previous.inspection_id)
        if previous
        else label("report", "no_previous")
    )
    write(sheet, row + 2, 1, note).font = BODY_FONT
    print_setup(sheet, landscape=False, title_rows="1:1")
