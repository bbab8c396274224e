"""The KPIs of docs/KPI.md on hand-built data (both dialects): tasks counted by their current
达标时间 (extensions move them across months), 已撤销 left out, late completion by the site's
calendar, 逾期未整改 at the time of reporting, null rates where nothing was counted, and the
grouping per site, region, 责任人, inspector and item."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from bot.core.kpi import Period
from bot.flows.kpis import month_kpis
from storage.db import Database
from storage.records import TaskStatus
from tests.storage.helpers import FakeClock, World

MARCH = Period.month(date(2025, 3, 1))
REPORTED = datetime(2025, 4, 2, 3, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def _task(
    db: Database, world: World, due: date, *, site: int | None = None, owner: bool = True
) -> int:
    async with db.transaction() as tx:
        task = await tx.tasks.create(
            site or world.site_a,
            "问题",
            created_by=world.inspector,
            due_date=due,
            responsible_person_id=world.responsible if owner else None,
        )
    return task.id


async def _move(db: Database, clock: FakeClock, task_id: int, when: str, to: TaskStatus) -> None:
    clock.now = at(when)
    async with db.transaction() as tx:
        task = await tx.tasks.get(task_id)
        assert task is not None
        await tx.tasks.transition(task_id, task.version, to, actor_id=None)


async def _extend(db: Database, world: World, task_id: int, to: date) -> None:
    async with db.transaction() as tx:
        request = await tx.tasks.request_extension(task_id, world.responsible, to, reason="雨天")
        await tx.tasks.decide_extension(request.id, approve=True, decided_by=world.manager)


async def _inspection(
    db: Database, clock: FakeClock, world: World, when: str, answers: list[tuple[int, float | None]]
) -> int:
    async with db.transaction() as tx:
        inspection = await tx.inspections.start(world.site_a, world.standard, world.inspector)
        for no, score in answers:
            await tx.answers.set(
                inspection.id,
                no,
                answered_by=world.inspector,
                score=score,
                max_score=1.0,
                not_applicable=score is None,
            )
    clock.now = at(when)
    async with db.transaction() as tx:
        score = sum(s for _, s in answers if s is not None)
        maximum = sum(1.0 for _, s in answers if s is not None)
        await tx.inspections.complete(inspection.id, score=score, max_score=maximum)
    return inspection.id


@pytest.fixture
async def month(db: Database, clock: FakeClock, world: World) -> World:
    clock.now = at("2025-02-01T02:00")
    async with db.transaction() as tx:
        region = await tx.regions.create("华东")
        await tx.sites.set_region(world.site_a, region.id)
    on_time = await _task(db, world, date(2025, 3, 10))
    late = await _task(db, world, date(2025, 3, 10))
    extended_in = await _task(db, world, date(2025, 2, 25))
    await _extend(db, world, extended_in, date(2025, 3, 20))
    extended_out = await _task(db, world, date(2025, 3, 28))
    await _extend(db, world, extended_out, date(2025, 4, 5))
    withdrawn = await _task(db, world, date(2025, 3, 15))
    await _task(db, world, date(2025, 2, 10))  # February's, still open
    await _task(db, world, date(2025, 3, 5), site=world.site_b, owner=False)
    await _move(db, clock, withdrawn, "2025-03-02T02:00", TaskStatus.WITHDRAWN)
    # 23:00 in Shanghai on the 10th: on time; 01:00 on the 11th there: late.
    await _move(db, clock, on_time, "2025-03-10T15:00", TaskStatus.DONE)
    await _move(db, clock, late, "2025-03-10T17:00", TaskStatus.DONE)
    await _inspection(db, clock, world, "2025-03-05T03:00", [(1, 0.0), (2, 0.5), (3, 1.0)])
    await _inspection(db, clock, world, "2025-03-31T15:30", [(1, 0.0), (2, 1.0), (3, None)])
    # Completed on April 1st, Shanghai time: not March's.
    await _inspection(db, clock, world, "2025-03-31T16:30", [(1, 0.0), (2, 1.0), (3, 1.0)])
    clock.now = REPORTED
    return world


def rates(row: dict[str, Any]) -> tuple[Any, ...]:
    keys = ("tasks", "completed", "completed_on_time", "completion_rate", "timely_rate")
    return (*(row[k] for k in keys), row["overdue_open"])


async def test_a_month_per_site_region_responsible_inspector_and_item(
    db: Database, month: World
) -> None:
    async with db.read() as tx:
        result = await month_kpis(tx, MARCH, REPORTED)
    assert set(result) == {
        "month",
        "sites",
        "regions",
        "responsible",
        "inspectors",
        "items",
        "company",
    }
    assert result["month"] == "2025-03"
    sites = {row["site"]: row for row in result["sites"]}
    assert sites["阳光小区"]["region"] == "华东"
    assert sites["月亮花园"]["region"] is None
    assert (sites["阳光小区"]["inspections"], sites["阳光小区"]["score_rate"]) == (2, 0.5)
    assert (sites["月亮花园"]["inspections"], sites["月亮花园"]["score_rate"]) == (0, None)
    # on time, late, extended into March (open); not the one extended out, nor the withdrawn.
    assert rates(sites["阳光小区"]) == (3, 2, 1, 0.6667, 0.3333, 2)
    assert rates(sites["月亮花园"]) == (1, 0, 0, 0.0, 0.0, 1)
    assert [(r["region"], rates(r)) for r in result["regions"]] == [
        ("华东", (3, 2, 1, 0.6667, 0.3333, 2))
    ]
    assert [(r["person"], rates(r)) for r in result["responsible"]] == [
        ("张伟", (3, 2, 1, 0.6667, 0.3333, 2)),
        ("未指定", (1, 0, 0, 0.0, 0.0, 1)),
    ]
    assert [(r["person"], r["inspections"], r["findings"]) for r in result["inspectors"]] == [
        ("王检查", 2, 3)
    ]
    assert [
        (r["standard"], r["no"], r["content"], r["findings"], r["points_lost"])
        for r in result["items"]
    ] == [
        ("culture", 1, "第1项要求", 2, 2.0),
        ("culture", 2, "第2项要求", 1, 0.5),
    ]
    company = result["company"]
    assert rates(company) == (4, 2, 1, 0.5, 0.25, 3)
    assert (company["inspections"], company["score_rate"]) == (2, 0.5)


async def test_confirmed_and_unconfirmed_results(
    db: Database, clock: FakeClock, month: World
) -> None:
    """A result 待确认 or 申诉中 is unconfirmed; 已确认 and results from before 项目确认 are
    confirmed. 得分率 and the other measures are unchanged."""
    waiting = await _inspection(db, clock, month, "2025-03-20T03:00", [(1, 1.0)])
    appealed = await _inspection(db, clock, month, "2025-03-21T03:00", [(1, 0.0)])
    deadline = at("2025-03-25T03:00")
    async with db.transaction() as tx:
        for inspection_id in (waiting, appealed):
            await tx.confirmations.open(
                inspection_id, month.site_a, deadline=deadline, remind_at=deadline
            )
        await tx.confirmations.file_appeal(
            appealed, 1, reason="已整改", filed_by=month.responsible, score_before=0.0
        )
    clock.now = REPORTED
    async with db.read() as tx:
        statuses = await tx.confirmations.statuses([waiting, appealed])
        result = await month_kpis(tx, MARCH, REPORTED)
    assert [s.label for s in statuses.values()] == ["待确认", "申诉中"]
    sites = {row["site"]: row for row in result["sites"]}
    counts = ("inspections", "confirmed", "unconfirmed")
    assert tuple(sites["阳光小区"][k] for k in counts) == (4, 2, 2)
    assert tuple(sites["月亮花园"][k] for k in counts) == (0, 0, 0)
    assert [tuple(r[k] for k in counts) for r in result["regions"]] == [(4, 2, 2)]
    assert tuple(result["company"][k] for k in counts) == (4, 2, 2)
    assert sites["阳光小区"]["score_rate"] == 0.5


async def test_extension_counts_in_the_month_it_moved_to(db: Database, month: World) -> None:
    async with db.read() as tx:
        april = await month_kpis(tx, Period.month(date(2025, 4, 1)), REPORTED)
    sites = {row["site"]: row for row in april["sites"]}
    # Only the task extended to April 5th, not yet due on April 2nd; the open ones of
    # February and March are still 逾期未整改.
    assert rates(sites["阳光小区"]) == (1, 0, 0, 0.0, 0.0, 2)
    assert sites["阳光小区"]["inspections"] == 1


async def test_no_tasks_no_inspections_gives_null_rates(db: Database, month: World) -> None:
    async with db.read() as tx:
        january = await month_kpis(tx, Period.month(date(2025, 1, 1)), REPORTED)
    for row in january["sites"]:
        assert rates(row) == (0, 0, 0, None, None, 0)
        assert (row["inspections"], row["score_rate"]) == (0, None)
    assert january["responsible"] == []
    assert january["inspectors"] == []
    assert january["items"] == []


async def test_scope_of_sites(db: Database, month: World) -> None:
    async with db.read() as tx:
        result = await month_kpis(tx, MARCH, REPORTED, site_ids={month.site_b})
    assert [r["site"] for r in result["sites"]] == ["月亮花园"]
    assert result["regions"] == []
    assert rates(result["company"]) == (1, 0, 0, 0.0, 0.0, 1)
    assert result["inspectors"] == []


async def test_task_queries(db: Database, month: World) -> None:
    async with db.read() as tx:
        due = await tx.tasks.due_between(MARCH.first, MARCH.last)
        overdue = await tx.tasks.open_due_before(MARCH.last, site_ids=[month.site_a])
        march = await tx.inspections.item_losses(
            at("2025-03-01T00:00"), until=at("2025-03-31T16:00")
        )
    assert [t.due_date for t in due] == [
        date(2025, 3, 5),
        date(2025, 3, 10),
        date(2025, 3, 10),
        date(2025, 3, 20),
    ]
    assert [t.due_date for t in overdue] == [date(2025, 2, 10), date(2025, 3, 20)]
    assert [(loss.item_no, loss.times) for loss in march] == [(1, 2), (2, 1)]
