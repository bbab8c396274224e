"""`pinjian bulletin`: the monthly 通报 read back from the xlsx (openpyxl) and the PDF (pypdf)."""

from __future__ import annotations

import asyncio
import io
import json
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from bot.cli import main
from storage.db import Database
from tests.reports.bulletin_data import at, build_history
from tests.storage.helpers import FakeClock
from tests.test_cli_structure import refused


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PINJIAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PINJIAN_TELEGRAM_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["db", "upgrade"]) == 0
    asyncio.run(build_history(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'pinjian.db'}"))
    return tmp_path / "data"


def rows(sheet: object) -> list[list[object]]:
    return [
        [c for c in row if c is not None]
        for row in sheet.iter_rows(values_only=True)  # type: ignore[attr-defined]
    ]


def test_xlsx_reads_like_a_bulletin(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "nov.xlsx"
    assert main(["bulletin", "--month", "2026-11", "--format", "xlsx", "--out", str(out)]) == 0
    book = load_workbook(out)
    assert book.sheetnames == ["通报", "不合格项汇总表", "失分项", "图表"]
    main_sheet = book["通报"]
    lines = rows(main_sheet)
    assert lines[0] == ["2026年11月品质检查通报"]
    assert "范围：全公司" in str(lines[1][0])
    summary = str(lines[2][0])
    assert "共完成检查 3 次" in summary
    assert "整改完成率 66.7%" in summary and "逾期未整改 1 项" in summary
    ranking = [r for r in lines if r and r[0] in ("1", "2", "3")]
    assert ranking == [
        ["1", "金桂园", "—", "1", "100.0%", "优秀", "—", "—"],
        ["2", "翠湖苑", "华东", "1", "66.7%", "待改进", "100.0%", "↓ 33.3 个百分点"],
        ["3", "阳光花园", "华东", "1", "50.0%", "待改进", "66.7%", "↓ 16.7 个百分点"],
    ]
    kpis = {r[0]: r[1:] for r in lines if r and r[0] in ("阳光花园", "翠湖苑", "合计", "华东")}
    assert kpis["阳光花园"] == ["50.0%", "2", "2", "1", "100.0%", "50.0%", "0"]
    assert kpis["翠湖苑"] == ["66.7%", "1", "0", "0", "0.0%", "0.0%", "1"]
    assert kpis["合计"] == ["72.2%", "3", "2", "1", "66.7%", "33.3%", "1"]
    assert kpis["华东"] == ["58.3%", "3", "2", "1", "66.7%", "33.3%", "1"]
    findings = rows(book["不合格项汇总表"])
    assert findings[0] == ["项目", "序号", "标准内容", "严重程度", "责任人", "达标时间", "状态"]
    assert findings[1:] == [
        ["翠湖苑", "1", "第1项要求", "一般不合格", "张三", "2026-11-15", "待整改（逾期）"],
        ["阳光花园", "1", "第1项要求", "严重不合格", "张三", "2026-11-10", "已完成"],
        ["阳光花园", "2", "第2项要求", "观察项", "张三", "2026-11-20", "已完成"],
    ]
    losses = rows(book["失分项"])
    assert losses[1] == [1, "culture", 1, "第1项要求", 2, 2]
    assert losses[2] == [2, "culture", 2, "第2项要求", 1, 0.5]
    assert len(book["图表"]._images) == 1
    for sheet in book.worksheets:
        assert int(sheet.page_setup.paperSize) == int(sheet.PAPERSIZE_A4)
        assert sheet.sheet_properties.pageSetUpPr.fitToPage
        assert sheet.page_setup.fitToWidth == 1


async def _unconfirmed_november(url: str) -> None:
    """翠湖苑's November result waits for the site (待确认); 金桂园 gets a second November
    inspection (0 of 3) under appeal (申诉中) beside its confirmed 100%."""
    clock = FakeClock(at("2026-11-25T02:00"))
    db = Database(url, clock=clock)
    await db.open()
    try:
        async with db.transaction() as tx:
            sites = {s.name: s for s in await tx.sites.all()}
            found = await tx.inspections.completed_between(at("2026-11-01T00:00"), clock.now)
            lake = next(i for i in found if i.site_id == sites["翠湖苑"].id)
            deadline = at("2026-11-30T02:00")
            await tx.confirmations.open(
                lake.id, lake.site_id, deadline=deadline, remind_at=deadline
            )
            osmanthus = sites["金桂园"].id
            extra = await tx.inspections.start(osmanthus, lake.standard_id, lake.inspector_id)
            await tx.inspections.complete(extra.id, score=0.0, max_score=3.0)
            await tx.confirmations.open(extra.id, osmanthus, deadline=deadline, remind_at=deadline)
            await tx.confirmations.file_appeal(
                extra.id, 1, reason="已整改", filed_by=lake.inspector_id, score_before=0.0
            )
    finally:
        await db.close()


def test_unconfirmed_results_are_marked_and_not_ranked(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_unconfirmed_november(f"sqlite+aiosqlite:///{data_dir / 'pinjian.db'}"))
    capsys.readouterr()
    assert main(["kpi", "--month", "2026-11", "--json"]) == 0
    kpis = json.loads(capsys.readouterr().out)
    counts = {
        row.get("site", row.get("region")): (
            row["inspections"],
            row["confirmed"],
            row["unconfirmed"],
        )
        for row in kpis["sites"] + kpis["regions"]
    }
    assert counts == {
        "阳光花园": (1, 1, 0),
        "翠湖苑": (1, 0, 1),
        "金桂园": (2, 1, 1),
        "华东": (2, 1, 1),
    }
    legend = "※ 含未确认结果（待确认或申诉中），未确认的结果不计入排名得分率。"
    out = tmp_path / "nov.xlsx"
    assert main(["bulletin", "--month", "2026-11", "--format", "xlsx", "--out", str(out)]) == 0
    lines = rows(load_workbook(out)["通报"])
    assert "其中未确认结果（待确认或申诉中）2 次，不计入排名。" in str(lines[2][0])
    ranking = [r for r in lines if r and r[0] in ("1", "2", "3", "—")]
    assert ranking == [
        ["1", "金桂园※", "—", "2（含未确认 1）", "100.0%", "优秀", "—", "—"],
        ["2", "阳光花园", "华东", "1", "50.0%", "待改进", "66.7%", "↓ 16.7 个百分点"],
        ["—", "翠湖苑※", "华东", "1（含未确认 1）", "—", "待确认", "100.0%", "—"],
    ]
    assert [legend] in lines
    pdf = tmp_path / "nov.pdf"
    assert main(["bulletin", "--month", "2026-11", "--format", "pdf", "--out", str(pdf)]) == 0
    reader = PdfReader(io.BytesIO(pdf.read_bytes()))
    text = re.sub(r"\s+", "", "\n".join(page.extract_text() for page in reader.pages))
    for expected in (
        "1金桂园※—2（含未确认1）100.0%优秀",
        "2阳光花园华东150.0%待改进66.7%↓16.7个百分点",
        "—翠湖苑※华东1（含未确认1）—待确认100.0%",
        legend.replace(" ", ""),
    ):
        assert expected in text, expected


def test_pdf_has_the_chinese_text_and_a_region_scope(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "east.pdf"
    args = ["bulletin", "--month", "2026-11", "--region", "华东", "--format", "pdf"]
    assert main([*args, "--out", str(out)]) == 0
    reader = PdfReader(io.BytesIO(out.read_bytes()))
    text = re.sub(r"\s+", "", "\n".join(page.extract_text() for page in reader.pages))
    for expected in (
        "2026年11月品质检查通报",
        "范围：华东区域",
        "一、项目得分排名",
        "翠湖苑华东166.7%待改进100.0%↓33.3个百分点",
        "二、各项目整改指标",
        "四、失分最多的检查项",
        "五、不合格项汇总表",
        "阳光花园1第1项要求严重不合格张三2026-11-10已完成",
        "翠湖苑1第1项要求一般不合格张三2026-11-15待整改（逾期）",
    ):
        assert expected in text, expected
    assert "金桂园" not in text
    assert len(reader.pages[0].images) == 1


def test_default_file_name_and_refusals(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bulletin", "--month", "2026-10", "--format", "pdf"]) == 0
    assert (tmp_path / "品质检查通报_全公司_2026-10.pdf").stat().st_size > 1000
    assert "已生成 品质检查通报_全公司_2026-10.pdf" in capsys.readouterr().out
    refused(capsys, ["bulletin", "--month", "2026-13", "--format", "pdf"], "YYYY-MM")
    refused(
        capsys,
        ["bulletin", "--month", "2026-11", "--region", "华北", "--format", "pdf"],
        "没有这个区域",
    )
