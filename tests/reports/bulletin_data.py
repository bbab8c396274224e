"""A company with two months of history for the 通报 tests: October and November 2026.

华东 (阳光花园, 翠湖苑) and 金桂园 outside any region; 赵总 manages the company, 钱经理 华东,
孙经理 only 金桂园. November: 阳光花园 50% (a 严重不合格 fixed on time, an 观察项 fixed late),
翠湖苑 66.7% (an 一般不合格 still open past its date), 金桂园 100%; October: 阳光花园 66.7%,
翠湖苑 100%."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from storage.db import Database, Tx
from storage.records import Channel, Role, Severity, TaskStatus
from tests.storage.helpers import FakeClock, snapshot


@dataclass(frozen=True)
class Company:
    inspector: int
    responsible: int
    boss: int
    region_manager: int
    site_manager: int


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def _inspect(
    db: Database,
    clock: FakeClock,
    site: int,
    when: str,
    scores: tuple[float, float, float],
    tasks: list[tuple[int, Severity, date]],
    people: Company,
) -> list[int]:
    clock.now = at(when)
    async with db.transaction() as tx:
        standard = await tx.standards.ensure("culture", "1", "社区文化管理", "h1", snapshot())
        inspection = await tx.inspections.start(site, standard.id, people.inspector)
        for no, score in enumerate(scores, start=1):
            await tx.answers.set(
                inspection.id, no, answered_by=people.inspector, score=score, max_score=1.0
            )
        made = []
        for no, severity, due in tasks:
            task = await tx.tasks.create(
                site,
                f"第{no}项不符合",
                created_by=people.inspector,
                due_date=due,
                responsible_person_id=people.responsible,
                inspection_id=inspection.id,
                item_no=no,
                score=scores[no - 1],
                severity=severity,
            )
            made.append(task.id)
        await tx.inspections.complete(inspection.id, score=sum(scores), max_score=3.0)
    return made


async def _done(db: Database, clock: FakeClock, task_id: int, when: str) -> None:
    clock.now = at(when)
    async with db.transaction() as tx:
        task = await tx.tasks.get(task_id)
        assert task is not None
        await tx.tasks.transition(task_id, task.version, TaskStatus.DONE, actor_id=None)


async def _person(tx: Tx, name: str, chat: str) -> int:
    person = await tx.people.create(name)
    await tx.identities.bind(person.id, Channel.TELEGRAM, chat, chat_id=chat)
    return person.id


async def build_history(url: str) -> Company:
    clock = FakeClock(at("2026-09-20T02:00"))
    db = Database(url, clock=clock)
    await db.open()
    try:
        async with db.transaction() as tx:
            region = await tx.regions.create("华东")
            sunny = await tx.sites.create("阳光花园", timezone="Asia/Shanghai", region_id=region.id)
            lake = await tx.sites.create("翠湖苑", timezone="Asia/Shanghai", region_id=region.id)
            osmanthus = await tx.sites.create("金桂园", timezone="Asia/Shanghai")
            people = Company(
                inspector=await _person(tx, "王检查", "501"),
                responsible=await _person(tx, "张三", "502"),
                boss=await _person(tx, "赵总", "503"),
                region_manager=await _person(tx, "钱经理", "504"),
                site_manager=await _person(tx, "孙经理", "505"),
            )
            await tx.roles.grant(people.boss, None, Role.MANAGER)
            await tx.roles.grant(people.region_manager, None, Role.MANAGER, region_id=region.id)
            await tx.roles.grant(people.site_manager, osmanthus.id, Role.MANAGER)
            for site in (sunny, lake, osmanthus):
                await tx.roles.grant(people.inspector, site.id, Role.INSPECTOR)
                await tx.roles.grant(people.responsible, site.id, Role.RESPONSIBLE)
        await _inspect(db, clock, sunny.id, "2026-10-12T02:00", (0.0, 1.0, 1.0), [], people)
        await _inspect(db, clock, lake.id, "2026-10-14T02:00", (1.0, 1.0, 1.0), [], people)
        serious, late = await _inspect(
            db,
            clock,
            sunny.id,
            "2026-11-03T02:00",
            (0.0, 0.5, 1.0),
            [
                (1, Severity.SERIOUS, date(2026, 11, 10)),
                (2, Severity.OBSERVATION, date(2026, 11, 20)),
            ],
            people,
        )
        await _inspect(
            db,
            clock,
            lake.id,
            "2026-11-05T02:00",
            (0.0, 1.0, 1.0),
            [(1, Severity.GENERAL, date(2026, 11, 15))],
            people,
        )
        await _inspect(db, clock, osmanthus.id, "2026-11-06T02:00", (1.0, 1.0, 1.0), [], people)
        await _done(db, clock, serious, "2026-11-09T03:00")
        await _done(db, clock, late, "2026-11-25T03:00")
    finally:
        await db.close()
    return people
