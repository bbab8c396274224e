"""The plans' scheduled work (every minute, bot.scheduler): each period of a plan becomes an
occurrence at each of its sites, and each occurrence's notices go out once: to the assigned
inspectors when its window opens (with [开始检查]) and a day before it closes if nobody has
started; at its close 漏检 to the managers of the site (and of its region and company), or a
note to them when an inspection is still open past the window.

Exactly once: every notice is queued in the transaction that sets its column on the
occurrence (`opened_at`, `reminded_at`, `closed_at`) only where it was still empty, so of
several processes, or after a restart, only one queues it. Nothing goes out in a site's quiet
hours: the notice waits for the first sweep after them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.core import payload, texts
from bot.core.actions import Action
from bot.core.buttons import button
from bot.core.messages import Button
from bot.core.plans import REMIND_BEFORE, OccurrenceStatus, period_start, window
from bot.flows import notify, reminding
from bot.flows.catalog import StandardsCatalog
from bot.flows.plans import label, occurrence_status
from storage.db import Database, Tx
from storage.records import Occurrence, Plan, Role, Site


@dataclass
class PlanReport:
    """What one sweep queued."""

    opened: int = 0
    reminded: int = 0
    missed: int = 0
    late: int = 0

    @property
    def sent(self) -> int:
        return self.opened + self.reminded + self.missed + self.late


class PlanSweeper:
    def __init__(
        self, db: Database, clock: Callable[[], datetime], catalog: StandardsCatalog
    ) -> None:
        self.db = db
        self.clock = clock
        self.catalog = catalog

    async def sweep(self, now: datetime | None = None) -> PlanReport:
        moment = now or self.clock()
        async with self.db.transaction() as tx:
            await self._ensure(tx, moment)
        report = PlanReport()
        async with self.db.transaction() as tx:
            await self._notices(tx, moment, report)
        return report

    async def _ensure(self, tx: Tx, now: datetime) -> None:
        """This period's and the previous period's occurrences (a bot that was down over a
        period's end still closes it), for windows that end after the plan was made."""
        for plan in await tx.plans.all():
            if plan.site_id is not None:
                site = await tx.sites.get(plan.site_id)
                sites = [site] if site is not None and site.active else []
            else:
                assert plan.region_id is not None
                sites = await tx.sites.in_region(plan.region_id)
            for site in sites:
                today = now.astimezone(ZoneInfo(site.timezone)).date()
                current = period_start(today, plan.every)
                previous = period_start(current - timedelta(days=1), plan.every)
                for start in (previous, current):
                    w = window(start, plan.every, plan.window_from, plan.window_to, site.timezone)
                    if w.end > plan.created_at:
                        await tx.occurrences.ensure(plan.id, site.id, start, w.start, w.end)

    async def _notices(self, tx: Tx, now: datetime, report: PlanReport) -> None:
        plans: dict[int, Plan | None] = {}
        sites: dict[int, Site | None] = {}

        async def context(occurrence: Occurrence) -> tuple[Plan, Site] | None:
            if occurrence.plan_id not in plans:
                plans[occurrence.plan_id] = await tx.plans.get(occurrence.plan_id)
            if occurrence.site_id not in sites:
                sites[occurrence.site_id] = await tx.sites.get(occurrence.site_id)
            plan, site = plans[occurrence.plan_id], sites[occurrence.site_id]
            if plan is None or site is None:
                return None
            if await reminding.quiet_now(tx, site, now):
                return None
            return plan, site

        for occurrence in await tx.occurrences.to_open(now):
            found = await context(occurrence)
            if found and await tx.occurrences.mark(occurrence.id, "opened_at"):
                await self._open(tx, occurrence, *found)
                report.opened += 1
        for occurrence in await tx.occurrences.to_remind(now, REMIND_BEFORE):
            found = await context(occurrence)
            if found is None or occurrence.opened_at is None:
                continue
            if not await tx.occurrences.mark(occurrence.id, "reminded_at"):
                continue
            if occurrence.opened_at <= occurrence.window_end - REMIND_BEFORE:
                await self._to_inspectors(tx, "plan_remind", occurrence, *found)
                report.reminded += 1
        for occurrence in await tx.occurrences.to_close(now):
            found = await context(occurrence)
            if found and await tx.occurrences.mark(occurrence.id, "closed_at"):
                await self._close(tx, occurrence, *found, now, report)

    def _values(self, occurrence: Occurrence, plan: Plan, site: Site) -> dict[str, Any]:
        standard = self.catalog.get(plan.std_id)
        last = occurrence.window_end.astimezone(ZoneInfo(site.timezone)) - timedelta(seconds=1)
        return {
            "label": label(plan, occurrence, site),
            "title": standard.title if standard else plan.std_id,
            "kind": texts.plain("plan_kind", "note", kind=plan.kind.value),
            "last_day": f"{last:%m-%d}",
        }

    async def _open(self, tx: Tx, occurrence: Occurrence, plan: Plan, site: Site) -> None:
        start = button("start_inspection", payload.encode(Action.PLAN_START, occurrence.id))
        await self._to_inspectors(tx, "plan_open", occurrence, plan, site, [[start]])

    async def _to_inspectors(
        self,
        tx: Tx,
        template: str,
        occurrence: Occurrence,
        plan: Plan,
        site: Site,
        buttons: list[list[Button]] | None = None,
    ) -> None:
        values = self._values(occurrence, plan, site)
        for person in await tx.people.get_many(plan.inspector_ids):
            if person.active:
                await notify.to_person(
                    tx, person.id, template, buttons or (), name=person.name, **values
                )

    async def _close(
        self,
        tx: Tx,
        occurrence: Occurrence,
        plan: Plan,
        site: Site,
        now: datetime,
        report: PlanReport,
    ) -> None:
        inspection, state = await occurrence_status(tx, occurrence, now)
        values = self._values(occurrence, plan, site)
        managers = await tx.roles.people_with_role(site.id, Role.MANAGER)
        if state is OccurrenceStatus.MISSED:
            names = [p.name for p in await tx.people.get_many(plan.inspector_ids)]
            for manager in managers:
                await notify.to_person(
                    tx,
                    manager.id,
                    "plan_missed",
                    inspectors=texts.plain("common", "enumeration", items=names),
                    **values,
                )
            report.missed += 1
        elif state is OccurrenceStatus.IN_PROGRESS and inspection is not None:
            inspector = await tx.people.get(inspection.inspector_id)
            for manager in managers:
                await notify.to_person(
                    tx,
                    manager.id,
                    "plan_late",
                    inspector=inspector.name if inspector else "",
                    **values,
                )
            report.late += 1
