"""Plans in chat: the [开始检查] of an occurrence's notice, the choice between occurrences an
inspection could fulfil, and /plans (计划): this period's occurrences a person manages or is
assigned to, with their status."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.core import payload
from bot.core.actions import Action
from bot.core.buttons import button
from bot.core.conversation import Mode
from bot.core.messages import Button
from bot.core.plans import OccurrenceStatus, every_name, next_period, status
from bot.core.texts import plain
from bot.flows.context import FlowContext
from storage.db import Tx
from storage.records import Inspection, Occurrence, Plan, Role, Site

# A quarter's occurrences started at most this long before today.
LONGEST_PERIOD = timedelta(days=92)


def label(plan: Plan, occurrence: Occurrence, site: Site) -> str:
    """周检 11-02–11-06 阳光花园: what a button or a row names an occurrence by."""
    zone = ZoneInfo(site.timezone)
    first = occurrence.window_start.astimezone(zone).date()
    last = (occurrence.window_end.astimezone(zone) - timedelta(seconds=1)).date()
    return plain(
        "plan", "occurrence", every=every_name(plan.every), first=first, last=last, site=site.name
    )


async def pinned_target(ctx: FlowContext, occurrence_id: int) -> tuple[int, str] | None:
    """The site and standard the [开始检查] of an occurrence's notice starts, after checking
    that the person may (assigned, still an inspector there, window open, not taken up);
    None (with a notice) when not."""
    occurrence = await ctx.tx.occurrences.get(occurrence_id)
    plan = await ctx.tx.plans.get(occurrence.plan_id) if occurrence else None
    if occurrence is None or plan is None or ctx.person.id not in plan.inspector_ids:
        await ctx.toast("not_allowed", alert=True)
        return None
    if not await ctx.tx.roles.has(ctx.person.id, occurrence.site_id, Role.INSPECTOR):
        await ctx.toast("not_allowed", alert=True)
        return None
    if occurrence.ended_at is not None or ctx.now >= occurrence.window_end:
        await ctx.toast("plan_closed", alert=True)
        return None
    if occurrence.inspection_id is not None:
        await ctx.toast("plan_taken", alert=True)
        return None
    if ctx.catalog.get(plan.std_id) is None:
        await ctx.toast("stale_button", alert=True)
        return None
    await ctx.toast()
    return occurrence.site_id, plan.std_id


async def ask_which(
    ctx: FlowContext, site_id: int, std_id: str, candidates: list[Occurrence]
) -> None:
    """More than one occurrence could count this inspection: the inspector chooses."""
    site = await ctx.tx.sites.get(site_id)
    assert site is not None
    screen = ctx.next_screen()
    ctx.state.mode = Mode.CHOOSE_PLAN
    ctx.state.site, ctx.state.std = site_id, std_id
    rows = []
    for occurrence in candidates:
        plan = await ctx.tx.plans.get(occurrence.plan_id)
        assert plan is not None
        text = label(plan, occurrence, site)
        rows.append([Button(text, payload.encode(Action.PLAN_CHOICE, screen, occurrence.id))])
    rows.append([button("no_plan", payload.encode(Action.PLAN_CHOICE, screen, 0))])
    await ctx.reply("plan_choose", rows, site=site.name)


async def chosen(ctx: FlowContext, occurrence_id: int) -> tuple[int, str, int | None] | None:
    """The site, standard and occurrence (None: none) of a choice from :func:`ask_which`."""
    site_id, std_id = ctx.state.site, ctx.state.std
    if ctx.state.mode is not Mode.CHOOSE_PLAN or site_id is None:
        await ctx.toast("stale_button", alert=True)
        return None
    assert std_id is not None
    if occurrence_id == 0:
        await ctx.toast()
        return site_id, std_id, None
    candidates = await ctx.tx.occurrences.candidates(site_id, std_id, ctx.person.id, ctx.now)
    if occurrence_id not in {c.id for c in candidates}:
        await ctx.toast("plan_taken", alert=True)
        return None
    await ctx.toast()
    return site_id, std_id, occurrence_id


async def rows_for(
    tx: Tx, occurrences: list[Occurrence], now: datetime, catalog_title: dict[str, str]
) -> list[dict[str, Any]]:
    """One row per occurrence: what, where, when and its status."""
    rows = []
    for occurrence in occurrences:
        plan = await tx.plans.get(occurrence.plan_id)
        site = await tx.sites.get(occurrence.site_id)
        if plan is None or site is None:
            continue
        inspection, state = await occurrence_status(tx, occurrence, now)
        inspector = await tx.people.get(inspection.inspector_id) if inspection else None
        rows.append(
            {
                "label": label(plan, occurrence, site),
                "title": catalog_title.get(plan.std_id, plan.std_id),
                "status": state.label,
                "inspector": inspector.name if inspector else None,
            }
        )
    return rows


def in_current_period(plan: Plan, occurrence: Occurrence, today: date) -> bool:
    return occurrence.period_start <= today < next_period(occurrence.period_start, plan.every)


async def list_plans(ctx: FlowContext) -> None:
    """/plans: managers see this period's occurrences of the sites they manage, inspectors
    the occurrences they are assigned to."""
    tx = ctx.tx
    managed = {s.id for s in await tx.roles.sites_with_role(ctx.person.id, Role.MANAGER)}
    inspects = await tx.roles.sites_with_role(ctx.person.id, Role.INSPECTOR)
    today = ctx.today()
    recent = await tx.occurrences.in_periods(today - LONGEST_PERIOD, today + timedelta(days=1))
    plans = {p.id: p for p in await tx.plans.all(include_removed=True)}
    zones = {s.id: s.timezone for s in await tx.sites.get_many({o.site_id for o in recent})}
    current = [
        o
        for o in recent
        if o.plan_id in plans
        and in_current_period(plans[o.plan_id], o, ctx.today(zones.get(o.site_id)))
    ]
    titles = {s.id: s.title for s in ctx.catalog.available()}
    scope = [o for o in current if o.site_id in managed]
    mine = [o for o in current if ctx.person.id in plans[o.plan_id].inspector_ids]
    if not managed and not inspects:
        await ctx.reply("not_allowed")
        return
    await ctx.reply(
        "plan_list",
        managed=bool(managed),
        inspects=bool(inspects),
        scope=await rows_for(tx, scope, ctx.now, titles),
        mine=await rows_for(tx, mine, ctx.now, titles),
    )


async def occurrence_status(
    tx: Tx, occurrence: Occurrence, now: datetime
) -> tuple[Inspection | None, OccurrenceStatus]:
    """The occurrence's status now, with the inspection that fulfils it (if any)."""
    inspection = (
        await tx.inspections.get(occurrence.inspection_id)
        if occurrence.inspection_id is not None
        else None
    )
    state = status(
        now,
        occurrence.window_end,
        inspection.status if inspection else None,
        inspection.completed_at if inspection else None,
    )
    return inspection, state
