"""Planning a task's reminders in the database whenever its target date, 责任人 or state
changes, and reading how far up the escalation ladder it has gone; the scheduler's sweep
(bot/flows/reminder_sweep.py) sends them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.core import company_settings, ladder
from bot.core.ladder import Level
from bot.core.reminders import ReminderPolicy, in_quiet_hours, plan
from storage.db import Tx
from storage.records import Role, Site, Task, TaskEventKind, TaskStatus


@dataclass(frozen=True)
class Reached:
    """The highest level told of a task so far, when, and how many managers it had then."""

    level: Level
    at: datetime
    told: int


async def policy_for(tx: Tx, site: Site) -> ReminderPolicy:
    return ReminderPolicy.from_settings(await company_settings.for_site(tx.settings, site))


async def quiet_now(tx: Tx, site: Site, now: datetime) -> bool:
    """Whether `now` is in the site's quiet hours, when no notice goes out to its people."""
    policy = await policy_for(tx, site)
    return in_quiet_hours(now.astimezone(ZoneInfo(site.timezone)).time(), policy)


async def reached(tx: Tx, task_id: int) -> Reached | None:
    """How far up the ladder the task has gone (its 逾期督办 events); None: not yet."""
    found: Reached | None = None
    for event in await tx.tasks.events(task_id):
        level = event.data.get("level") if event.kind is TaskEventKind.ESCALATED else None
        if level not in tuple(Level):
            continue
        if found is None or ladder.rank(Level(level)) > ladder.rank(found.level):
            to = event.data.get("to")
            found = Reached(Level(level), event.at, len(to) if isinstance(to, list) else 1)
    return found


async def managers_at(tx: Tx, site: Site, level: Level) -> list[int]:
    """Who is told at a rung: the managers holding the role at exactly that level now."""
    if level is Level.SITE:
        people = await tx.roles.held_at(Role.MANAGER, site_id=site.id)
    elif level is Level.REGION and site.region_id is not None:
        people = await tx.roles.held_at(Role.MANAGER, region_id=site.region_id)
    else:
        people = await tx.roles.held_at(Role.MANAGER)
    return [person.id for person in people]


async def under_appeal(tx: Tx, task: Task) -> bool:
    """Whether an appeal against the task's finding is undecided."""
    if task.inspection_id is None or task.item_no is None:
        return False
    return await tx.confirmations.open_appeal(task.inspection_id, task.item_no) is not None


async def replan(tx: Tx, task: Task, now: datetime) -> int:
    """Drop the task's pending reminders and plan them anew; only 待整改 tasks get any, and
    none while an appeal against its finding is undecided (申诉中). The ladder's rungs are
    planned without a person (their managers are looked up when due), and only those above
    the level already reached."""
    await tx.reminders.cancel_for_task(task.id)
    if task.status is not TaskStatus.OPEN or task.due_date is None:
        return 0
    if await under_appeal(tx, task):
        return 0
    site = await tx.sites.get(task.site_id)
    if site is None:
        return 0
    policy = await policy_for(tx, site)
    so_far = await reached(tx, task.id)
    wanted = plan(
        task.due_date,
        policy,
        site.timezone,
        now,
        has_region=site.region_id is not None,
        reached=so_far.level if so_far else None,
    )
    managers: list[int] | None = None
    planned = 0
    for reminder in wanted:
        targets: list[int | None]
        if reminder.rung:
            targets = [None]
        elif task.responsible_person_id is not None:
            targets = [task.responsible_person_id]
        else:
            if managers is None:
                managers = [m.id for m in await tx.roles.people_with_role(site.id, Role.MANAGER)]
            targets = list(managers)
        for person_id in targets:
            if await tx.reminders.schedule(task.id, person_id, reminder.kind, reminder.due_at):
                planned += 1
    return planned
