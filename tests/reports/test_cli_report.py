"""`pinjian report` and `pinjian export` against a real SQLite file."""

from __future__ import annotations

import asyncio
import csv
import re
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from bot.cli import main
from tests.reports.data import (
    FORMULAS,
    STANDARD,
    START,
    Built,
    Clock,
    build,
    open_db,
    plant_formulas,
)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PINJIAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PINJIAN_DATABASE_URL", raising=False)
    monkeypatch.delenv("PINJIAN_TELEGRAM_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


@pytest.fixture
def built(data_dir: Path) -> Built:
    data_dir.mkdir()

    async def make() -> Built:
        made = await build(data_dir, photos=3)
        await made.db.close()
        return made

    return asyncio.run(make())


def test_report_writes_each_format(
    built: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    insp = str(built.inspection_id)
    assert main(["report", insp, "--format", "xlsx", "--out", "r.xlsx"]) == 0
    assert "已生成 r.xlsx（xlsx" in capsys.readouterr().out
    workbook = load_workbook(tmp_path / "r.xlsx")
    assert workbook["检查表"]["A3"].value.startswith("总分：49 / 58（84.5%）")
    assert len(workbook["照片"]._images) == 3
    assert main(["report", insp, "--out", "r.pdf"]) == 0
    text = "".join(p.extract_text() for p in PdfReader(tmp_path / "r.pdf").pages)
    assert "阳光花园" in text and "49 / 58" in text
    assert main(["report", insp, "--format", "png"]) == 0
    (written,) = tmp_path.glob(f"检查报告_阳光花园_社区文化管理_2026-11-02_{insp}_生成*.png")
    assert re.fullmatch(r".*_生成\d{8}-\d{6}\.png", written.name)
    assert written.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "999", "--format", "pdf"], "没有编号为 999 的检查"),
        (["report", "1", "--out", "r.docx"], "不支持的文件扩展名 .docx"),
        (["report", "1", "--format", "pdf", "--out", "r.xlsx"], "不一致"),
        (["report", "1"], "请用 --format 指定格式"),
        (["export", "--from", "2026-13-01", "--to", "2026-11-30", "--out", "a.csv"], "YYYY-MM-DD"),
        (["export", "--from", "2026-11-30", "--to", "2026-11-01", "--out", "a.csv"], "不能早于"),
        (
            ["export", "--from", "2026-11-01", "--to", "2026-11-30", "--out", "a.txt"],
            ".csv 或 .xlsx",
        ),
    ],
)
def test_errors_are_one_clear_line(
    built: Built, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_report_of_an_unfinished_inspection_is_refused(
    built: Built, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def start() -> int:
        db = await open_db(data_dir, Clock(START))
        try:
            async with db.transaction() as tx:
                stored = await tx.standards.latest(STANDARD.id)
                assert stored is not None
                inspector = built.people["王检查"]
                return (await tx.inspections.start(built.site_id, stored.id, inspector)).id
        finally:
            await db.close()

    running = asyncio.run(start())
    assert main(["report", str(running), "--format", "xlsx"]) == 2
    assert "尚未完成" in capsys.readouterr().err


def test_export_csv_and_xlsx(
    built: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--from", "2026-11-01", "--to", "2026-11-30", "--out", "a.csv"]) == 0
    assert "已导出 1 次检查的 62 条答案、12 个整改任务" in capsys.readouterr().out
    raw = (tmp_path / "a.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel opens the Chinese text correctly
    with (tmp_path / "a.csv").open(encoding="utf-8-sig") as f:
        answers = list(csv.DictReader(f))
    assert len(answers) == 62
    seventh = next(a for a in answers if a["序号"] == "7")
    assert seventh["项目"] == "阳光花园" and seventh["得分"] == "0.0"
    assert seventh["备注"] == "第7项现场发现问题：记录缺页"
    assert seventh["完成时间"] == "2026-11-02 09:00"
    assert next(a for a in answers if a["序号"] == "15")["不适用"] == "是"
    with (tmp_path / "a_tasks.csv").open(encoding="utf-8-sig") as f:
        tasks = list(csv.DictReader(f))
    assert len(tasks) == 12
    third = next(t for t in tasks if t["序号"] == "3")
    assert (third["责任人"], third["状态"], third["逾期"], third["达标时间"]) == (
        "张三",
        "待整改",
        "逾期",
        "2026-11-01",
    )
    assert main(["export", "--from", "2026-10-01", "--to", "2026-11-02", "--out", "b.xlsx"]) == 0
    workbook = load_workbook(tmp_path / "b.xlsx")
    assert workbook.sheetnames == ["检查答案", "整改任务"]
    assert workbook["检查答案"].max_row == 1 + 2 * 62
    assert workbook["整改任务"]["H1"].value == "状态"
    assert main(["export", "--from", "2026-09-01", "--to", "2026-09-30", "--out", "c.csv"]) == 0
    assert "已导出 0 次检查" in capsys.readouterr().out


def test_export_writes_typed_text_as_text(data_dir: Path, tmp_path: Path) -> None:
    data_dir.mkdir()

    async def make() -> None:
        made = await build(data_dir, photos=3)
        await plant_formulas(made)
        await made.db.close()

    asyncio.run(make())
    assert main(["export", "--from", "2026-11-01", "--to", "2026-11-30", "--out", "a.csv"]) == 0
    assert main(["export", "--from", "2026-11-01", "--to", "2026-11-30", "--out", "a.xlsx"]) == 0
    workbook = load_workbook(tmp_path / "a.xlsx")
    cells = [c for sheet in workbook.worksheets for row in sheet.iter_rows() for c in row]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    answers, tasks = workbook["检查答案"], workbook["整改任务"]
    second = next(row for row in answers.iter_rows(values_only=True) if row[7] == 2)
    assert (second[0], second[13]) == (FORMULAS["site"], FORMULAS["note"])
    by_item = {row[3]: row for row in tasks.iter_rows(values_only=True)}
    assert (by_item[2][4], by_item[3][6], by_item[7][12]) == (
        FORMULAS["finding"],
        FORMULAS["responsible"],
        FORMULAS["remark"],
    )
    assert isinstance(second[10], int | float) and isinstance(by_item[7][9], datetime)
    fields: list[str] = []
    for name in ("a.csv", "a_tasks.csv"):
        with (tmp_path / name).open(encoding="utf-8-sig", newline="") as f:
            fields += [field for row in csv.reader(f) for field in row]
    assert [f for f in fields if f.startswith(("=", "+", "-", "@", "\t", "\r"))] == []
    for name in ("site", "note", "finding", "responsible", "remark"):
        assert f"'{FORMULAS[name]}" in fields, name


def test_a_control_character_in_a_note_does_not_break_the_report_or_export(
    data_dir: Path, tmp_path: Path
) -> None:
    """openpyxl refuses "\x01" in a cell; the report and the export still render, with U+FFFD
    where the character was (in the .xlsx; the CSV holds it as typed)."""
    data_dir.mkdir()

    async def make() -> int:
        made = await build(data_dir, photos=3)
        async with made.db.transaction() as tx:
            await tx.notes.add(
                "a\x01b",
                created_by=made.people["王检查"],
                inspection_id=made.inspection_id,
                item_no=2,
            )
        await made.db.close()
        return made.inspection_id

    insp = str(asyncio.run(make()))
    assert main(["report", insp, "--format", "xlsx", "--out", "r.xlsx"]) == 0
    form = load_workbook(tmp_path / "r.xlsx")["检查表"]
    assert "a\ufffdb" in [c.value for row in form.iter_rows() for c in row]
    assert main(["report", insp, "--out", "r.pdf"]) == 0
    assert main(["export", "--from", "2026-11-01", "--to", "2026-11-30", "--out", "a.xlsx"]) == 0
    answers = load_workbook(tmp_path / "a.xlsx")["检查答案"]
    assert "a\ufffdb" in [c.value for row in answers.iter_rows() for c in row]
    assert main(["export", "--from", "2026-11-01", "--to", "2026-11-30", "--out", "a.csv"]) == 0
    with (tmp_path / "a.csv").open(encoding="utf-8-sig", newline="") as f:
        assert "a\x01b" in [field for row in csv.reader(f) for field in row]
