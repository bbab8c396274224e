"""The monthly 通报 as files and messages.

`bulletin_file` makes the file of a month and scope (the CLI, group chats);
bot/flows/bulletin.queue_bulletin queues it into chats as a short summary and one row per
format, each drawn just before it is sent (the outbox `prepare` hook,
`BulletinService.prepare`, in the report worker process);
`BulletinService.send_monthly` is the scheduled send: it claims the month in `job_runs` in the
transaction that queues the messages, so each month goes out once whatever the number of bot
processes, and a bot that was down at the set time sends it when it is back.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.core import company_settings
from bot.core.kpi import Period, parse_month
from bot.core.report_request import ReportFormat, bulletin_requested
from bot.core.schedule import last_monthly
from bot.core.texts import plain
from bot.delivery import DeliveryError
from bot.flows.bulletin import (
    bulletin_model,
    person_chats,
    post_to_region_groups,
    queue_bulletin,
)
from bot.flows.claims import claim_run
from bot.reports.bulletin_model import BulletinModel
from storage.db import Database
from storage.records import OutboxMessage, Role

JOB = "monthly-bulletin"
CACHE_SIZE = 32
_UNSAFE = re.compile(r'[\\/:*?"<>|\s]+')

Render = Callable[[BulletinModel, ReportFormat], Awaitable[bytes]]


@dataclass(frozen=True)
class BulletinFile:
    name: str
    data: bytes
    mime: str


def file_name(model: BulletinModel, fmt: ReportFormat) -> str:
    """E.g. 品质检查通报_华东区域_2026-11.pdf."""
    return "_".join(
        _UNSAFE.sub("-", p) for p in (plain("bulletin", "file_prefix"), model.scope, model.month)
    ) + (f".{fmt.value}")


async def render_inline(model: BulletinModel, fmt: ReportFormat) -> bytes:
    """Draw the file in a thread of this process (the CLI; the bot uses its report worker)."""
    from bot.reports.bulletin_render import render_bulletin

    return await asyncio.to_thread(render_bulletin, fmt.value, model)


async def load_model(
    db: Database, period: Period, region_id: int | None, now: datetime
) -> BulletinModel | None:
    """The 通报 of the month for the company (None) or a region; None for an unknown region."""
    async with db.read() as tx:
        region = await tx.regions.get(region_id) if region_id is not None else None
        if region_id is not None and region is None:
            return None
        return await bulletin_model(tx, period, now, region)


async def bulletin_file(
    db: Database,
    period: Period,
    region_id: int | None,
    fmt: ReportFormat,
    *,
    now: datetime | None = None,
    draw: Render = render_inline,
) -> BulletinFile:
    """The 通报 file of a month for the whole company (region None) or one region."""
    model = await load_model(db, period, region_id, now or db.now())
    if model is None:
        raise LookupError(f"region {region_id}")
    return BulletinFile(file_name(model, fmt), await draw(model, fmt), fmt.mime)


class BulletinService:
    def __init__(self, db: Database, *, draw: Render = render_inline) -> None:
        self.db = db
        self.draw = draw
        self._done: dict[tuple[ReportFormat, BulletinModel], tuple[str, str]] = {}

    async def prepare(self, message: OutboxMessage) -> dict[str, Any]:
        """The outbox hook for a row that asks for a 通报 file: draw (once per content) and
        store it, and name it in the payload."""
        payload = message.payload
        wanted = bulletin_requested(payload)
        if wanted is None:
            return payload
        month, region_id, fmt = wanted
        period = parse_month(month)
        model = await load_model(self.db, period, region_id, self.db.now()) if period else None
        if model is None:
            raise DeliveryError(f"bulletin {month} of region {region_id} is gone", permanent=True)
        found = self._done.get((fmt, model))
        if found is None or not await self.db.files.exists(found[0]):
            stored = await self.db.files.put(await self.draw(model, fmt))
            found = (stored.sha256, file_name(model, fmt))
            if len(self._done) >= CACHE_SIZE:
                del self._done[next(iter(self._done))]
            self._done[(fmt, model)] = found
        return {**payload, "document": found[0], "document_name": found[1]}

    async def send_monthly(self, now: datetime | None = None) -> int:
        """Queue last month's 通报 to the company's managers (the whole company) and each
        region's (their region), and into each region's project groups, once: returns how
        many people got it (0 if it went before or was not due yet)."""
        moment = now or self.db.now()
        async with self.db.read() as tx:
            settings = await company_settings.for_site(tx.settings)
        zone = ZoneInfo(settings.timezone)
        due = last_monthly(moment, zone, settings.bulletin_day, settings.bulletin_time)
        period = Period.month(due.date()).previous()
        async with self.db.read() as tx:
            if await tx.jobs.claimed(JOB, period.label):
                return 0
        sent = 0
        async with self.db.transaction() as tx:
            if not await claim_run(tx, JOB, period.label):
                return 0
            grants = await tx.roles.grants_of(Role.MANAGER)
            scopes: dict[int | None, set[int]] = {}
            for grant in grants:
                if grant.company_wide:
                    scopes.setdefault(None, set()).add(grant.person_id)
                elif grant.region_id is not None:
                    scopes.setdefault(grant.region_id, set()).add(grant.person_id)
            company = scopes.get(None, set())
            for region_id, people in scopes.items():
                if region_id is not None:
                    people = people - company  # the company's 通报 has every region in it
                region = await tx.regions.get(region_id) if region_id is not None else None
                if region_id is not None and region is None:
                    continue
                model = await bulletin_model(tx, period, moment, region)
                for person_id in sorted(people):
                    chats = await person_chats(tx, person_id)
                    await queue_bulletin(tx, chats, model, region_id)
                    sent += bool(chats)
            for region in await tx.regions.all():
                if await tx.groups.active_for(region_id=region.id):
                    model = await bulletin_model(tx, period, moment, region)
                    await post_to_region_groups(tx, model, region.id)
        return sent
