"""The Excel report, opened with openpyxl as a company's staff would open it."""

from __future__ import annotations

import io
from datetime import datetime

from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from PIL import Image

from bot.reports.excel import HEADER_ROW, render_xlsx
from bot.reports.model import ITEM_HEADERS, ReportModel, load_report
from bot.reports.service import load_photos
from tests.reports.data import FORMULAS, STANDARD, Built, photo_items, plant_formulas


def _rows(sheet: Worksheet) -> list[tuple[object, ...]]:
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


def _open(model: ReportModel, photos: dict[str, bytes]) -> dict[str, Worksheet]:
    workbook = load_workbook(io.BytesIO(render_xlsx(model, photos)))
    return {sheet.title: sheet for sheet in workbook.worksheets}


async def test_form_sheet_layout_cells_and_totals(
    model: ReportModel, photos: dict[str, bytes]
) -> None:
    sheets = _open(model, photos)
    assert list(sheets) == ["检查表", "照片", "整改任务", "章节汇总"]
    form = sheets["检查表"]
    assert form["A1"].value == "物业服务品质检查标准——社区文化管理　检查表"
    assert "项目：阳光花园" in form["A2"].value and "检查员：王检查" in form["A2"].value
    assert form["A3"].value.startswith("总分：49 / 58（84.5%）　等级：良好　较上次 ↓ 5.8 个百分点")
    assert tuple(c.value for c in form[HEADER_ROW]) == ITEM_HEADERS
    assert form.freeze_panes == f"A{HEADER_ROW + 1}"
    rows = _rows(form)
    by_no = {row[0]: row for row in rows[HEADER_ROW:] if isinstance(row[0], int)}
    assert sorted(by_no) == list(range(1, 63))
    for item in STANDARD.items:
        content, rule, max_score = by_no[item.no][1:4]
        assert (content, rule, max_score) == (item.content, item.rule, item.max_score)
    assert by_no[1][4] == 1
    assert by_no[15][4] == "不适用"
    assert by_no[3][4:8] == (0.5, "张三", "逾期", datetime(2026, 11, 1))
    assert by_no[7][4:9] == (
        0,
        "张三",
        "待整改",
        datetime(2026, 11, 9),
        "第7项现场发现问题：记录缺页；需补充台账",
    )
    assert by_no[13][6] == "待复查"
    headings = [row[0] for row in rows if isinstance(row[0], str) and "、" in row[0]]
    assert headings == [s.heading for s in STANDARD.sections]
    first_section = next(row for row in rows if row[0] == "一、客户管理")
    assert first_section[3:5] == (22, 18.5)
    assert "得分率 84.1%　较上次 ↓ 2.9 个百分点" in first_section[5]
    total = next(row for row in rows if row[0] == "合计")
    assert total[3:5] == (58, 49)
    percent = next(row for row in rows if row[0] == "得分率")
    assert abs(percent[3] - 49 / 58) < 1e-9
    grade = next(row for row in rows if row[0] == "等级")
    assert grade[3] == "良好" and "优秀 ≥ 90%" in grade[5]
    assert grade[5].endswith("其下为待改进"), "不合格 names a finding, not a grade"
    ordered = [row[0] for row in rows if row[0] in {"一、客户管理", 1, 62, "合计"}]
    assert ordered == ["一、客户管理", 1, 62, "合计"]


async def test_print_setup_a4_fit_to_width_repeating_header(
    model: ReportModel, photos: dict[str, bytes]
) -> None:
    for name, sheet in _open(model, photos).items():
        setup = sheet.page_setup
        assert str(setup.paperSize) == sheet.PAPERSIZE_A4 == "9", name
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, name
        assert (setup.fitToWidth, setup.fitToHeight) == (1, 0), name
    form = _open(model, photos)["检查表"]
    assert form.page_setup.orientation == "landscape"
    assert form.print_title_rows == f"${HEADER_ROW}:${HEADER_ROW}"
    assert form["B10"].alignment.wrap_text
    assert form["B10"].border.left.style == "thin"
    assert form.column_dimensions["B"].width >= 40


async def test_photo_sheet_embeds_every_photo_keyed_by_item(
    model: ReportModel, photos: dict[str, bytes]
) -> None:
    sheet = _open(model, photos)["照片"]
    images = sheet._images
    assert len(images) == model.photo_count == 8
    anchors = {image.anchor._from.row + 1 for image in images}
    items_on_rows = {row: sheet.cell(row=row, column=1).value for row in anchors}
    assert sorted(items_on_rows.values()) == sorted(photo_items(8))
    first = Image.open(io.BytesIO(images[0]._data()))
    assert first.format == "JPEG" and first.size == (320, 240)
    assert "门岗记录本" in sheet.cell(row=2, column=2).value


async def test_task_and_section_sheets(model: ReportModel, photos: dict[str, bytes]) -> None:
    sheets = _open(model, photos)
    tasks = _rows(sheets["整改任务"])
    assert tasks[0] == (
        "任务编号",
        "序号",
        "问题",
        "严重程度",
        "责任人",
        "状态",
        "达标时间",
        "备注",
    )
    assert len(tasks) == 13
    overdue = next(row for row in tasks[1:] if row[1] == 3)
    assert overdue[4:7] == ("张三", "逾期", datetime(2026, 11, 1))
    sections = _rows(sheets["章节汇总"])
    assert sections[1] == ("一、客户管理", 18.5, 22, "84.1%", "87.0%", "↓ 2.9 个百分点")
    assert sections[6] == ("合计", 49, 58, "84.5%", "90.3%", "↓ 5.8 个百分点")


async def test_a_missing_photo_is_marked_not_fatal(
    model: ReportModel, photos: dict[str, bytes]
) -> None:
    missing = next(iter(photos))
    broken = {k: (b"not an image" if k == missing else v) for k, v in photos.items()}
    sheet = _open(model, broken)["照片"]
    assert len(sheet._images) == model.photo_count - 1
    assert "照片无法读取" in [c.value for row in sheet.iter_rows() for c in row]


async def test_text_a_person_typed_is_never_a_formula(built: Built) -> None:
    await plant_formulas(built)
    model = await load_report(built.db, built.inspection_id)
    sheets = _open(model, await load_photos(built.db.files, model))
    cells = [cell for sheet in sheets.values() for row in sheet.iter_rows() for cell in row]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    typed = {c.value for c in cells if isinstance(c.value, str)}
    for name in ("note", "remark", "finding", "responsible"):
        assert FORMULAS[name] in typed, name
    form = {row[0]: row for row in _rows(sheets["检查表"]) if isinstance(row[0], int)}
    assert form[2][8] == FORMULAS["note"]
    assert form[3][5] == FORMULAS["responsible"]
    tasks = {row[1]: row for row in _rows(sheets["整改任务"])}
    assert (tasks[2][2], tasks[7][7]) == (FORMULAS["finding"], FORMULAS["remark"])
    assert any(FORMULAS["caption"] in text for text in typed)
    assert f"项目：{FORMULAS['site']}" in sheets["检查表"]["A2"].value
    assert sheets["检查表"]["A2"].data_type == "s"
    scores = [c for c in cells if c.column == 5 and isinstance(c.value, int | float)]
    assert scores and all(c.data_type == "n" for c in scores)
