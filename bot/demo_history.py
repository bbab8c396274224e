"""The demo company's past: an inspection per site in each of the previous months, with the
rectification tasks of the items that lost points, fixed on time, fixed late or still open,
so that the KPIs, /统计 and `pinjian bulletin --month <last month>` have something to show
on a fresh `make run`.

Each step runs in its own transaction on a database whose clock is set to the moment the
step happened (every stored time is then as it would have been). Which items lose points is
drawn from a generator seeded by site and month: the same demo every time.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.core.kpi import Period
from standards.schema import Item, Standard
from storage.base import utc_now
from storage.db import Database
from storage.records import Role, Severity, Site, TaskStatus

MONTHS = 2
# Per site, how many items lose points: the sites rank differently and move month to month.
LOSSES = {0: (4, 3), 1: (10, 15), 2: (18, 8), 3: (7, 12)}
DUE_DAYS = {Severity.SERIOUS: 3, Severity.GENERAL: 7, Severity.OBSERVATION: 15}
SITE_RESPONSIBLE = ("陈主管", "刘主管", "黄主管")
"""责任人 of the sites other than 阳光花园 (no chat login: they only own demo tasks)."""


@dataclass
class Moment:
    """The demo database's clock: a set moment while the history is written, else now."""

    at: datetime | None = None
    now: Callable[[], datetime] = field(default=utc_now)

    def __call__(self) -> datetime:
        return self.at or self.now()


@dataclass(frozen=True)
class _Finding:
    item: Item
    score: float
    severity: Severity


def _findings(standard: Standard, rng: random.Random, count: int, serious: bool) -> list[_Finding]:
    items = sorted(rng.sample(standard.items, count), key=lambda i: i.no)
    found = []
    for index, item in enumerate(items):
        lowest = min(level.score for level in item.levels)
        partial = [lv.score for lv in item.levels if lowest < lv.score < item.max_score]
        if partial and index % 2:
            found.append(_Finding(item, partial[0], Severity.OBSERVATION))
        else:
            worst = Severity.SERIOUS if serious and index == 0 else Severity.GENERAL
            found.append(_Finding(item, lowest, worst))
    return found


async def seed_demo_history(
    url: str, standard: Standard, inspectors: dict[str, int], today: date
) -> int:
    """Write the previous MONTHS months of the demo sites; returns how many tasks were made.
    `inspectors` maps each site's name to who inspects it."""
    moment = Moment()
    db = Database(url, clock=moment)
    await db.open()
    made = 0
    try:
        async with db.transaction() as tx:
            stored = await tx.standards.ensure(
                standard.id,
                standard.version,
                standard.title,
                standard.content_hash(),
                standard.to_json_dict(),
            )
            sites = await tx.sites.all()
            owners: dict[int, list[int]] = {}
            names = iter(SITE_RESPONSIBLE)
            for site in sites:
                staff = await tx.roles.people_with_role(site.id, Role.RESPONSIBLE)
                if not staff:
                    person = await tx.people.create(next(names, f"{site.name}主管"))
                    await tx.roles.grant(person.id, site.id, Role.RESPONSIBLE)
                    staff = [person]
                owners[site.id] = [p.id for p in staff]
        first = Period.month(today)
        periods = [first]
        for _ in range(MONTHS):
            periods.insert(0, periods[0].previous())
        for month_index, period in enumerate(periods[:-1]):
            for site_index, site in enumerate(sites):
                rng = random.Random(f"{site.name}-{period.label}")
                count = LOSSES[site_index % len(LOSSES)][month_index % 2]
                findings = _findings(standard, rng, count, serious=month_index == 0)
                made += await _inspection(
                    db,
                    moment,
                    site,
                    stored.id,
                    standard,
                    inspectors[site.name],
                    owners[site.id],
                    period.first + timedelta(days=7 + 2 * site_index),
                    findings,
                )
    finally:
        await db.close()
    return made


async def _inspection(
    db: Database,
    moment: Moment,
    site: Site,
    standard_id: int,
    standard: Standard,
    inspector: int,
    owners: list[int],
    day: date,
    findings: list[_Finding],
) -> int:
    zone = ZoneInfo(site.timezone)
    moment.at = datetime.combine(day, time(9, 0), zone)
    lost = {f.item.no: f for f in findings}
    tasks: list[tuple[int, date]] = []
    async with db.transaction() as tx:
        inspection = await tx.inspections.start(site.id, standard_id, inspector)
        score = 0.0
        for item in standard.items:
            finding = lost.get(item.no)
            value = finding.score if finding else item.max_score
            label = next((lv.label for lv in item.levels if lv.score == value), None)
            await tx.answers.set(
                inspection.id,
                item.no,
                answered_by=inspector,
                score=value,
                max_score=item.max_score,
                level_label=label,
            )
            score += value
        moment.at = datetime.combine(day, time(10, 30), zone)
        await tx.inspections.complete(inspection.id, score=score, max_score=standard.max_score)
        for index, finding in enumerate(findings):
            due = day + timedelta(days=DUE_DAYS[finding.severity])
            task = await tx.tasks.create(
                site.id,
                f"{finding.item.content[:40]}（演示）",
                created_by=inspector,
                due_date=due,
                responsible_person_id=owners[index % len(owners)],
                inspection_id=inspection.id,
                item_no=finding.item.no,
                score=finding.score,
                severity=finding.severity,
            )
            tasks.append((task.id, due))
    for index, (task_id, due) in enumerate(tasks):
        # In turn: fixed two days early, fixed three days late, still open.
        if index % 3 == 2:
            continue
        closing = datetime.combine(
            due + timedelta(days=-2 if index % 3 == 0 else 3), time(16), zone
        )
        if closing >= moment.now():
            continue
        await _close(db, moment, task_id, closing, inspector)
    return len(tasks)


async def _close(db: Database, moment: Moment, task_id: int, at: datetime, inspector: int) -> None:
    moment.at = at - timedelta(hours=2)
    async with db.transaction() as tx:
        task = await tx.tasks.get(task_id)
        assert task is not None
        task = await tx.tasks.transition(
            task_id, task.version, TaskStatus.REVIEW, actor_id=task.responsible_person_id
        )
        moment.at = at
        await tx.tasks.transition(task_id, task.version, TaskStatus.DONE, actor_id=inspector)
