"""Planning a task's reminders in the database whenever its target date, 责任人 or state
changes; the scheduler's sweep sends them."""

from __future__ import annotations

from datetime import datetime

from bot.core import company_settings
from bot.core.reminders import ReminderPolicy, plan
from storage.db import Tx
from storage.records import Role, Site, Task, TaskStatus


async def policy_for(tx: Tx, site: Site) -> ReminderPolicy:
    return ReminderPolicy.from_settings(await company_settings.for_site(tx.settings, site))


async def under_appeal(tx: Tx, task: Task) -> bool:
    """Whether an appeal against the task's finding is undecided."""
    if task.inspection_id is None or task.item_no is None:
        return False
    return await tx.confirmations.open_appeal(task.inspection_id, task.item_no) is not None


async def replan(tx: Tx, task: Task, now: datetime) -> int:
    """Drop the task's pending reminders and plan them anew; only 待整改 tasks get any, and
    none while an appeal against its finding is undecided (申诉中)."""
    await tx.reminders.cancel_for_task(task.id)
    if task.status is not TaskStatus.OPEN or task.due_date is None:
        return 0
    if await under_appeal(tx, task):
        return 0
    site = await tx.sites.get(task.site_id)
    if site is None:
        return 0
    policy = await policy_for(tx, site)
    managers = [m.id for m in await tx.roles.people_with_role(site.id, Role.MANAGER)]
    planned = 0
    for reminder in plan(task.due_date, policy, site.timezone, now):
        if reminder.to_managers:
            targets = managers
        elif task.responsible_person_id is not None:
            targets = [task.responsible_person_id]
        else:
            targets = managers
        for person_id in targets:
            if await tx.reminders.schedule(task.id, person_id, reminder.kind, reminder.due_at):
                planned += 1
    return planned
