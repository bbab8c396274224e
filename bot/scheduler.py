"""Periodic work: the reminder sweep, the plans' notices (every minute, bot/plan_notices.py) and
the 项目确认 window's reminder and automatic confirmation (every minute, bot/confirm_notices.py),
the daily overdue check, the hourly
retention job (bot/retention.py), the removal of unclaimed uploads and the weekly digest hook.
The database holds every due time; each sweep claims due reminders atomically, so several bot
processes on one PostgreSQL database never send the same reminder twice."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.confirm_notices import ConfirmSweeper
from bot.core import reminders as policy
from bot.core.tasks import days_overdue
from bot.flows import notify, reminding
from bot.flows.task_items import TaskItems
from bot.plan_notices import PlanSweeper
from bot.retention import Retention
from storage.db import Database, Tx
from storage.records import Reminder, Role, Site, Task, TaskEventKind, TaskStatus
from storage.unclaimed import UnclaimedSweeper

log = logging.getLogger(__name__)
# A file nobody attached is removed this long after it was stored (storage.unclaimed).
UNCLAIMED_GRACE_MINUTES = 30
UNCLAIMED_SWEEP_MINUTES = 10

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
            texts.extend(f"#{r['id']} {r['when']}" for r in rows)
        if escalations:
            rows = []
            for d in _one_per_task(escalations):
                row = await self._row(items, d, now)
                responsible = d.task.responsible_person_id
                owner = await tx.people.get(responsible) if responsible is not None else None
                row["responsible"] = owner.name if owner else None
                rows.append(row)
            await notify.to_person(tx, person_id, "escalation", rows=rows)
            texts.extend(f"升级 #{r['id']} 逾期 {r['days']} 天" for r in rows)
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


class Scheduler:
    """APScheduler in the bot's event loop; the jobs only query and claim due work."""

    def __init__(
        self,
        sweeper: ReminderSweeper,
        timezone: str,
        *,
        on_sent: Callable[[], None],
        digest: Callable[[], Awaitable[object]] | None = None,
        digest_day: str = "mon",
        digest_time: str = "09:00",
        retention: Retention | None = None,
        unclaimed: UnclaimedSweeper | None = None,
        plans: PlanSweeper | None = None,
        confirmations: ConfirmSweeper | None = None,
    ) -> None:
        self.sweeper = sweeper
        self.plans = plans
        self.confirmations = confirmations
        self.on_sent = on_sent
        self.digest = digest
        self.retention = retention
        self.unclaimed = unclaimed
        self._running: set[asyncio.Task[Any]] = set()
        self.scheduler = AsyncIOScheduler(timezone=ZoneInfo(timezone))
        self.scheduler.add_job(
            partial(self._guard, self._sweep),
            IntervalTrigger(minutes=1),
            id="reminder-sweep",
            next_run_time=datetime.now(ZoneInfo(timezone)),
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.add_job(
            partial(self._guard, self._reconcile),
            CronTrigger(hour=0, minute=30),
            id="daily-overdue-check",
            max_instances=1,
            coalesce=True,
        )
        if retention is not None:
            self.scheduler.add_job(
                partial(self._guard, self._retain),
                IntervalTrigger(hours=1),
                id="retention",
                next_run_time=datetime.now(ZoneInfo(timezone)),
                max_instances=1,
                coalesce=True,
            )
        if digest is not None:
            self.scheduler.add_job(
                partial(self._guard, self._digest),
                CronTrigger(
                    day_of_week=digest_day,
                    hour=int(digest_time[:2]),
                    minute=int(digest_time[3:]),
                ),
                id="weekly-digest",
                max_instances=1,
                coalesce=True,
            )

        if plans is not None:
            self.scheduler.add_job(
                partial(self._guard, self._plans),
                IntervalTrigger(minutes=1),
                id="plan-notices",
                next_run_time=datetime.now(ZoneInfo(timezone)),
                max_instances=1,
                coalesce=True,
            )
        if confirmations is not None:
            self.scheduler.add_job(
                partial(self._guard, self._confirm),
                IntervalTrigger(minutes=1),
                id="confirmations",
                next_run_time=datetime.now(ZoneInfo(timezone)),
                max_instances=1,
                coalesce=True,
            )
        if unclaimed is not None:
            self.scheduler.add_job(
                partial(self._guard, self._remove_unclaimed),
                IntervalTrigger(minutes=UNCLAIMED_SWEEP_MINUTES),
                id="unclaimed-files",
                max_instances=1,
                coalesce=True,
            )

    def start(self) -> None:
        self.scheduler.start()

    async def stop(self) -> None:
        """No new runs; a run in progress finishes before the database closes under it."""
        self.scheduler.shutdown(wait=False)
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _guard(self, job: Callable[[], Awaitable[None]]) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            await job()
        finally:
            if task is not None:
                self._running.discard(task)

    async def _sweep(self) -> None:
        try:
            report = await self.sweeper.sweep()
        except Exception:
            log.exception("reminder sweep failed; it runs again in a minute")
            return
        if report.sent:
            log.info("reminders sent: %s (deferred %s)", report.sent, report.deferred)
            self.on_sent()

    async def _plans(self) -> None:
        assert self.plans is not None
        try:
            report = await self.plans.sweep()
        except Exception:
            log.exception("plan notices failed; they run again in a minute")
            return
        if report.sent:
            log.info(
                "plan notices: %s opened, %s reminded, %s missed, %s late",
                report.opened,
                report.reminded,
                report.missed,
                report.late,
            )
            self.on_sent()

    async def _confirm(self) -> None:
        assert self.confirmations is not None
        try:
            report = await self.confirmations.sweep()
        except Exception:
            log.exception("项目确认 sweep failed; it runs again in a minute")
            return
        if report.sent:
            log.info(
                "项目确认: %s reminded, %s confirmed automatically",
                report.reminded,
                report.confirmed,
            )
            self.on_sent()

    async def _reconcile(self) -> None:
        try:
            planned = await self.sweeper.reconcile()
        except Exception:
            log.exception("daily overdue check failed")
            return
        if planned:
            log.info("daily overdue check planned %s missing reminders", planned)

    async def _retain(self) -> None:
        assert self.retention is not None
        try:
            forgotten = await self.retention.run()
        except Exception:
            log.exception("retention job failed; it runs again in an hour")
            return
        if forgotten is not None and (
            forgotten.callback_answers or forgotten.messages or forgotten.event_keys
        ):
            log.info(
                "forgot %s callback answers, %s messages, %s event keys",
                forgotten.callback_answers,
                forgotten.messages,
                forgotten.event_keys,
            )

    async def _remove_unclaimed(self) -> None:
        assert self.unclaimed is not None
        try:
            removed = await self.unclaimed.sweep()
        except Exception:
            log.exception("removing unclaimed files failed; it runs again later")
            return
        if removed:
            log.info("removed %s unclaimed files (stored, never attached)", removed)

    async def _digest(self) -> None:
        assert self.digest is not None
        try:
            await self.digest()
        except Exception:
            log.exception("weekly digest failed")
        self.on_sent()
