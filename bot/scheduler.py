"""Periodic work: the reminder sweep (every minute), the daily overdue check and the weekly
digest hook. The database holds every due time; each sweep claims due reminders atomically, so
several bot processes on one PostgreSQL database never send the same reminder twice."""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.core import reminders as policy
from bot.core.tasks import days_overdue
from bot.flows import notify, reminding
from storage.db import Database, Tx
from storage.records import Reminder, Role, Site, Task, TaskEventKind, TaskStatus

log = logging.getLogger(__name__)

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
    if task.due_date is None:
        return "未设达标时间"
    overdue = days_overdue(task, today)
    if overdue:
        return f"已逾期 {overdue} 天（{task.due_date:%m-%d}）"
    left = (task.due_date - today).days
    if left == 0:
        return f"今天到期（{task.due_date:%m-%d}）"
    if left == 1:
        return f"明天到期（{task.due_date:%m-%d}）"
    return f"还有 {left} 天到期（{task.due_date:%m-%d}）"


class ReminderSweeper:
    def __init__(self, db: Database, clock: Clock, *, batch: int = 1000) -> None:
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
        tasks: dict[int, Task | None] = {}
        sites: dict[int, Site | None] = {}
        per_person: dict[int, list[Due]] = defaultdict(list)
        for reminder in claimed:
            if reminder.task_id not in tasks:
                tasks[reminder.task_id] = await tx.tasks.get(reminder.task_id)
            task = tasks[reminder.task_id]
            site = None
            if task is not None:
                if task.site_id not in sites:
                    sites[task.site_id] = await tx.sites.get(task.site_id)
                site = sites[task.site_id]
            if task is None or site is None or not await self._still_wanted(tx, reminder, task):
                await tx.reminders.cancel(reminder.id)
                report.dropped += 1
                continue
            rules = await reminding.policy_for(tx, site)
            until = policy.quiet_until(now, rules, site.timezone)
            if until is not None:
                await tx.reminders.cancel(reminder.id)
                await tx.reminders.schedule(task.id, reminder.person_id, reminder.kind, until)
                report.deferred += 1
                continue
            per_person[reminder.person_id].append(Due(reminder, task, site))
        for person_id, due in per_person.items():
            await self._send(tx, person_id, due, now, report)

    async def _still_wanted(self, tx: Tx, reminder: Reminder, task: Task) -> bool:
        """A task completed, moved or reassigned since planning makes its reminder moot."""
        if task.status is not TaskStatus.OPEN:
            return False
        if reminder.kind == policy.ESCALATE:
            return await tx.roles.has(reminder.person_id, task.site_id, Role.MANAGER)
        return task.responsible_person_id == reminder.person_id

    async def _send(
        self, tx: Tx, person_id: int, due: list[Due], now: datetime, report: SweepReport
    ) -> None:
        person = await tx.people.get(person_id)
        if person is None:
            return
        own = [d for d in due if d.reminder.kind != policy.ESCALATE]
        escalations = [d for d in due if d.reminder.kind == policy.ESCALATE]
        texts: list[str] = []
        if own:
            rows = [self._row(d, now) for d in _one_per_task(own)]
            await notify.to_person(tx, person_id, "reminder", name=person.name, rows=rows)
            texts.extend(f"#{r['id']} {r['when']}" for r in rows)
        if escalations:
            rows = []
            for d in _one_per_task(escalations):
                row = self._row(d, now)
                responsible = d.task.responsible_person_id
                owner = await tx.people.get(responsible) if responsible is not None else None
                row["responsible"] = owner.name if owner else None
                rows.append(row)
            await notify.to_person(tx, person_id, "escalation", rows=rows)
            texts.extend(f"升级 #{r['id']} 逾期 {r['days']} 天" for r in rows)
        for d in due:
            if not await tx.reminders.mark_sent(d.reminder.id):
                continue
            report.sent += 1
            kind = (
                TaskEventKind.ESCALATED
                if d.reminder.kind == policy.ESCALATE
                else TaskEventKind.REMINDER_SENT
            )
            await tx.tasks.record_event(
                d.task.id, kind, actor_id=None, data={"kind": d.reminder.kind, "to": person_id}
            )
            rules = await reminding.policy_for(tx, d.site)
            repeat = policy.following(d.reminder.kind, now, rules, d.site.timezone)
            if repeat is not None:
                await tx.reminders.schedule(d.task.id, person_id, repeat.kind, repeat.due_at)
        report.messages[person_id] = texts

    def _row(self, due: Due, now: datetime) -> dict[str, Any]:
        today = now.astimezone(ZoneInfo(due.site.timezone)).date()
        return {
            "id": due.task.id,
            "site": due.site.name,
            "item_no": due.task.item_no,
            "when": _when(due.task, today),
            "days": days_overdue(due.task, today),
        }


def _one_per_task(due: list[Due]) -> list[Due]:
    seen: dict[int, Due] = {}
    for entry in due:
        seen.setdefault(entry.task.id, entry)
    return list(seen.values())


class Scheduler:
    """APScheduler in the bot's event loop; the jobs only query and claim due work."""

    def __init__(
        self,
        sweeper: ReminderSweeper,
        timezone: str,
        *,
        on_sent: Callable[[], None],
        digest: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self.sweeper = sweeper
        self.on_sent = on_sent
        self.digest = digest
        self.scheduler = AsyncIOScheduler(timezone=ZoneInfo(timezone))
        self.scheduler.add_job(
            self._sweep,
            IntervalTrigger(minutes=1),
            id="reminder-sweep",
            next_run_time=datetime.now(ZoneInfo(timezone)),
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.add_job(
            self._reconcile,
            CronTrigger(hour=0, minute=30),
            id="daily-overdue-check",
            max_instances=1,
            coalesce=True,
        )
        if digest is not None:
            self.scheduler.add_job(
                self._digest,
                CronTrigger(day_of_week="mon", hour=9, minute=0),
                id="weekly-digest",
                max_instances=1,
                coalesce=True,
            )

    def start(self) -> None:
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.shutdown(wait=False)

    async def _sweep(self) -> None:
        try:
            report = await self.sweeper.sweep()
        except Exception:
            log.exception("reminder sweep failed; it runs again in a minute")
            return
        if report.sent:
            log.info("reminders sent: %s (deferred %s)", report.sent, report.deferred)
            self.on_sent()

    async def _reconcile(self) -> None:
        try:
            planned = await self.sweeper.reconcile()
        except Exception:
            log.exception("daily overdue check failed")
            return
        if planned:
            log.info("daily overdue check planned %s missing reminders", planned)

    async def _digest(self) -> None:
        assert self.digest is not None
        try:
            await self.digest()
        except Exception:
            log.exception("weekly digest failed")
        self.on_sent()
