"""Deactivating a person who leaves: their open tasks go to another 责任人 of the same sites
(who is told, and gets the reminders from then on), their roles, chat bindings and web link
end, and the person stays in the database, inactive, for the records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.texts import label, plain
from bot.flows import notify, reminding
from bot.flows.task_items import TaskItems
from storage.db import Tx
from storage.records import Person, Role, Task


class CannotDeactivate(Exception):
    """Why the person cannot be deactivated as asked (in Chinese, for the admin); nothing
    has changed."""


@dataclass(frozen=True)
class Deactivated:
    handed_over: list[Task]
    roles: int
    chats: int
    notified: int
    """How many of the heir's chats were told (0: the heir has bound no chat yet)."""


async def deactivate(tx: Tx, person: Person, heir: Person | None, now: datetime) -> Deactivated:
    """Deactivate `person`, handing their open tasks to `heir`; raises CannotDeactivate
    before changing anything when that cannot be done."""
    if not person.active:
        raise CannotDeactivate(plain("leavers", "already_inactive", name=person.name))
    tasks = await tx.tasks.open_for_person(person.id)
    if tasks:
        await _check_heir(tx, person, heir, tasks)
    handed: list[Task] = []
    if heir is not None:
        for task in tasks:
            moved = await tx.tasks.reassign(
                task.id, task.version, heir.id, actor_id=None, reason=label("leavers", "reason")
            )
            await reminding.replan(tx, moved, now)
            handed.append(moved)
    notified = await _tell_heir(tx, person, heir, handed) if heir is not None and handed else 0
    grants = await tx.roles.for_person(person.id)
    for grant in grants:
        await tx.roles.revoke(person.id, grant.site_id, grant.role, region_id=grant.region_id)
    identities = await tx.identities.for_person(person.id)  # chats and web links alike
    for identity in identities:
        await tx.identities.revoke(identity.id)
    await tx.people.update(person.id, active=False)
    return Deactivated(handed, len(grants), len(identities), notified)


async def _check_heir(tx: Tx, person: Person, heir: Person | None, tasks: list[Task]) -> None:
    if heir is None:
        raise CannotDeactivate(plain("leavers", "tasks_left", name=person.name, count=len(tasks)))
    if heir.id == person.id or not heir.active:
        raise CannotDeactivate(plain("leavers", "heir_invalid", name=heir.name))
    missing = []
    for site_id in sorted({task.site_id for task in tasks}):
        if not await tx.roles.has(heir.id, site_id, Role.RESPONSIBLE):
            site = await tx.sites.get(site_id)
            missing.append(site.name if site else f"#{site_id}")
    if missing:
        raise CannotDeactivate(
            plain("leavers", "heir_not_responsible", name=heir.name, sites=missing)
        )


async def _tell_heir(tx: Tx, person: Person, heir: Person, tasks: list[Task]) -> int:
    sites = {site.id: site.name for site in await tx.sites.get_many({t.site_id for t in tasks})}
    items = TaskItems(tx)
    rows = []
    for task in tasks:
        item = await items.of(task)
        rows.append(
            {
                "id": task.id,
                "site": sites.get(task.site_id, ""),
                "item_no": task.item_no,
                "content": item.content if item else None,
                "finding": task.finding,
                "due": task.due_date.isoformat() if task.due_date else "—",
            }
        )
    return await notify.to_person(
        tx, heir.id, "tasks_handed_over", name=heir.name, former=person.name, rows=rows
    )
