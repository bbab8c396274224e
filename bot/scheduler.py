"""Periodic work, scheduled only: the reminder sweep (bot/flows/reminder_sweep.py), the plans'
notices (bot/plan_notices.py), the 项目确认 window's reminder and automatic confirmation
(bot/confirm_notices.py) and the project groups' posts (bot/group_sweeper.py) every minute, the
daily overdue check, the hourly retention job (bot/retention.py), the removal of unclaimed
uploads, and the weekly digest and monthly 通报 (each claims its week or month once, in
job_runs: bot/flows/manager.weekly_digest, bot/bulletins.py). The rules live with the jobs'
owners; the database holds every due time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.confirm_notices import ConfirmSweeper
from bot.flows.reminder_sweep import ReminderSweeper
from bot.group_sweeper import GroupSweeper
from bot.plan_notices import PlanSweeper
from bot.retention import Retention
from storage.unclaimed import UnclaimedSweeper

log = logging.getLogger(__name__)
# A file nobody attached is removed this long after it was stored (storage.unclaimed).
UNCLAIMED_GRACE_MINUTES = 30
UNCLAIMED_SWEEP_MINUTES = 10


class Scheduler:
    """APScheduler in the bot's event loop; the jobs only query and claim due work."""

    def __init__(
        self,
        sweeper: ReminderSweeper,
        timezone: str,
        *,
        on_sent: Callable[[], None],
        digest: Callable[[], Awaitable[object]] | None = None,
        bulletin: Callable[[], Awaitable[object]] | None = None,
        retention: Retention | None = None,
        unclaimed: UnclaimedSweeper | None = None,
        plans: PlanSweeper | None = None,
        groups: GroupSweeper | None = None,
        confirmations: ConfirmSweeper | None = None,
    ) -> None:
        self.sweeper = sweeper
        self.plans = plans
        self.groups = groups
        self.confirmations = confirmations
        self.on_sent = on_sent
        self.digest = digest
        self.bulletin = bulletin
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
        # The weekly digest and the monthly 通报 look every minute (and at start, to catch up
        # after downtime) whether their latest due moment's period is claimed yet.
        claimed = (
            ("weekly-digest", digest, self._digest),
            ("monthly-bulletin", bulletin, self._bulletin),
        )
        for job_id, hook, job in claimed:
            if hook is None:
                continue
            self.scheduler.add_job(
                partial(self._guard, job),
                IntervalTrigger(minutes=1),
                id=job_id,
                next_run_time=datetime.now(ZoneInfo(timezone)),
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
        if groups is not None:
            self.scheduler.add_job(
                partial(self._guard, self._group_posts),
                IntervalTrigger(minutes=1),
                id="group-posts",
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
        """Run `job` as a task of its own that `stop` waits for. APScheduler's shutdown cancels
        the job's future; the run itself is shielded from that and finishes (a sweep cut off
        mid-transaction would only be rolled back and logged as an error)."""
        run = asyncio.ensure_future(job())
        self._running.add(run)
        run.add_done_callback(self._running.discard)
        try:
            await asyncio.shield(run)
        except asyncio.CancelledError:
            if not run.done():
                return
            raise

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

    async def _group_posts(self) -> None:
        assert self.groups is not None
        try:
            report = await self.groups.sweep()
        except Exception:
            log.exception("project group posts failed; they run again in a minute")
            return
        if report.sent:
            log.info(
                "project groups: %s overdue lists, %s verified-fix posts",
                report.overdue_posts,
                report.fixes_posts,
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
            sent = await self.digest()
        except Exception:
            log.exception("weekly digest failed; it is tried again in a minute")
            return
        if sent:
            log.info("weekly digest sent to %s managers", sent)
            self.on_sent()

    async def _bulletin(self) -> None:
        assert self.bulletin is not None
        try:
            sent = await self.bulletin()
        except Exception:
            log.exception("monthly bulletin failed; it is tried again in a minute")
            return
        if sent:
            log.info("monthly bulletin sent to %s managers", sent)
            self.on_sent()
