"""The report model: totals, the comparison with the previous inspection, task columns."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.core.scoring import DEFAULT_GRADE_BANDS
from bot.reports.model import ReportError, ReportModel, load_report
from storage.records import EvidenceKind, EvidenceRole, Severity, StoredStandard, TaskStatus
from storage.standards import StandardRepo
from tests.flows.test_tap_statements import recording
from tests.reports.data import NOT_APPLICABLE, STANDARD, Built, asdict_hash, build


async def test_totals_sections_and_previous(model: ReportModel, built: Built) -> None:
    assert (model.score, model.applicable_max) == (49, 58)
    assert model.percent == pytest.approx(84.48, abs=0.01)
    assert model.grade == "良好"
    assert model.not_applicable == len(NOT_APPLICABLE)
    assert model.items_total == 62 and len(model.items) == 62
    assert [s.heading for s in model.sections] == [s.heading for s in STANDARD.sections]
    first = model.sections[0]
    assert (first.score, first.applicable_max) == (18.5, 22)
    assert model.previous is not None
    assert model.previous.inspection_id == built.previous_id
    assert (model.previous.score, model.previous.applicable_max) == (56, 62)
    assert first.previous_percent == pytest.approx(100 * 20 / 23)
    assert first.change_text == "↓ 2.9 个百分点"
    assert model.sections[1].change_text == "↑ 10.7 个百分点"
    assert model.sections[4].change_text == "持平"
    assert model.report_date == date(2026, 11, 2)
    # the clock stood at 01:00 UTC: 09:00 on the site's clock (Asia/Shanghai)
    assert model.started == model.completed == "2026-11-02 09:00"
    assert model.previous.completed == "2026-10-03 09:00"


async def test_item_rows_carry_the_form_columns(model: ReportModel) -> None:
    rows = {row.no: row for row in model.items}
    for item in STANDARD.items:
        assert rows[item.no].content == item.content
        assert rows[item.no].rule == item.rule
    assert rows[15].not_applicable and rows[15].score_text == "不适用"
    assert rows[3].score == 0.5 and rows[3].responsible == "张三"
    assert rows[3].status == "逾期"  # due 2026-11-01, report date 2026-11-02
    assert rows[13].status == TaskStatus.REVIEW.label
    assert rows[7].status == "待整改" and rows[7].due == date(2026, 11, 9)
    assert rows[7].remark == "第7项现场发现问题：记录缺页；需补充台账"
    assert rows[1].responsible == rows[1].status == rows[1].remark == ""
    assert len(model.tasks) == 12
    assert sum(len(r.photos) for r in rows.values()) == model.photo_count == 8


async def test_first_inspection_has_nothing_to_compare(tmp_path: Path) -> None:
    built = await build(tmp_path, previous=False, photos=0)
    try:
        model = await load_report(built.db, built.inspection_id)
    finally:
        await built.db.close()
    assert model.previous is None and model.change is None
    assert {s.change_text for s in model.sections} == {"—"}


async def test_grade_bands_come_from_the_company_setting(built: Built) -> None:
    async with built.db.transaction() as tx:
        await tx.settings.set("grade_bands", [[95, "A"], [84, "B"]])
    model = await load_report(built.db, built.inspection_id)
    assert model.grade == "B"
    assert model.bands == ((95.0, "A"), (84.0, "B"))
    async with built.db.transaction() as tx:
        await tx.settings.set("grade_bands", "nonsense")
    assert (await load_report(built.db, built.inspection_id)).bands == DEFAULT_GRADE_BANDS


async def test_content_hash_follows_what_the_report_shows(built: Built) -> None:
    before = await load_report(built.db, built.inspection_id)
    assert (await load_report(built.db, built.inspection_id)).content_hash() == (
        before.content_hash()
    )
    async with built.db.transaction() as tx:
        task = next(t for t in await tx.tasks.for_inspection(built.inspection_id) if t.item_no == 7)
        await tx.tasks.transition(task.id, task.version, TaskStatus.REVIEW, actor_id=None)
    after = await load_report(built.db, built.inspection_id)
    assert after.content_hash() != before.content_hash()


async def test_content_hash_is_that_of_the_models_asdict_form(built: Built) -> None:
    """The hash walks the model itself (faster) but hashes what `dataclasses.asdict` gives."""
    model = await load_report(built.db, built.inspection_id)
    assert model.previous is not None and model.tasks and model.photo_count
    assert model.content_hash() == asdict_hash(model)


async def test_the_people_a_report_names_are_read_in_one_statement(built: Built) -> None:
    """The inspector, the 责任人 and who took the photos of findings and of fixes, at once (for
    the N = 50 capacity goal, docs/BENCHMARKS.md: each statement costs the bot's loop)."""
    seen: list[str] = []

    def spy(*args: Any) -> None:
        seen.append(args[2])

    sa.event.listen(Engine, "before_cursor_execute", spy)
    try:
        model = await load_report(built.db, built.inspection_id)
    finally:
        sa.event.remove(Engine, "before_cursor_execute", spy)
    assert sum(1 for statement in seen if "FROM people" in statement) == 1
    assert model.inspector and model.items[2].responsible == "张三"
    bands = [photo.band for row in model.items for photo in row.photos]
    assert bands and all(model.inspector in band for band in bands)


async def test_a_report_reads_in_pinned_statements_however_many_tasks_were_fixed(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every task fixed, each with a photo: still one read of the fix photos and one of the
    site's photos they are compared with, the previous inspection found by one statement,
    and the answers without their details (the report's read runs on the bot's loop, for
    the PostgreSQL p99 goal, docs/BENCHMARKS.md)."""
    async with built.db.transaction() as tx:
        for task in await tx.tasks.for_inspection(built.inspection_id):
            if task.status is TaskStatus.OPEN:
                await tx.tasks.transition(task.id, task.version, TaskStatus.REVIEW, actor_id=None)
            await tx.evidence.add(
                built.photo_hashes[0],
                1,
                mime="image/jpeg",
                kind=EvidenceKind.PHOTO,
                created_by=built.people["张三"],
                task_id=task.id,
                role=EvidenceRole.FIX,
            )
    with recording(Engine, monkeypatch) as seen:
        model = await load_report(built.db, built.inspection_id)
    assert [s.summary for s in seen] == [
        "SELECT inspections",  # with its site
        "SELECT standards",
        "SELECT settings",
        "SELECT answers",
        "SELECT tasks",
        "SELECT notes",
        "SELECT evidence",  # the findings' photos
        "SELECT evidence",  # the fixes' photos
        "SELECT evidence",  # the site's photos, for reuse
        "SELECT people",
        "SELECT inspections",  # the previous one, of the same standard
        "SELECT answers",
        "SELECT confirmations",
    ]
    assert sum(len(item.fix_photos) for item in model.items) == 12
    assert model.previous is not None and model.previous.inspection_id == built.previous_id


async def test_a_standard_parsed_already_is_not_read_again(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its snapshot is most of a report's bytes read and decoded: the content hash names it."""
    first = await load_report(built.db, built.inspection_id)
    snapshots: list[int] = []
    read = StandardRepo.get

    async def counted(self: StandardRepo, standard_id: int) -> StoredStandard | None:
        snapshots.append(standard_id)
        return await read(self, standard_id)

    monkeypatch.setattr(StandardRepo, "get", counted)
    assert await load_report(built.db, built.inspection_id) == first
    assert snapshots == []


async def test_unknown_and_unfinished_inspections_are_refused(built: Built) -> None:
    with pytest.raises(ReportError, match="没有编号为 999 的检查"):
        await load_report(built.db, 999)
    async with built.db.transaction() as tx:
        stored = await tx.standards.latest(STANDARD.id)
        assert stored is not None
        running = await tx.inspections.start(built.site_id, stored.id, built.people["王检查"])
    with pytest.raises(ReportError, match="尚未完成"):
        await load_report(built.db, running.id)


async def test_task_severity_is_shown_by_the_company_names(built: Built) -> None:
    async with built.db.transaction() as tx:
        await tx.settings.set("severity_names", ["提示", "一般问题", "重大问题"])
        await tx.tasks.create(
            built.site_id,
            "消防通道堵塞",
            created_by=built.people["王检查"],
            due_date=date(2026, 11, 5),
            inspection_id=built.inspection_id,
            item_no=1,
            severity=Severity.SERIOUS,
        )
    model = await load_report(built.db, built.inspection_id)
    severities = {t.finding: t.severity for t in model.tasks}
    assert severities.pop("消防通道堵塞") == "重大问题"
    assert set(severities.values()) == {"一般问题"}
