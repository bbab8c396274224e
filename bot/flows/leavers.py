"""Deactivating a person who leaves: their open tasks go to another 责任人 of the same sites
(who is told, and gets the reminders from then on), their roles, chat bindings and web link
end, and the person stays in the database, inactive, for the records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.flows import notify, reminding
from storage.db import Tx
from storage.records import Person, Role, Task

REASON = "原责任人停用"


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
        raise CannotDeactivate(f"{person.name} 已经停用")
    tasks = await tx.tasks.open_for_person(person.id)
    if tasks:
        await _check_heir(tx, person, heir, tasks)
    handed: list[Task] = []
    if heir is not None:
        for task in tasks:
            moved = await tx.tasks.reassign(
                task.id, task.version, heir.id, actor_id=None, reason=REASON
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
        raise CannotDeactivate(
            f"{person.name} 还有 {len(tasks)} 项未完成的整改任务，请用 --tasks-to 指定接手的责任人"
        )
    if heir.id == person.id or not heir.active:
        raise CannotDeactivate(f"{heir.name} 不能接手：须是另一位在职人员")
    missing = []
    for site_id in sorted({task.site_id for task in tasks}):
        if not await tx.roles.has(heir.id, site_id, Role.RESPONSIBLE):
            site = await tx.sites.get(site_id)
            missing.append(site.name if site else f"#{site_id}")
    if missing:
        raise CannotDeactivate(
            f"{heir.name} 不是这些项目的责任人：{'、'.join(missing)}"
            "（先用 pinjian person role add 授予 responsible 角色）"
        )


async def _tell_heir(tx: Tx, person: Person, heir: Person, tasks: list[Task]) -> int:
    sites = {site.id: site.name for site in await tx.sites.get_many({t.site_id for t in tasks})}
    rows = [
        {
            "id": task.id,
            "site": sites.get(task.site_id, ""),
            "item_no": task.item_no,
            "finding": task.finding,
            "due": task.due_date.isoformat() if task.due_date else "—",
        }
        for task in tasks
    ]
    return await notify.to_person(
        tx, heir.id, "tasks_handed_over", name=heir.name, former=person.name, rows=rows
    )
