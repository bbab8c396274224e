"""The project groups' scheduled posts (every minute, bot.scheduler): each site group's daily
逾期 list at the site's reminder time (`reminders.at`, only when something is overdue), and
the fixes verified since its last such post, in one post every `FIXES_EVERY` at most.

Exactly once: a day's overdue list is queued in a transaction claimed by the event key
`job:group-overdue:<group>:<site date>`, and the fixes post in the transaction that moves the
group's `fixes_posted_until`, so of several processes, or after a restart, only one queues it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from bot.core import company_settings
from bot.core.dates import local
from bot.flows import group_posts
from storage.db import Database
from storage.errors import DuplicateEvent
from storage.records import ChatGroup, Site

FIXES_EVERY = timedelta(minutes=5)
"""Verified fixes are gathered this long into one post."""


@dataclass
class GroupReport:
    overdue_posts: int = 0
    fixes_posts: int = 0

    @property
    def sent(self) -> int:
        return self.overdue_posts + self.fixes_posts


class GroupSweeper:
    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    async def sweep(self, now: datetime | None = None) -> GroupReport:
        moment = now or self.clock()
        report = GroupReport()
        async with self.db.read() as tx:
            groups = [g for g in await tx.groups.all_active() if g.site_id is not None]
            ids = {g.site_id for g in groups if g.site_id is not None}
            sites = {s.id: s for s in await tx.sites.get_many(ids)}
        for group in groups:
            site = sites.get(group.site_id or 0)
            if site is None or not site.active:
                continue
            report.overdue_posts += await self._overdue(group, site, moment)
            report.fixes_posts += await self._fixes(group, site, moment)
        return report

    async def _overdue(self, group: ChatGroup, site: Site, now: datetime) -> int:
        async with self.db.read() as tx:
            settings = await company_settings.for_site(tx.settings, site)
            here = local(now, site.timezone)
            key = f"job:group-overdue:{group.id}:{here.date().isoformat()}"
            if (
                not settings.group_posts.overdue_daily
                or here.time() < time.fromisoformat(settings.reminders.at)
                or await tx.events.seen(key)
            ):
                return 0
        try:
            async with self.db.transaction(event_key=key) as tx:
                listed = await group_posts.overdue_list(tx, site, group, now)
        except DuplicateEvent:
            return 0
        return 1 if listed else 0

    async def _fixes(self, group: ChatGroup, site: Site, now: datetime) -> int:
        since = group.fixes_posted_until or group.created_at
        if now - since < FIXES_EVERY:
            return 0
        async with self.db.transaction() as tx:
            current = await tx.groups.get(group.id)
            if current is None or current.fixes_posted_until != group.fixes_posted_until:
                return 0  # another process posted them meanwhile
            settings = await company_settings.for_site(tx.settings, site)
            if not settings.group_posts.fixes_verified:
                await tx.groups.fixes_posted(group.id, now)
                return 0
            return 1 if await group_posts.fixes_verified(tx, site, group, now) else 0
