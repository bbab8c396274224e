"""The reminder sweep: every due reminder claimed atomically (several bot processes on one
PostgreSQL database never send the same reminder twice), checked against the task as it is
now, deferred out of quiet hours, and sent as one combined message per person. The scheduler
(bot/scheduler.py) only runs it."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.core import ladder
from bot.core import reminders as policy
from bot.core.ladder import Level
from bot.core.tasks import days_overdue
from bot.core.texts import render
from bot.flows import group_posts, notify, reminding
from bot.flows.task_items import TaskItems
from storage.db import Database, Tx
from storage.records import Reminder, Site, Task, TaskEventKind, TaskStatus

Clock = Callable[[], datetime]


@dataclass
class Due:
    reminder: Reminder
    task: Task
    site: Site
    level: Level | None = None
    """A rung's level as told now; None for the 责任人's own reminder."""


@dataclass
class SweepReport:
    """What one sweep did: messages queued per person, reminders sent, deferred, dropped."""

    messages: dict[int, list[str]] = field(default_factory=dict)
    sent: int = 0
    deferred: int = 0
    dropped: int = 0


class _Preview(Exception):
    """Raised to roll back a preview sweep after it has computed what it would send."""


def _when(task: Task, today: date) -> str:
    due = task.due_date
    left = (due - today).days if due is not None else 0
    return render("reminder_when", due=due, overdue=days_overdue(task, today), left=left)


class ReminderSweeper:
    def __init__(self, db: Database, clock: Clock, *, batch: int = 20_000) -> None:
        self.db = db
        self.clock = clock
        self.batch = batch
        self.worker_id = f"sweep-{uuid.uuid4().hex[:8]}"

    async def sweep(self, now: datetime | None = None) -> SweepReport:
        """Send every reminder due by `now` (default: the clock), one message per person."""
        moment = now or self.clock()
        report = SweepReport()
        while True:
            async with self.db.transaction() as tx:
                claimed = await tx.reminders.claim_due(
                    moment, limit=self.batch, worker_id=self.worker_id, lease_seconds=300
                )
                await self._process(tx, claimed, moment, report)
            if len(claimed) < self.batch:
                return report

    async def reconcile(self, now: datetime | None = None, *, batch: int = 500) -> int:
        """Plan reminders for open tasks that have none (the daily overdue/escalation check)."""
        moment = now or self.clock()
        planned = 0
        while True:
            async with self.db.transaction() as tx:
                tasks = await tx.tasks.open_without_pending_reminders(limit=batch)
                for task in tasks:
                    planned += await reminding.replan(tx, task, moment)
            if len(tasks) < batch:
                return planned

    async def preview(self, now: datetime | None = None) -> SweepReport:
        """What a sweep at `now` would send, changing nothing."""
        moment = now or self.clock()
        report = SweepReport()
        try:
            async with self.db.transaction() as tx:
                claimed = await tx.reminders.claim_due(
                    moment, limit=100_000, worker_id=self.worker_id, lease_seconds=1
                )
                await self._process(tx, claimed, moment, report)
                raise _Preview
        except _Preview:
            pass
        return report

    async def _process(
        self, tx: Tx, claimed: list[Reminder], now: datetime, report: SweepReport
    ) -> None:
        tasks = await tx.tasks.get_many(r.task_id for r in claimed)
        sites = {s.id: s for s in await tx.sites.get_many({t.site_id for t in tasks.values()})}
        policies = {
            site_id: await reminding.policy_for(tx, site) for site_id, site in sites.items()
        }
        per_person: dict[int, list[Due]] = defaultdict(list)
        rungs: list[Due] = []
        for reminder in claimed:
            task = tasks.get(reminder.task_id)
            site = sites.get(task.site_id) if task is not None else None
            if task is None or site is None:
                await tx.reminders.cancel(reminder.id)
                report.dropped += 1
                continue
            due = await self._still_wanted(tx, Due(reminder, task, site), rungs)
            if due is None:
                await tx.reminders.cancel(reminder.id)
                report.dropped += 1
                continue
            until = policy.quiet_until(now, policies[site.id], site.timezone)
            if until is not None:
                await tx.reminders.cancel(reminder.id)
                await tx.reminders.schedule(task.id, reminder.person_id, reminder.kind, until)
                report.deferred += 1
                continue
            if due.level is None:
                assert reminder.person_id is not None
                per_person[reminder.person_id].append(due)
                continue
            rungs.append(due)
            for person_id in await reminding.managers_at(tx, site, due.level):
                per_person[person_id].append(due)
        if per_person:
            people = {p.id: p for p in await tx.people.get_many(per_person)}
            items = TaskItems(tx)
            for person_id, dues in per_person.items():
                person = people.get(person_id)
                if person is not None:
                    report.messages[person_id] = await self._send(
                        tx, items, person.name, person_id, dues, now
                    )
        await self._after_send(tx, per_person, rungs, policies, now, report)

    async def _still_wanted(self, tx: Tx, due: Due, rungs: list[Due]) -> Due | None:
        """The reminder as it stands now, or None when it is moot: the task was completed,
        withdrawn, moved or reassigned since planning, or (a rung) its level was told already.
        A rung's level is the one told now (a site that left its region skips to the
        company)."""
        task, reminder = due.task, due.reminder
        if task.status is not TaskStatus.OPEN:
            return None
        level = ladder.level_of(reminder.kind)
        if level is None:
            return due if task.responsible_person_id == reminder.person_id else None
        told = ladder.effective(level, has_region=due.site.region_id is not None)
        so_far = await reminding.reached(tx, task.id)
        done = [so_far.level] if so_far else []
        done += [r.level for r in rungs if r.task.id == task.id and r.level is not None]
        top = ladder.highest(done)
        if top is not None and ladder.rank(told) <= ladder.rank(top):
            return None
        return Due(reminder, task, due.site, told)

    async def _send(
        self, tx: Tx, items: TaskItems, name: str, person_id: int, due: list[Due], now: datetime
    ) -> list[str]:
        """One combined message per person: their own tasks, then the tasks escalated to
        them."""
        own = [await self._row(items, d, now) for d in _one_per_task(due, rung=False)]
        escalations = []
        for d in _one_per_task(due, rung=True):
            row = await self._row(items, d, now)
            responsible = d.task.responsible_person_id
            owner = await tx.people.get(responsible) if responsible is not None else None
            row["responsible"] = owner.name if owner else None
            row["level"] = d.level
            escalations.append(row)
        await notify.to_person(
            tx, person_id, "daily_reminder", name=name, rows=own, escalations=escalations
        )
        texts = [render("reminder_line", row=r) for r in own]
        texts.extend(render("escalation_line", row=r) for r in escalations)
        return texts

    async def _after_send(
        self,
        tx: Tx,
        per_person: dict[int, list[Due]],
        rungs: list[Due],
        policies: dict[int, policy.ReminderPolicy],
        now: datetime,
        report: SweepReport,
    ) -> None:
        """Mark sent, record each in its task's history (a rung: its level and who was told),
        post the rungs to a region into the region's groups, and plan the repeats."""
        told: dict[int, list[int]] = defaultdict(list)
        for person_id, entries in per_person.items():
            for d in entries:
                if d.level is not None:
                    told[d.reminder.id].append(person_id)
        own = [d for entries in per_person.values() for d in entries if d.level is None]
        sent = await tx.reminders.mark_sent_many(d.reminder.id for d in [*own, *rungs])
        report.sent += len(sent)
        events = []
        for d in own:
            if d.reminder.id not in sent:
                continue
            sent_to = {"kind": d.reminder.kind, "to": d.reminder.person_id}
            events.append((d.task.id, TaskEventKind.REMINDER_SENT, sent_to))
            repeat = policy.following(d.reminder.kind, now, policies[d.site.id], d.site.timezone)
            if repeat is not None:
                await tx.reminders.schedule(
                    d.task.id, d.reminder.person_id, repeat.kind, repeat.due_at
                )
        to_regions: dict[int, list[group_posts.RegionEscalation]] = defaultdict(list)
        for d in rungs:
            if d.reminder.id in sent:
                today = now.astimezone(ZoneInfo(d.site.timezone)).date()
                days = days_overdue(d.task, today)
                data: dict[str, Any] = {
                    "kind": d.reminder.kind,
                    "level": d.level,
                    "days": days,
                    "to": sorted(told[d.reminder.id]),
                }
                events.append((d.task.id, TaskEventKind.ESCALATED, data))
                if d.level is Level.REGION and d.site.region_id is not None:
                    escalation = group_posts.RegionEscalation(d.task, d.site, days)
                    to_regions[d.site.region_id].append(escalation)
        await tx.tasks.record_system_events(events)
        for region_id, escalated in to_regions.items():
            await group_posts.region_escalations(tx, region_id, escalated)

    async def _row(self, items: TaskItems, due: Due, now: datetime) -> dict[str, Any]:
        today = now.astimezone(ZoneInfo(due.site.timezone)).date()
        item = await items.of(due.task)
        return {
            "id": due.task.id,
            "site": due.site.name,
            "item_no": due.task.item_no,
            "content": item.content if item else None,
            "when": _when(due.task, today),
            "days": days_overdue(due.task, today),
        }


def _one_per_task(due: list[Due], *, rung: bool) -> list[Due]:
    """The person's entries of one kind (own or escalated), one per task (the highest level
    of a task escalated twice at once)."""
    seen: dict[int, Due] = {}
    for entry in due:
        if (entry.level is not None) is not rung:
            continue
        kept = seen.get(entry.task.id)
        if kept is None or (
            entry.level is not None
            and kept.level is not None
            and ladder.rank(entry.level) > ladder.rank(kept.level)
        ):
            seen[entry.task.id] = entry
    return list(seen.values())
