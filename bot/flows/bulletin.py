"""The monthly 通报 of a scope (the whole company, or one region): what it shows, read in one
transaction into a plain BulletinModel that bot/reports draws, and queueing it into chats (the
files are drawn just before they are sent: bot/bulletins.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.core import company_settings
from bot.core.dates import local
from bot.core.kpi import Period, ScoreTally, parse_month
from bot.core.messages import Outgoing
from bot.core.report_request import BULLETIN_FORMATS, bulletin_request
from bot.core.scoring import grade_for
from bot.core.tasks import severity_name, status_label
from bot.core.texts import label, plain, render
from bot.flows import group_posts
from bot.flows.context import FlowContext
from bot.flows.kpis import completed_in, item_content, month_kpis, scope_sites
from bot.reports.bulletin_model import BulletinModel, FindingRow, KpiRow, LossRow, RankRow
from storage.db import Tx
from storage.records import Channel, OutboxKind, Region, ResultStatus, Role

LOSSES_SHOWN = 10
Chat = tuple[Channel, str, int | None]


def scope_name(region: Region | None) -> str:
    return (
        label("scope", "company") if region is None else plain("scope", "region", name=region.name)
    )


def _percent(rate: float | None) -> float | None:
    return None if rate is None else rate * 100


def _kpi_row(name: str, row: dict[str, Any]) -> KpiRow:
    return KpiRow(
        name=name,
        score_rate=row["score_rate"],
        tasks=row["tasks"],
        completed=row["completed"],
        completed_on_time=row["completed_on_time"],
        completion_rate=row["completion_rate"],
        timely_rate=row["timely_rate"],
        overdue_open=row["overdue_open"],
    )


async def _confirmed_percents(
    tx: Tx, period: Period, site_ids: set[int] | None
) -> dict[int, float | None]:
    """Each site's 得分率 (in %) over its confirmed results of the month only: the ranking
    does not count a result still 待确认 or 申诉中."""
    inspections = await completed_in(tx, period, await scope_sites(tx, site_ids))
    statuses = await tx.confirmations.statuses(i.id for i in inspections)
    tallies: dict[int, ScoreTally] = {}
    for inspection in inspections:
        if statuses[inspection.id] is ResultStatus.CONFIRMED:
            tally = tallies.setdefault(inspection.site_id, ScoreTally())
            tally.add(inspection.score, inspection.max_score)
    return {site: _percent(t.measures()["score_rate"]) for site, t in tallies.items()}


async def bulletin_model(
    tx: Tx, period: Period, now: datetime, region: Region | None = None
) -> BulletinModel:
    """The 通报 of the month for the whole company (region None) or one region's sites."""
    site_ids = None
    if region is not None:
        site_ids = {s.id for s in await tx.sites.in_region(region.id)}
    this = await month_kpis(tx, period, now, site_ids=site_ids)
    bands = await company_settings.grade_bands(tx.settings)
    percents = await _confirmed_percents(tx, period, site_ids)
    previous = await _confirmed_percents(tx, period.previous(), site_ids)
    ranked = sorted(
        this["sites"],
        key=lambda r: (percents.get(r["id"]) is None, -(percents.get(r["id"]) or 0.0), r["site"]),
    )
    ranking = []
    for place, row in enumerate(ranked, start=1):
        percent = percents.get(row["id"])
        earlier = previous.get(row["id"])
        ranking.append(
            RankRow(
                rank=place if percent is not None else None,
                site=row["site"],
                region=row["region"] or "",
                inspections=row["inspections"],
                unconfirmed=row["unconfirmed"],
                percent=percent,
                grade=grade_for(percent, bands),
                previous=earlier,
                change=None if percent is None or earlier is None else percent - earlier,
            )
        )
    losses = tuple(
        LossRow(r["standard"], r["no"], r["content"], r["findings"], r["points_lost"])
        for r in this["items"][:LOSSES_SHOWN]
    )
    return BulletinModel(
        month=period.label,
        period=period.title,
        scope=scope_name(region),
        issued=now.astimezone(
            ZoneInfo((await company_settings.for_site(tx.settings)).timezone)
        ).date(),
        ranking=tuple(ranking),
        sites=tuple(_kpi_row(r["site"], r) for r in ranked),
        regions=tuple(_kpi_row(r["region"], r) for r in this["regions"]) if region is None else (),
        total=_kpi_row(label("common", "total"), this["company"]),
        findings=await _findings(tx, period, now, site_ids),
        losses=losses,
        bands=tuple(bands),
    )


async def _findings(
    tx: Tx, period: Period, now: datetime, site_ids: set[int] | None
) -> tuple[FindingRow, ...]:
    """Every 不合格项 of the month: the tasks of the inspections completed in it."""
    sites = [
        s for s in await tx.sites.all(include_inactive=True) if site_ids is None or s.id in site_ids
    ]
    by_id = {s.id: s for s in sites}
    inspections = {i.id: i for i in await completed_in(tx, period, [s for s in sites if s.active])}
    tasks = await tx.tasks.for_inspections(inspections)
    settings = await company_settings.for_site(tx.settings)
    people = {
        p.id: p.name
        for p in await tx.people.get_many(
            t.responsible_person_id for t in tasks if t.responsible_person_id is not None
        )
    }
    rows = []
    for task in sorted(
        tasks, key=lambda t: (by_id[t.site_id].name, t.inspection_id or 0, t.item_no or 0)
    ):
        inspection = inspections[task.inspection_id] if task.inspection_id else None
        content = ""
        if inspection is not None and task.item_no is not None:
            content = await item_content(tx, inspection.standard_id, task.item_no)
        site = by_id[task.site_id]
        rows.append(
            FindingRow(
                site=site.name,
                no=task.item_no,
                content=content or task.finding,
                severity=severity_name(settings, task.severity),
                responsible=people.get(
                    task.responsible_person_id or 0, label("common", "unassigned")
                ),
                due=task.due_date.isoformat() if task.due_date else "—",
                status=status_label(task, local(now, site.timezone).date()),
            )
        )
    return tuple(rows)


async def queue_bulletin(
    tx: Tx, chats: Sequence[Chat], model: BulletinModel, region_id: int | None
) -> None:
    """The summary message, then the Excel and the PDF, into each chat."""
    summary = render(
        "bulletin_summary", title=model.title, scope=model.scope, summary=model.summary()
    )
    rows: list[tuple[OutboxKind, dict[str, Any]]] = [
        (OutboxKind.SEND, Outgoing(kind=OutboxKind.SEND, text=summary).to_payload())
    ]
    for fmt in BULLETIN_FORMATS:
        text = render("bulletin_file", format=fmt.value, title=model.title, scope=model.scope)
        payload = Outgoing(kind=OutboxKind.SEND_DOCUMENT, text=text).to_payload()
        rows.append(
            (OutboxKind.SEND_DOCUMENT, payload | bulletin_request(model.month, region_id, fmt))
        )
    for channel, chat_id, person_id in chats:
        for kind, payload in rows:
            await tx.outbox.enqueue(channel, chat_id, kind, payload, person_id=person_id)


async def person_chats(tx: Tx, person_id: int) -> list[Chat]:
    return [
        (i.channel, i.chat_id, person_id)
        for i in await tx.identities.for_person(person_id)
        if i.chat_id is not None
    ]


def month_of(text: str, today: date) -> Period | None:
    """The month a person asked for (empty: last month), or None when it is not a month."""
    if not text.strip():
        return Period.month(today).previous()
    return parse_month(text)


async def ask(ctx: FlowContext) -> None:
    """/通报 [月份]: the 通报 of the month (default last month) for the manager's scope: the
    whole company for a company-wide manager, else each region they manage."""
    grants = [g for g in await ctx.tx.roles.for_person(ctx.person.id) if g.role is Role.MANAGER]
    if not grants:
        await ctx.reply("not_allowed")
        return
    today = ctx.today()
    period = month_of(ctx.event.args, today)
    if period is None:
        await ctx.reply("bulletin_bad_month", text=ctx.event.args.strip())
        return
    if period.first > today:
        await ctx.reply("bulletin_future", month=period.title)
        return
    regions: list[Region | None] = []
    if any(g.company_wide for g in grants):
        regions.append(None)
    else:
        for grant in grants:
            region = await ctx.tx.regions.get(grant.region_id) if grant.region_id else None
            if region is not None and region not in regions:
                regions.append(region)
    if not regions:
        await ctx.reply("bulletin_no_scope")
        return
    chats: list[Chat] = [(ctx.channel, ctx.event.chat_id, ctx.person.id)]
    for region in regions:
        model = await bulletin_model(ctx.tx, period, ctx.now, region)
        await queue_bulletin(ctx.tx, chats, model, region.id if region else None)


async def post_to_region_groups(tx: Tx, model: BulletinModel, region_id: int) -> int:
    """The region's 通报 (its summary as the caption of the PDF) into the region's active
    project groups; returns how many groups it was queued for."""
    groups = await tx.groups.active_for(region_id=region_id)
    summary = render(
        "bulletin_summary", title=model.title, scope=model.scope, summary=model.summary()
    )
    for group in groups:
        await group_posts.queue(
            tx, group, "group_file", bulletin=(model.month, region_id), caption=summary
        )
    return len(groups)
