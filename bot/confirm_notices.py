"""The 项目确认 window's scheduled work (every minute, bot.scheduler): the one reminder to the
site's managers on the window's last day, and 逾期自动确认 when it has passed. The reminder
does not go out in the site's quiet hours: it waits for the first sweep after them (and is
not sent if the window closes first, as when the bot was down all that day).

Exactly once: the reminder is queued in the transaction that sets `reminded_at` where it was
still empty, the automatic confirmation in the one that signs the result where it was still
unsigned (a manager's 确认 at the same moment: one of them wins). So of several processes, or
after a restart, only one does each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.core.dates import shown
from bot.flows import notify, reminding
from storage.db import Database, Tx
from storage.records import Confirmation, ConfirmHow, Role, Site


@dataclass
class ConfirmReport:
    reminded: int = 0
    confirmed: int = 0

    @property
    def sent(self) -> int:
        return self.reminded + self.confirmed


class ConfirmSweeper:
    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    async def sweep(self, now: datetime | None = None) -> ConfirmReport:
        moment = now or self.clock()
        report = ConfirmReport()
        async with self.db.transaction() as tx:
            for when in await tx.confirmations.due_reminders(moment):
                site = await tx.sites.get(when.site_id)
                if site is None or await reminding.quiet_now(tx, site, moment):
                    continue
                if await tx.confirmations.mark_reminded(when.inspection_id):
                    await self._remind(tx, when, site)
                    report.reminded += 1
        async with self.db.transaction() as tx:
            for when in await tx.confirmations.due(moment):
                signed = await tx.confirmations.sign(
                    when.inspection_id, ConfirmHow.AUTO, by=None, at=when.deadline
                )
                if signed is not None:
                    await self._confirmed(tx, signed)
                    report.confirmed += 1
        return report

    async def _remind(self, tx: Tx, when: Confirmation, site: Site) -> None:
        inspection = await tx.inspections.get(when.inspection_id)
        if inspection is None:
            return
        inspector = await tx.people.get(inspection.inspector_id)
        for manager in await tx.roles.held_at(Role.MANAGER, site_id=site.id):
            await notify.to_person(
                tx,
                manager.id,
                "confirm_reminder",
                site=site.name,
                inspection_id=inspection.id,
                inspector=inspector.name if inspector else "",
                deadline=shown(when.deadline, site.timezone),
            )

    async def _confirmed(self, tx: Tx, when: Confirmation) -> None:
        """The site's managers and the inspector hear of 逾期自动确认."""
        inspection = await tx.inspections.get(when.inspection_id)
        site = await tx.sites.get(when.site_id)
        if inspection is None or site is None or when.confirmed_at is None:
            return
        managers = [p.id for p in await tx.roles.held_at(Role.MANAGER, site_id=site.id)]
        for person_id in dict.fromkeys([inspection.inspector_id, *managers]):
            await notify.to_person(
                tx,
                person_id,
                "confirm_signed",
                site=site.name,
                inspection_id=inspection.id,
                auto=True,
                by="",
                at=shown(when.confirmed_at, site.timezone),
                status=when.status.label,
            )
