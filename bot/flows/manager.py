"""What managers ask for on demand (/stats with their scope's KPIs of this month and last,
/overdue, /report) and the weekly digest they receive."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.core import company_settings, payload
from bot.core.actions import Action
from bot.core.dates import local
from bot.core.kpi import Period
from bot.core.messages import Button
from bot.core.schedule import last_weekly, week_label
from bot.core.scoring import grade_for
from bot.core.tasks import days_overdue
from bot.core.texts import label, plain
from bot.flows import notify
from bot.flows.claims import claim_run
from bot.flows.context import FlowContext
from bot.flows.kpis import month_kpis
from bot.flows.summaries import change, queue_report_files
from bot.flows.task_items import TaskItems
from standards.pinned import pinned
from storage.db import Database, Tx
from storage.records import Inspection, Role, Site

LOSS_WINDOW = timedelta(days=90)
DIGEST_JOB = "weekly-digest"


def percent(inspection: Inspection | None) -> float | None:
    if inspection is None or not inspection.max_score or inspection.score is None:
        return None
    return 100 * inspection.score / inspection.max_score


def trend(latest: Inspection | None, previous: Inspection | None) -> str:
    return change(percent(latest), percent(previous))


async def site_rows(tx: Tx, sites: list[Site], today: date) -> list[dict[str, Any]]:
    """Per site: latest score, its result status (待确认 / 申诉中 / 已确认), trend and task
    counts, ranked by score (no score last)."""
    bands = await company_settings.grade_bands(tx.settings)
    latest = await tx.inspections.latest_scores([s.id for s in sites])
    counts = await tx.tasks.counts([s.id for s in sites], today)
    statuses = await tx.confirmations.statuses(i.id for i in latest.values())
    rows = []
    for site in sites:
        current = latest.get(site.id)
        previous = None
        if current is not None:
            history = await tx.inspections.latest_completed(site.id, current.std_id, limit=2)
            previous = history[1] if len(history) > 1 else None
        count = counts.get(site.id)
        value = percent(current)
        rows.append(
            {
                "site": site.name,
                "percent": value,
                "grade": grade_for(value, bands),
                "trend": trend(current, previous),
                "date": local(current.completed_at, site.timezone).date().isoformat()
                if current and current.completed_at
                else "",
                "status": statuses[current.id].label if current else "",
                "open": (count.open + count.review) if count else 0,
                "overdue": count.overdue if count else 0,
            }
        )
    rows.sort(key=_rank)
    return rows


def _rank(row: dict[str, Any]) -> tuple[bool, float]:
    value = row["percent"]
    return value is None, -(value or 0.0)


async def stats(ctx: FlowContext) -> None:
    sites = await ctx.tx.roles.sites_with_role(ctx.person.id, Role.MANAGER)
    if not sites:
        await ctx.reply("not_allowed")
        return
    rows = await site_rows(ctx.tx, sites, ctx.today())
    this = Period.month(ctx.today())
    kpis = []
    for period in (this, this.previous()):
        measures = await month_kpis(ctx.tx, period, ctx.now, site_ids={s.id for s in sites})
        kpis.append({"month": period.title, **_as_percent(measures["company"])})
    await ctx.reply("stats", rows=rows, std_title="", kpis=kpis)


def _as_percent(measures: dict[str, Any]) -> dict[str, Any]:
    """The KPI rates (0–1) as percentages, the way the chat shows them."""
    return {
        key: value * 100 if key.endswith("rate") and value is not None else value
        for key, value in measures.items()
    }


async def report(ctx: FlowContext) -> None:
    """/report [项目]: the latest report files of a site the manager manages."""
    sites = await ctx.tx.roles.sites_with_role(ctx.person.id, Role.MANAGER)
    if not sites:
        await ctx.reply("not_allowed")
        return
    wanted = ctx.event.args.strip()
    matches = [s for s in sites if wanted and wanted in s.name] if wanted else sites
    if len(matches) == 1:
        await report_site(ctx, matches[0].id)
        return
    screen = ctx.next_screen()
    buttons = [
        [Button(s.name, payload.encode(Action.REPORT_SITE, screen, s.id))] for s in matches or sites
    ]
    await ctx.reply("report_choose", buttons, unknown=wanted if not matches else "")


async def report_site(ctx: FlowContext, site_id: int) -> None:
    sites = {s.id: s for s in await ctx.tx.roles.sites_with_role(ctx.person.id, Role.MANAGER)}
    site = sites.get(site_id)
    if site is None:
        await ctx.toast("not_allowed", alert=True)
        return
    await ctx.toast()
    latest = (await ctx.tx.inspections.latest_scores([site.id])).get(site.id)
    stored = await ctx.stored_standard(latest.standard_id) if latest else None
    if latest is None or stored is None:
        await ctx.reply("report_none", site=site.name)
        return
    await ctx.reply("report_sending", site=site.name, title=stored.title)
    chats = [(ctx.channel, ctx.event.chat_id, ctx.person.id)]
    queue_report_files(ctx.tx, chats, latest.id, site.name, stored.title)


async def overdue(ctx: FlowContext) -> None:
    sites = await ctx.tx.roles.sites_with_role(ctx.person.id, Role.MANAGER)
    if not sites:
        await ctx.reply("not_allowed")
        return
    names = {s.id: s.name for s in sites}
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    tasks = await ctx.tx.tasks.overdue(list(names), ctx.today())
    items = TaskItems(ctx.tx, ctx.standards_cache)
    for task in tasks:
        item = await items.of(task)
        person = (
            await ctx.tx.people.get(task.responsible_person_id)
            if task.responsible_person_id is not None
            else None
        )
        grouped[task.site_id].append(
            {
                "id": task.id,
                "item_no": task.item_no,
                "content": item.content if item else None,
                "responsible": person.name if person else None,
                "days": days_overdue(task, ctx.today()),
                "due": task.due_date.isoformat() if task.due_date else "—",
            }
        )
    groups = [{"site": names[site_id], "rows": rows} for site_id, rows in grouped.items()]
    await ctx.reply("overdue_list", groups=groups, total=len(tasks))


async def _losses(tx: Tx, since: datetime) -> list[dict[str, Any]]:
    rows = []
    for loss in await tx.inspections.item_losses(since, limit=5):
        stored = await tx.standards.latest(loss.std_id)
        content = ""
        if stored is not None:
            try:
                content = pinned(stored).item(loss.item_no).content
            except KeyError:
                content = ""
        rows.append({"item_no": loss.item_no, "content": content, "times": loss.times})
    return rows


async def weekly_digest(db: Database, clock: Callable[[], datetime], timezone: str) -> int:
    """The week's digest to every manager (on `digest_day` at `digest_time`): their sites'
    scores and trend, open and overdue tasks per 责任人, and the items most often losing
    points across the company. Run every minute: the week of the latest due moment is
    claimed once (bot/flows/claims.py), whatever the number of processes, also when the bot
    was down at that moment; returns how many managers got it (0 when it went before)."""
    now = clock()
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    async with db.read() as tx:
        settings = await company_settings.for_site(tx.settings)
    week = week_label(last_weekly(now, zone, settings.digest_day, settings.digest_time))
    async with db.read() as tx:
        if await tx.jobs.claimed(DIGEST_JOB, week):
            return 0
    sent = 0
    async with db.transaction() as tx:
        if not await claim_run(tx, DIGEST_JOB, week):
            return 0
        losses = await _losses(tx, now - LOSS_WINDOW)
        managers: dict[int, list[Site]] = defaultdict(list)
        for site in await tx.sites.all():
            for manager in await tx.roles.people_with_role(site.id, Role.MANAGER):
                managers[manager.id].append(site)
        for manager_id, sites in managers.items():
            person = await tx.people.get(manager_id)
            if person is None or not person.active:
                continue
            rows = {row["site"]: row for row in await site_rows(tx, sites, today)}
            entries = []
            for site in sites:
                per_person: dict[int | None, dict[str, int]] = defaultdict(
                    lambda: {"open": 0, "overdue": 0}
                )
                for task in await tx.tasks.open_for_site(site.id):
                    counter = per_person[task.responsible_person_id]
                    counter["open"] += 1
                    counter["overdue"] += int(task.is_overdue(today))
                people: list[dict[str, Any]] = []
                for person_id, counter in per_person.items():
                    owner = await tx.people.get(person_id) if person_id is not None else None
                    people.append(
                        {"name": owner.name if owner else label("common", "unassigned"), **counter}
                    )
                people.sort(key=lambda p: (-p["overdue"], -p["open"]))
                row = rows[site.name]
                entries.append({"name": site.name, **row, "people": people})
            week = plain("dates", "week", monday=today - timedelta(days=today.weekday()))
            sent += await notify.to_person(
                tx, manager_id, "digest", week=week, name=person.name, sites=entries, losses=losses
            )
    return sent
