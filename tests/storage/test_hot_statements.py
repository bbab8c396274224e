"""Statements read or written on the answer and task paths, prepared with bound parameters
(Repo._run): the same results on SQLite and PostgreSQL, and on SQLite every one of them in
one hand-over to aiosqlite's thread (storage.direct), none through SQLAlchemy's cursor
(for the N = 50 capacity goal, docs/BENCHMARKS.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from storage.db import Database
from storage.errors import ConcurrentUpdate, StateConflict
from storage.records import AppealDecision, Role, TaskEventKind, TaskStatus
from tests.storage.helpers import FakeClock, World

TODAY = date(2025, 3, 1)


@contextmanager
def through_sqlalchemy(db: Database) -> Iterator[list[str]]:
    """The statements run through SQLAlchemy's cursor (on SQLite: not storage.direct)."""
    seen: list[str] = []

    def executed(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        seen.append(statement)

    engine = db.engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", executed)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", executed)


def direct_on_sqlite(db: Database, seen: list[str]) -> None:
    if db.dialect == "sqlite":
        assert seen == []


async def test_event_keys_and_section_summaries(db: Database, world: World) -> None:
    async with db.transaction(event_key="telegram:u1") as tx:
        inspection = await tx.inspections.start(world.site_a, world.standard, world.inspector)
    async with db.transaction() as tx:
        with through_sqlalchemy(db) as seen:
            assert await tx.events.seen("telegram:u1") is True
            assert await tx.events.seen("telegram:u2") is False
            assert await tx.inspections.first_section_summary(inspection.id, "一") is True
            assert await tx.inspections.first_section_summary(inspection.id, "一") is False
            assert await tx.inspections.first_section_summary(inspection.id, "二") is True
    direct_on_sqlite(db, seen)


async def test_admins_and_open_appeals(db: Database, world: World, clock: FakeClock) -> None:
    async with db.transaction() as tx:
        inspection = await tx.inspections.start(world.site_a, world.standard, world.inspector)
        deadline = clock.now + timedelta(days=3)
        await tx.confirmations.open(
            inspection.id, world.site_a, deadline=deadline, remind_at=deadline
        )
        filed = await tx.confirmations.file_appeal(
            inspection.id, 2, reason="已整改", filed_by=world.responsible, score_before=0.0
        )
    async with db.transaction() as tx:
        with through_sqlalchemy(db) as seen:
            assert [p.name for p in await tx.people.admins()] == ["管理员"]
            assert await tx.confirmations.open_appeal(inspection.id, 2) == filed
            assert await tx.confirmations.open_appeal(inspection.id, 3) is None
        direct_on_sqlite(db, seen)
        await tx.confirmations.decide(
            filed.id,
            AppealDecision.UPHELD,
            decided_by=world.manager,
            reason=None,
            score_after=None,
            label_after=None,
        )
        assert await tx.confirmations.open_appeal(inspection.id, 2) is None


async def test_task_moves_bump_the_version_and_read_their_events(
    db: Database, world: World, clock: FakeClock
) -> None:
    async with db.transaction() as tx:
        task = await tx.tasks.create(
            world.site_a,
            "楼道堆放杂物",
            created_by=world.inspector,
            due_date=TODAY,
            responsible_person_id=world.responsible,
        )
    clock.advance(hours=1)
    async with db.transaction() as tx:
        with through_sqlalchemy(db) as seen:
            moved = await tx.tasks.transition(
                task.id, 1, TaskStatus.REVIEW, actor_id=world.responsible
            )
            events = await tx.tasks.events(task.id)
        direct_on_sqlite(db, seen)
        assert (moved.status, moved.version, moved.updated_at) == (
            TaskStatus.REVIEW,
            2,
            clock.now,
        )
        assert [(e.kind, e.to_status) for e in events] == [
            (TaskEventKind.CREATED, TaskStatus.OPEN),
            (TaskEventKind.STATUS, TaskStatus.REVIEW),
        ]
        with pytest.raises(ConcurrentUpdate):
            await tx.tasks.transition(task.id, 1, TaskStatus.DONE, actor_id=world.inspector)
    async with db.read() as tx:
        assert await tx.tasks.get(task.id) == moved


async def test_roles_held_at_one_level_and_the_latest_inspections(
    db: Database, world: World
) -> None:
    """held_at names who holds the role at the site itself, at the region itself or
    company-wide; not those a level above reaches, nor the revoked. It and latest_completed
    are read at every submission."""
    async with db.transaction() as tx:
        east = await tx.regions.create("华东")
        await tx.sites.set_region(world.site_a, east.id)
        boss = await tx.people.create("区域经理")
        hq = await tx.people.create("品质部")
        second = await tx.people.create("阿经理")
        await tx.roles.grant(boss.id, None, Role.MANAGER, region_id=east.id)
        await tx.roles.grant(hq.id, None, Role.MANAGER)
        await tx.roles.grant(second.id, world.site_a, Role.MANAGER)
        await tx.roles.grant(hq.id, world.site_b, Role.INSPECTOR)
        with through_sqlalchemy(db) as seen:
            at_site = await tx.roles.held_at(Role.MANAGER, site_id=world.site_a)
            region = await tx.roles.held_at(Role.MANAGER, region_id=east.id)
            company = await tx.roles.held_at(Role.MANAGER)
            inspectors = await tx.roles.held_at(Role.INSPECTOR)
            latest = await tx.inspections.latest_completed(world.site_a, "culture")
        direct_on_sqlite(db, seen)
        assert latest == []
        assert {p.id for p in at_site} == {second.id, world.manager}
        assert await tx.roles.held_at(Role.MANAGER, site_id=world.site_b) == []
        assert [p.id for p in region] == [boss.id]
        assert [p.id for p in company] == [hq.id]
        assert inspectors == []
        assert await tx.roles.revoke(second.id, world.site_a, Role.MANAGER)
        at_site = await tx.roles.held_at(Role.MANAGER, site_id=world.site_a)
        assert [p.id for p in at_site] == [world.manager]
        with pytest.raises(StateConflict):
            await tx.roles.held_at(Role.MANAGER, site_id=world.site_a, region_id=east.id)
