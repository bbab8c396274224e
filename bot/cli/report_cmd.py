"""`pinjian report` renders an inspection's report files; `pinjian export` writes every answer
and task of a period to CSV or Excel for analysis."""

from __future__ import annotations

import argparse
import asyncio
import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font

from bot.cli.common import CliError, SubParsers
from bot.cli.dbctx import run_with_db
from bot.config import Settings
from bot.core import company_settings
from bot.core import tasks as lifecycle
from bot.core.dates import local
from bot.core.report_request import ReportFormat
from bot.core.texts import label
from bot.reports.model import ReportError, load_report
from bot.reports.service import filename, load_photos
from bot.reports.sheet_text import csv_field, write
from standards.pinned import pinned
from storage.db import Database, Tx

ANSWER_COLUMNS = (
    "项目",
    "检查编号",
    "检查标准",
    "标准版本",
    "检查员",
    "完成时间",
    "章节",
    "序号",
    "标准内容",
    "分值",
    "得分",
    "评分档",
    "不适用",
    "备注",
)
TASK_COLUMNS = (
    "任务编号",
    "项目",
    "检查编号",
    "序号",
    "问题",
    "严重程度",
    "责任人",
    "状态",
    "逾期",
    "达标时间",
    "创建时间",
    "关闭时间",
    "备注",
)
EXPORT_SUFFIXES = (".csv", ".xlsx")


def register(commands: SubParsers) -> None:
    report = commands.add_parser(
        "report",
        help="生成检查报告文件 (render an inspection report: xlsx / pdf / png)",
        description=(
            "生成已完成检查的报告：Excel（检查表、照片、整改任务）、PDF 或得分率图表（PNG），"
            "与机器人在检查完成时发送的文件相同。"
        ),
    )
    report.add_argument("inspection", type=int, metavar="INSPECTION_ID", help="检查编号")
    report.add_argument(
        "--format",
        choices=[f.value for f in ReportFormat],
        help="文件格式 (default: from the --out extension)",
    )
    report.add_argument("--out", type=Path, help="输出文件 (default: 报告文件名，当前目录)")
    report.set_defaults(handler=_report)

    export = commands.add_parser(
        "export",
        help="导出一段时间的检查答案和整改任务 (export answers and tasks: csv / xlsx)",
        description=(
            "导出在 --from 与 --to 之间（含两端，按公司时区）完成的全部检查的每一项答案，"
            "以及这些检查的整改任务。.xlsx 为两个工作表；.csv 写两个文件：FILE.csv（答案）"
            "和 FILE_tasks.csv（整改任务），UTF-8 带 BOM，Excel 可直接打开。"
        ),
    )
    export.add_argument("--from", dest="start", required=True, metavar="DATE", help="YYYY-MM-DD")
    export.add_argument("--to", dest="end", required=True, metavar="DATE", help="YYYY-MM-DD")
    export.add_argument("--out", type=Path, required=True, help="FILE.csv 或 FILE.xlsx")
    export.set_defaults(handler=_export)


def _report_format(args: argparse.Namespace) -> ReportFormat:
    """--format, or the --out extension; the two must agree when both are given."""
    suffix = args.out.suffix.lower().lstrip(".") if args.out else ""
    known = {f.value for f in ReportFormat}
    if suffix and suffix not in known:
        raise CliError(f"不支持的文件扩展名 .{suffix}，请用 .xlsx / .pdf / .png (bad extension)")
    if args.format and suffix and suffix != args.format:
        raise CliError(
            f"--out 的扩展名 .{suffix} 与 --format {args.format} 不一致 (extension does not match)"
        )
    if not (args.format or suffix):
        raise CliError("请用 --format 指定格式 xlsx / pdf / png (give --format or an --out file)")
    return ReportFormat(args.format or suffix)


def _report(args: argparse.Namespace) -> int:
    fmt = _report_format(args)

    # Imported here: openpyxl, fpdf2 and matplotlib would slow down every other command.
    from bot.reports.render import render

    async def work(db: Database, settings: Settings) -> tuple[str, bytes]:
        try:
            model = await load_report(db, args.inspection)
        except ReportError as exc:
            raise CliError(str(exc)) from None
        photos = await load_photos(db.files, model)
        data = await asyncio.to_thread(render, fmt, model, photos)
        return filename(model, fmt, db.now()), data

    name, data = run_with_db(work)
    out: Path = args.out or Path(name)
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise CliError(f"无法写入 {out} (cannot write): {exc.strerror}") from None
    print(f"已生成 {out}（{fmt.value}，{len(data) / 1024:.0f} KB）")
    return 0


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(
            f"{option} 的日期格式应为 YYYY-MM-DD，收到 {text!r} (bad date for {option})"
        ) from None


@dataclass
class Export:
    answers: list[list[Any]]
    tasks: list[list[Any]]
    inspections: int


def _export(args: argparse.Namespace) -> int:
    start, end = _date(args.start, "--from"), _date(args.end, "--to")
    if end < start:
        raise CliError("--to 不能早于 --from (--to is before --from)")
    out: Path = args.out
    if out.suffix.lower() not in EXPORT_SUFFIXES:
        raise CliError(f"导出文件须为 .csv 或 .xlsx，收到 {out.name} (unsupported extension)")

    async def work(db: Database, settings: Settings) -> Export:
        zone = ZoneInfo(settings.timezone)
        since = datetime.combine(start, time(), zone)
        until = datetime.combine(end + timedelta(days=1), time(), zone)
        async with db.read() as tx:
            return await collect(tx, since, until)

    result = run_with_db(work)
    try:
        written = _write(out, result)
    except OSError as exc:
        raise CliError(f"无法写入 {out} (cannot write): {exc.strerror}") from None
    print(
        f"已导出 {result.inspections} 次检查的 {len(result.answers)} 条答案、"
        f"{len(result.tasks)} 个整改任务到 {'、'.join(str(p) for p in written)}"
    )
    return 0


async def collect(tx: Tx, since: datetime, until: datetime) -> Export:
    """Every answer of the inspections completed in [since, until) and their tasks."""
    inspections = await tx.inspections.completed_between(since, until)
    sites = {s.id: s for s in await tx.sites.get_many({i.site_id for i in inspections})}
    names: dict[int, str] = {}
    answers: list[list[Any]] = []
    tasks: list[list[Any]] = []

    async def name(person_id: int | None) -> str:
        if person_id is None:
            return ""
        if person_id not in names:
            person = await tx.people.get(person_id)
            names[person_id] = person.name if person else ""
        return names[person_id]

    for inspection in inspections:
        site = sites[inspection.site_id]
        zone = site.timezone
        stored = await tx.standards.get(inspection.standard_id)
        if stored is None or inspection.completed_at is None:
            continue
        standard = pinned(stored)
        completed = local(inspection.completed_at, zone).replace(tzinfo=None)
        inspector = await name(inspection.inspector_id)
        notes: dict[int, list[str]] = {}
        for note in await tx.notes.for_inspection(inspection.id):
            if note.item_no is not None:
                notes.setdefault(note.item_no, []).append(note.text)
        for answer in await tx.answers.for_inspection(inspection.id):
            item = standard.item(answer.item_no)
            answers.append(
                [
                    site.name,
                    inspection.id,
                    standard.title,
                    standard.version,
                    inspector,
                    completed,
                    standard.section_of(item.no).heading,
                    item.no,
                    item.content,
                    item.max_score,
                    None if answer.not_applicable else answer.score,
                    answer.level_label or "",
                    "是" if answer.not_applicable else "否",
                    "；".join(notes.get(item.no, [])),
                ]
            )
        today = local(tx.now(), zone).date()
        settings = await company_settings.for_site(tx.settings, site)
        for task in await tx.tasks.for_inspection(inspection.id):
            overdue = task.is_overdue(today)
            closed = local(task.closed_at, zone).replace(tzinfo=None) if task.closed_at else None
            tasks.append(
                [
                    task.id,
                    site.name,
                    inspection.id,
                    task.item_no,
                    task.finding,
                    lifecycle.severity_name(settings, task.severity),
                    await name(task.responsible_person_id),
                    task.status.label,
                    label("report", "overdue") if overdue else "",
                    task.due_date,
                    local(task.created_at, zone).replace(tzinfo=None),
                    closed,
                    task.remark or "",
                ]
            )
    return Export(answers, tasks, len(inspections))


def _write(out: Path, result: Export) -> list[Path]:
    if out.suffix.lower() == ".xlsx":
        workbook = Workbook()
        sheet = workbook.active
        assert sheet is not None
        sheet.title = "检查答案"
        _sheet(sheet, ANSWER_COLUMNS, result.answers)
        _sheet(workbook.create_sheet("整改任务"), TASK_COLUMNS, result.tasks)
        workbook.save(out)
        return [out]
    tasks_out = out.with_name(f"{out.stem}_tasks{out.suffix}")
    _csv(out, ANSWER_COLUMNS, result.answers)
    _csv(tasks_out, TASK_COLUMNS, result.tasks)
    return [out, tasks_out]


def _sheet(sheet: Any, columns: Sequence[str], rows: list[list[Any]]) -> None:
    for column, title in enumerate(columns, start=1):
        write(sheet, 1, column, title).font = Font(bold=True)
    for row, values in enumerate(rows, start=2):
        for column, value in enumerate(values, start=1):
            cell = write(sheet, row, column, value)
            if isinstance(value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(value, date):
                cell.number_format = "yyyy-mm-dd"
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions


def _csv(path: Path, columns: Sequence[str], rows: list[list[Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8-sig") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(
                [
                    value.strftime("%Y-%m-%d %H:%M")
                    if isinstance(value, datetime)
                    else csv_field(value)
                    for value in row
                ]
            )
