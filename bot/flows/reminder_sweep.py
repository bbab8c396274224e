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

from bot.core import reminders as policy
from bot.core.tasks import days_overdue
from bot.core.texts import render
from bot.flows import notify, reminding
from bot.flows.task_items import TaskItems
from storage.db import Database, Tx
from storage.records import Reminder, Role, Site, Task, TaskEventKind, TaskStatus

Clock = Callable[[], datetime]


@dataclass
class Due:
    reminder: Reminder
    task: Task
    site: Site


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
        managers: dict[int, set[int]] = {}
        per_person: dict[int, list[Due]] = defaultdict(list)
        for reminder in claimed:
            task = tasks.get(reminder.task_id)
            site = sites.get(task.site_id) if task is not None else None
            if task is None or site is None:
                await tx.reminders.cancel(reminder.id)
                report.dropped += 1
                continue
            if reminder.kind == policy.ESCALATE and site.id not in managers:
                staff = await tx.roles.people_with_role(site.id, Role.MANAGER)
                managers[site.id] = {p.id for p in staff}
            if not self._still_wanted(reminder, task, managers.get(site.id, set())):
                await tx.reminders.cancel(reminder.id)
                report.dropped += 1
                continue
            until = policy.quiet_until(now, policies[site.id], site.timezone)
            if until is not None:
                await tx.reminders.cancel(reminder.id)
                await tx.reminders.schedule(task.id, reminder.person_id, reminder.kind, until)
                report.deferred += 1
                continue
            per_person[reminder.person_id].append(Due(reminder, task, site))
        if not per_person:
            return
        people = {p.id: p for p in await tx.people.get_many(per_person)}
        items = TaskItems(tx)
        for person_id, due in per_person.items():
            person = people.get(person_id)
            if person is not None:
                report.messages[person_id] = await self._send(
                    tx, items, person.name, person_id, due, now
                )
        await self._after_send(tx, per_person, policies, now, report)

    def _still_wanted(self, reminder: Reminder, task: Task, managers: set[int]) -> bool:
        """A task completed, moved or reassigned since planning makes its reminder moot."""
        if task.status is not TaskStatus.OPEN:
            return False
        if reminder.kind == policy.ESCALATE:
            return reminder.person_id in managers
        return task.responsible_person_id == reminder.person_id

    async def _send(
        self, tx: Tx, items: TaskItems, name: str, person_id: int, due: list[Due], now: datetime
    ) -> list[str]:
        """One combined message per person (and one for escalations to a manager)."""
        own = [d for d in due if d.reminder.kind != policy.ESCALATE]
        escalations = [d for d in due if d.reminder.kind == policy.ESCALATE]
        texts: list[str] = []
        if own:
            rows = [await self._row(items, d, now) for d in _one_per_task(own)]
            await notify.to_person(tx, person_id, "reminder", name=name, rows=rows)
            texts.extend(render("reminder_line", row=r) for r in rows)
        if escalations:
            rows = []
            for d in _one_per_task(escalations):
                row = await self._row(items, d, now)
                responsible = d.task.responsible_person_id
                owner = await tx.people.get(responsible) if responsible is not None else None
                row["responsible"] = owner.name if owner else None
                rows.append(row)
            await notify.to_person(tx, person_id, "escalation", rows=rows)
            texts.extend(render("escalation_line", row=r) for r in rows)
        return texts

    async def _after_send(
        self,
        tx: Tx,
        per_person: dict[int, list[Due]],
        policies: dict[int, policy.ReminderPolicy],
        now: datetime,
        report: SweepReport,
    ) -> None:
        """Mark sent, record each in its task's history, and plan the repeats."""
        due = [d for entries in per_person.values() for d in entries]
        sent = await tx.reminders.mark_sent_many(d.reminder.id for d in due)
        report.sent += len(sent)
        events = []
        for d in due:
            if d.reminder.id not in sent:
                continue
            escalated = d.reminder.kind == policy.ESCALATE
            kind = TaskEventKind.ESCALATED if escalated else TaskEventKind.REMINDER_SENT
            events.append((d.task.id, kind, {"kind": d.reminder.kind, "to": d.reminder.person_id}))
            repeat = policy.following(d.reminder.kind, now, policies[d.site.id], d.site.timezone)
            if repeat is not None:
                await tx.reminders.schedule(
                    d.task.id, d.reminder.person_id, repeat.kind, repeat.due_at
                )
        await tx.tasks.record_system_events(events)

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


def _one_per_task(due: list[Due]) -> list[Due]:
    seen: dict[int, Due] = {}
    for entry in due:
        seen.setdefault(entry.task.id, entry)
    return list(seen.values())
