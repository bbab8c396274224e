"""Rectification tasks with their history, extensions, reminders, audit log and settings."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest

from storage.db import Database
from storage.errors import ConcurrentUpdate, NotFound, StateConflict
from storage.records import (
    EvidenceKind,
    EvidenceRole,
    ExtensionStatus,
    Severity,
    Task,
    TaskEventKind,
    TaskStatus,
)
from tests.storage.helpers import FakeClock, World

TODAY = date(2025, 3, 1)


async def _task(
    db: Database,
    world: World,
    due: date | None,
    *,
    site_id: int | None = None,
    responsible: int | None = None,
) -> Task:
    async with db.transaction() as tx:
        return await tx.tasks.create(
            site_id or world.site_a,
            "楼道堆放杂物",
            created_by=world.inspector,
            due_date=due,
            responsible_person_id=responsible or world.responsible,
        )


async def test_task_lifecycle_records_every_change(
    db: Database, world: World, clock: FakeClock
) -> None:
    async with db.transaction() as tx:
        inspection = await tx.inspections.start(world.site_a, world.standard, world.inspector)
        task = await tx.tasks.create(
            world.site_a,
            "回访记录不全",
            created_by=world.inspector,
            due_date=TODAY + timedelta(days=7),
            responsible_person_id=world.responsible,
            inspection_id=inspection.id,
            item_no=3,
            score=0.5,
            severity=Severity.SERIOUS,
            remark="先补记录",
        )
    assert (task.status, task.version, task.closed_at) == (TaskStatus.OPEN, 1, None)
    assert task.status.label == "待整改"
    clock.advance(hours=1)
    async with db.transaction() as tx:
        review = await tx.tasks.transition(
            task.id, 1, TaskStatus.REVIEW, actor_id=world.responsible, reason="已整改"
        )
        assert review.version == 2
        with pytest.raises(ConcurrentUpdate):
            await tx.tasks.transition(task.id, 1, TaskStatus.DONE, actor_id=world.inspector)
        with pytest.raises(StateConflict):
            await tx.tasks.transition(task.id, 2, TaskStatus.REVIEW, actor_id=world.inspector)
        back = await tx.tasks.transition(
            task.id, 2, TaskStatus.OPEN, actor_id=world.inspector, reason="照片不清楚"
        )
        other = await tx.people.create("赵六")
        reassigned = await tx.tasks.reassign(
            task.id, back.version, other.id, actor_id=world.manager
        )
        await tx.tasks.record_event(
            task.id, TaskEventKind.REMINDER_SENT, data={"kind": "due_in_3d"}
        )
        done = await tx.tasks.transition(
            task.id, reassigned.version, TaskStatus.DONE, actor_id=world.inspector
        )
        with pytest.raises(NotFound):
            await tx.tasks.transition(999, 1, TaskStatus.DONE, actor_id=None)
    assert done.closed_at == clock.now
    assert done.version == 5
    assert done.remark == "先补记录"
    assert done.responsible_person_id == other.id
    async with db.read() as tx:
        events = await tx.tasks.events(task.id)
        assert [(e.kind, e.from_status, e.to_status) for e in events] == [
            (TaskEventKind.CREATED, None, TaskStatus.OPEN),
            (TaskEventKind.STATUS, TaskStatus.OPEN, TaskStatus.REVIEW),
            (TaskEventKind.STATUS, TaskStatus.REVIEW, TaskStatus.OPEN),
            (TaskEventKind.REASSIGNED, None, None),
            (TaskEventKind.REMINDER_SENT, None, None),
            (TaskEventKind.STATUS, TaskStatus.OPEN, TaskStatus.DONE),
        ]
        assert events[2].reason == "照片不清楚"
        assert events[2].actor_id == world.inspector
        assert events[3].data == {"from": world.responsible, "to": other.id}
        assert events[4].actor_id is None
        assert events[-1].at == clock.now
        assert [t.id for t in await tx.tasks.for_inspection(inspection.id)] == [task.id]
        assert await tx.tasks.get(task.id) == done


async def test_items_with_tasks_are_the_items_of_that_inspection_with_a_task(
    db: Database, world: World
) -> None:
    async with db.transaction() as tx:
        inspection = await tx.inspections.start(world.site_a, world.standard, world.inspector)
        other = await tx.inspections.start(world.site_b, world.standard, world.inspector)
        for inspection_id, item_no in ((inspection.id, 5), (inspection.id, 3), (other.id, 4)):
            await tx.tasks.create(
                world.site_a,
                f"第{item_no}项",
                created_by=world.inspector,
                due_date=TODAY,
                inspection_id=inspection_id,
                item_no=item_no,
            )
        await tx.tasks.create(world.site_a, "巡查发现", created_by=world.inspector, due_date=None)
        assert await tx.tasks.items_with_tasks(inspection.id) == {3, 5}
        assert await tx.tasks.items_with_tasks(other.id) == {4}
        assert await tx.tasks.items_with_tasks(other.id + 1) == set()


async def test_notes_and_evidence_on_tasks(db: Database, world: World) -> None:
    task = await _task(db, world, TODAY)
    async with db.transaction() as tx:
        await tx.notes.add("已清理", created_by=world.responsible, task_id=task.id)
        before = await tx.evidence.add(
            "a" * 64,
            5,
            mime="image/jpeg",
            kind=EvidenceKind.PHOTO,
            created_by=world.inspector,
            task_id=task.id,
        )
        after = await tx.evidence.add(
            "b" * 64,
            6,
            mime="image/jpeg",
            kind=EvidenceKind.PHOTO,
            created_by=world.responsible,
            task_id=task.id,
            role=EvidenceRole.FIX,
        )
    async with db.read() as tx:
        assert [n.text for n in await tx.notes.for_task(task.id)] == ["已清理"]
        assert await tx.evidence.for_task(task.id) == [before, after]
        assert await tx.evidence.for_task(task.id, role=EvidenceRole.FIX) == [after]


async def test_open_and_overdue_queries(db: Database, world: World) -> None:
    late = await _task(db, world, TODAY - timedelta(days=2))
    soon = await _task(db, world, TODAY + timedelta(days=1))
    undated = await _task(db, world, None)
    latest = await _task(db, world, TODAY - timedelta(days=5))
    other_site = await _task(db, world, TODAY - timedelta(days=1), site_id=world.site_b)
    someone_else = await _task(db, world, TODAY - timedelta(days=9), responsible=world.manager)
    closed = await _task(db, world, TODAY - timedelta(days=30))
    async with db.transaction() as tx:
        await tx.tasks.transition(closed.id, 1, TaskStatus.DONE, actor_id=world.inspector)
        await tx.tasks.transition(soon.id, 1, TaskStatus.REVIEW, actor_id=world.responsible)
    async with db.read() as tx:
        mine = await tx.tasks.open_for_person(world.responsible)
        assert [t.id for t in mine] == [latest.id, late.id, other_site.id, soon.id, undated.id]
        assert [t.is_overdue(TODAY) for t in mine] == [True, True, True, False, False]
        site = await tx.tasks.open_for_site(world.site_a)
        assert [t.id for t in site] == [someone_else.id, latest.id, late.id, soon.id, undated.id]
        overdue = await tx.tasks.overdue([world.site_a, world.site_b], TODAY)
        assert [t.id for t in overdue] == [someone_else.id, latest.id, late.id, other_site.id]
        assert [t.id for t in await tx.tasks.overdue([world.site_b], TODAY)] == [other_site.id]
        oldest = await tx.tasks.overdue([world.site_a, world.site_b], TODAY, limit=2)
        assert [t.id for t in oldest] == [someone_else.id, latest.id]
        counts = await tx.tasks.counts([world.site_a, world.site_b], TODAY)
        a, b = counts[world.site_a], counts[world.site_b]
        assert (a.open, a.review, a.done, a.overdue) == (4, 1, 1, 3)
        assert (b.open, b.review, b.done, b.overdue) == (1, 0, 0, 1)


async def test_withdrawn_and_rescored_tasks(db: Database, world: World, clock: FakeClock) -> None:
    """已撤销 closes a task: out of every open list, count and overdue query, and out of the
    items with a task; a rescored task keeps its history."""
    async with db.transaction() as tx:
        inspection = await tx.inspections.start(world.site_a, world.standard, world.inspector)
        withdrawn, rescored = [
            await tx.tasks.create(
                world.site_a,
                f"第{no}项",
                created_by=world.inspector,
                due_date=TODAY - timedelta(days=3),
                responsible_person_id=world.responsible,
                inspection_id=inspection.id,
                item_no=no,
                score=0,
            )
            for no in (1, 2)
        ]
    clock.advance(hours=1)
    async with db.transaction() as tx:
        closed = await tx.tasks.transition(
            withdrawn.id, 1, TaskStatus.WITHDRAWN, actor_id=world.inspector, reason="改为 1分"
        )
        changed = await tx.tasks.rescore(
            rescored.id, 1, 0.5, "未达标：部分符合", actor_id=world.inspector, reason="改为 0.5分"
        )
    assert (closed.status.label, closed.closed_at) == ("已撤销", clock.now)
    assert closed.is_overdue(TODAY) is False
    assert (changed.score, changed.finding, changed.version) == (0.5, "未达标：部分符合", 2)
    async with db.read() as tx:
        assert await tx.tasks.items_with_tasks(inspection.id) == {2}
        assert [t.id for t in await tx.tasks.open_for_person(world.responsible)] == [rescored.id]
        assert [t.id for t in await tx.tasks.open_for_site(world.site_a)] == [rescored.id]
        assert [t.id for t in await tx.tasks.open_created_by(world.inspector)] == [rescored.id]
        assert await tx.tasks.open_created_by(world.responsible) == []
        assert [t.id for t in await tx.tasks.overdue([world.site_a], TODAY)] == [rescored.id]
        count = (await tx.tasks.counts([world.site_a], TODAY))[world.site_a]
        assert (count.open, count.review, count.done, count.overdue) == (1, 0, 0, 1)
        event = (await tx.tasks.events(rescored.id))[-1]
        assert (event.kind, event.actor_id, event.reason) == (
            TaskEventKind.RESCORED,
            world.inspector,
            "改为 0.5分",
        )
        assert event.data == {
            "from": 0,
            "to": 0.5,
            "finding_from": "第2项",
            "finding_to": "未达标：部分符合",
        }


async def test_extension_requests(db: Database, world: World, clock: FakeClock) -> None:
    task = await _task(db, world, TODAY)
    async with db.transaction() as tx:
        request = await tx.tasks.request_extension(
            task.id, world.responsible, TODAY + timedelta(days=7), reason="等材料"
        )
        assert request.status is ExtensionStatus.PENDING
        with pytest.raises(StateConflict):
            await tx.tasks.request_extension(task.id, world.responsible, TODAY, reason=None)
        assert await tx.tasks.pending_extensions([world.site_a]) == [request]
        assert await tx.tasks.pending_extensions([world.site_b]) == []
    clock.advance(hours=2)
    async with db.transaction() as tx:
        decided, moved = await tx.tasks.decide_extension(
            request.id, approve=True, decided_by=world.manager
        )
        assert decided.status is ExtensionStatus.APPROVED
        assert decided.decided_at == clock.now
        assert moved.due_date == TODAY + timedelta(days=7)
        assert moved.version == 2
        with pytest.raises(StateConflict):
            await tx.tasks.decide_extension(request.id, approve=False, decided_by=world.manager)
        with pytest.raises(NotFound):
            await tx.tasks.decide_extension(999, approve=False, decided_by=world.manager)
        second = await tx.tasks.request_extension(
            task.id, world.responsible, TODAY + timedelta(days=30), reason="再延"
        )
        rejected, unchanged = await tx.tasks.decide_extension(
            second.id, approve=False, decided_by=world.manager, reason="太久"
        )
        assert rejected.status is ExtensionStatus.REJECTED
        assert unchanged.due_date == TODAY + timedelta(days=7)
        assert [r.id for r in await tx.tasks.extensions(task.id)] == [request.id, second.id]
        assert await tx.tasks.get_extension(second.id) == rejected
        kinds = [e.kind for e in await tx.tasks.events(task.id)]
        assert kinds == [
            TaskEventKind.CREATED,
            TaskEventKind.EXTENSION_REQUESTED,
            TaskEventKind.EXTENSION_APPROVED,
            TaskEventKind.EXTENSION_REQUESTED,
            TaskEventKind.EXTENSION_REJECTED,
        ]


async def test_reminders_schedule_claim_and_cancel(
    db: Database, world: World, clock: FakeClock
) -> None:
    task = await _task(db, world, TODAY)
    now = clock.now
    async with db.transaction() as tx:
        early = await tx.reminders.schedule(task.id, world.responsible, "due_in_3d", now)
        assert early is not None
        assert await tx.reminders.schedule(task.id, world.responsible, "due_in_3d", now) is None
        later = await tx.reminders.schedule(
            task.id, world.responsible, "due_today", now + timedelta(days=1)
        )
        escalate = await tx.reminders.schedule(
            task.id, world.manager, "escalation", now - timedelta(minutes=5)
        )
        assert later is not None
        assert escalate is not None
    async with db.transaction() as tx:
        claimed = await tx.reminders.claim_due(now, limit=10, worker_id="s1", lease_seconds=60)
        assert [r.id for r in claimed] == [escalate.id, early.id]
        assert claimed[0].attempts == 1
        assert await tx.reminders.claim_due(now, limit=10, worker_id="s2", lease_seconds=60) == []
        assert await tx.reminders.mark_sent(early.id)
        assert not await tx.reminders.mark_sent(early.id)
    async with db.transaction() as tx:
        retried = await tx.reminders.claim_due(
            now + timedelta(minutes=1), limit=10, worker_id="s2", lease_seconds=60
        )
        assert [(r.id, r.claimed_by, r.attempts) for r in retried] == [(escalate.id, "s2", 2)]
        assert await tx.reminders.cancel(escalate.id)
        assert await tx.reminders.cancel_for_task(task.id) == 1
        assert (
            await tx.reminders.claim_due(
                now + timedelta(days=2), limit=10, worker_id="s3", lease_seconds=60
            )
            == []
        )
        states = {r.kind: (r.sent_at, r.cancelled_at) for r in await tx.reminders.for_task(task.id)}
        assert states == {
            "due_in_3d": (now, None),
            "due_today": (None, now),
            "escalation": (None, now),
        }
        assert await tx.reminders.get(later.id) is not None
    async with db.transaction() as tx:
        revived = await tx.reminders.schedule(
            task.id, world.responsible, "due_today", now + timedelta(days=1)
        )
        assert revived is not None
        assert revived.id == later.id
        assert revived.cancelled_at is None
        assert await tx.reminders.schedule(task.id, world.responsible, "due_in_3d", now) is None


async def test_a_rung_is_a_reminder_without_a_person_planned_once(
    db: Database, world: World, clock: FakeClock
) -> None:
    task = await _task(db, world, TODAY)
    at = clock.now + timedelta(days=1)
    async with db.transaction() as tx:
        rung = await tx.reminders.schedule(task.id, None, "escalate:region", at)
        assert rung is not None and rung.person_id is None
        assert await tx.reminders.schedule(task.id, None, "escalate:region", at) is None
        assert await tx.reminders.cancel_for_task(task.id) == 1
        revived = await tx.reminders.schedule(task.id, None, "escalate:region", at)
        assert revived is not None and revived.id == rung.id and revived.cancelled_at is None
        assert await tx.reminders.schedule(task.id, world.manager, "escalate:region", at)
        assert len(await tx.reminders.for_task(task.id)) == 2


async def test_concurrent_reminder_claims_never_share(
    db: Database, db_url: str, world: World, clock: FakeClock
) -> None:
    task = await _task(db, world, TODAY)
    async with db.transaction() as tx:
        for n in range(60):
            await tx.reminders.schedule(
                task.id, world.responsible, "r", clock.now - timedelta(minutes=n)
            )
    sweepers = [Database(db_url) for _ in range(3)]
    got: list[int] = []

    async def sweep(database: Database, worker: str) -> None:
        while True:
            async with database.transaction() as tx:
                batch = await tx.reminders.claim_due(
                    clock.now, limit=4, worker_id=worker, lease_seconds=600
                )
                for reminder in batch:
                    got.append(reminder.id)
                    await tx.reminders.mark_sent(reminder.id)
            if not batch:
                return
            await asyncio.sleep(0)

    for database in sweepers:
        await database.open()
    try:
        await asyncio.gather(*(sweep(d, f"s{i}") for i, d in enumerate(sweepers)))
    finally:
        for database in sweepers:
            await database.close()
    assert len(got) == 60
    assert len(set(got)) == 60


async def test_audit_log_and_settings(db: Database, clock: FakeClock) -> None:
    async with db.transaction() as tx:
        first = await tx.audit.record("cli", "site.create", target="site:1", details={"name": "A"})
        clock.advance(seconds=1)
        await tx.audit.record("person:4", "role.grant")
        assert await tx.settings.get("grade_bands") is None
        await tx.settings.set("grade_bands", {"优秀": 90, "良好": 80})
        await tx.settings.set("grade_bands", {"优秀": 95})
        await tx.settings.set("deadline_days", [3, 7])
    async with db.read() as tx:
        recent = await tx.audit.recent()
        assert [e.action for e in recent] == ["role.grant", "site.create"]
        assert recent[1] == first
        assert first.details == {"name": "A"}
        assert [e.action for e in await tx.audit.recent(action="site.create")] == ["site.create"]
        assert [e.action for e in await tx.audit.recent(since=clock.now)] == ["role.grant"]
        assert await tx.settings.get("grade_bands") == {"优秀": 95}
        assert await tx.settings.all() == {"deadline_days": [3, 7], "grade_bands": {"优秀": 95}}
        about = await tx.audit.recent(about=["person:4", "site:1"])
        assert [e.action for e in about] == ["role.grant", "site.create"]
        assert [e.action for e in await tx.audit.recent(about=["site:1"])] == ["site.create"]
        assert await tx.audit.recent(about=["person:5"]) == []
    async with db.transaction() as tx:
        assert await tx.settings.delete("grade_bands") is True
        assert await tx.settings.delete("grade_bands") is False
    async with db.read() as tx:
        assert await tx.settings.all() == {"deadline_days": [3, 7]}
