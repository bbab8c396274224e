"""Deciding an appeal: [维持], [改判 → level] or [撤销] (full marks), by the inspection's
inspector or a manager one level up from the site (the region's, else the company's), never
by whoever filed it nor by a 项目经理 of the site itself (`bot.core.confirmation`).

A decision is recorded once (two deciders at once: one wins, the other is told it was
decided). 改判 and 撤销 change the item's answer as a new revision (details: 申诉改判, the
appeal, the reason), the inspection's total is scored again, and the item's open task follows
exactly as when the inspector changes an answer (`task_follow`). While an appeal is undecided
its task shows 申诉中 and gets no reminders; once decided, a task still open gets its 达标时间
moved by the calendar days the appeal took (docs/CONFIRMATION.md) and its reminders again.
Everyone involved is told, and the reports go out again (a new revision: they carry the
decision in their sign-off block).

Buttons: `A:UP:APPEAL` 维持, `A:CH:APPEAL` 改判 (then `A:CL:APPEAL:LEVEL`), `A:WD:APPEAL` 撤销.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.core import confirmation, payload
from bot.core.actions import Action, ConfirmAction
from bot.core.buttons import button
from bot.core.conversation import Mode
from bot.core.dates import shown
from bot.core.messages import Button
from bot.core.scoring import totals
from bot.core.texts import plain
from bot.flows import reminding, summaries, task_follow
from bot.flows.context import FlowContext
from bot.flows.inspection_view import Loaded, loaded_with_progress
from standards.pinned import pinned
from standards.schema import Item, Level, Standard
from storage.records import (
    OPEN_TASK_STATUSES,
    Appeal,
    AppealDecision,
    Channel,
    Inspection,
    Person,
    Role,
    Site,
)

MODES = frozenset({Mode.APPEAL_DECISION})
APPEAL_SOURCE = "申诉改判"


def _button(key: str, action: ConfirmAction, *args: int, **values: object) -> Button:
    """An appeal button labelled with the macro `key` of labels/buttons.j2."""
    return button(key, payload.encode(Action.CONFIRMATION, action, *args), **values)


def decision_buttons(appeal: Appeal) -> list[list[Button]]:
    return [
        [
            _button("uphold", ConfirmAction.UPHOLD, appeal.id),
            _button("change", ConfirmAction.CHANGE, appeal.id),
            _button("withdraw", ConfirmAction.WITHDRAW, appeal.id),
        ]
    ]


async def managers_above(ctx: FlowContext, site: Site) -> list[Person]:
    """The managers one level up from the site: its region's, else the company's."""
    if site.region_id is not None:
        region = await ctx.tx.roles.held_at(Role.MANAGER, region_id=site.region_id)
        if region:
            return region
    return await ctx.tx.roles.held_at(Role.MANAGER)


async def deciders(
    ctx: FlowContext, inspection: Inspection, site: Site, filed_by: int
) -> list[Person]:
    """Who may decide: the inspector and the managers above, less the site's own managers
    and the one who filed it."""
    here = {p.id for p in await ctx.tx.roles.held_at(Role.MANAGER, site_id=site.id)}
    inspector = await ctx.tx.people.get(inspection.inspector_id)
    candidates = [*([inspector] if inspector else []), *await managers_above(ctx, site)]
    chosen: dict[int, Person] = {}
    for person in candidates:
        if person.id not in chosen and confirmation.may_decide_appeal(
            person.id,
            filed_by=filed_by,
            is_inspector=person.id == inspection.inspector_id,
            is_manager_above=True,
            is_site_manager=person.id in here,
        ):
            chosen[person.id] = person
    return list(chosen.values())


async def _context(ctx: FlowContext, inspection: Inspection) -> tuple[Site, Standard]:
    site = await ctx.tx.sites.get(inspection.site_id)
    stored = await ctx.stored_standard(inspection.standard_id)
    assert site is not None and stored is not None
    return site, pinned(stored)


async def on_filed(ctx: FlowContext, inspection: Inspection, appeal: Appeal) -> list[Person]:
    """Send the appeal to its deciders and pause the item's task; returns the deciders."""
    site, standard = await _context(ctx, inspection)
    item = standard.item(appeal.item_no)
    for task in await ctx.tx.tasks.for_inspection(inspection.id):
        if task.item_no == appeal.item_no and task.status in OPEN_TASK_STATUSES:
            await ctx.tx.reminders.cancel_for_task(task.id)
    answer = await ctx.tx.answers.get(inspection.id, appeal.item_no)
    photos = [e.sha256 for e in await ctx.tx.evidence.for_appeal(inspection.id, item.no)]
    inspector = await ctx.tx.people.get(inspection.inspector_id)
    chosen = await deciders(ctx, inspection, site, appeal.filed_by)
    for person in chosen:
        await ctx.notify(
            person.id,
            "appeal_request",
            decision_buttons(appeal),
            photos=photos,
            site=site.name,
            no=item.no,
            content=item.content,
            score=answer.score if answer else None,
            max_score=item.max_score,
            label=(answer.level_label if answer else "") or "",
            inspector=inspector.name if inspector else "",
            filed_by=ctx.person.name,
            filed_at=shown(appeal.filed_at, site.timezone),
            reason=appeal.reason,
            photos_count=len(photos),
        )
    return chosen


async def press(ctx: FlowContext, action: ConfirmAction, args: list[str]) -> None:
    """A decider's button: UP, CH, CL or WD (`bot.flows.confirm` handles the site's)."""
    appeal = await ctx.tx.confirmations.appeal(payload.as_int(args[0]))
    if appeal is None:
        await ctx.toast("stale_button", alert=True)
        return
    found = await _may_decide(ctx, appeal)
    if found is None:
        return
    inspection, _, standard = found
    item = standard.item(appeal.item_no)
    if action is ConfirmAction.UPHOLD:
        await ctx.toast()
        await decide(ctx, appeal, AppealDecision.UPHELD, None, None)
    elif action is ConfirmAction.CHANGE:
        await ctx.toast()
        answer = await ctx.tx.answers.get(inspection.id, item.no)
        current = answer.score if answer else None
        buttons = [
            [
                _button(
                    "level",
                    ConfirmAction.CHANGE_TO,
                    appeal.id,
                    index,
                    score=lv.score,
                    name=lv.label,
                )
            ]
            for index, lv in enumerate(item.levels)
            if lv.score != current
        ]
        await ctx.reply(
            "appeal_choose_level",
            buttons,
            no=item.no,
            score=current,
            label=(answer.level_label if answer else "") or "",
        )
    else:
        index = payload.as_int(args[1]) if action is ConfirmAction.CHANGE_TO else 0
        if not 0 <= index < len(item.levels):
            await ctx.toast("stale_button", alert=True)
            return
        await ctx.toast()
        level = item.levels[index]
        changed = action is ConfirmAction.CHANGE_TO
        decision = AppealDecision.CHANGED if changed else AppealDecision.WITHDRAWN
        ctx.next_screen()
        ctx.state.mode, ctx.state.appeal_id = Mode.APPEAL_DECISION, appeal.id
        ctx.state.decision, ctx.state.level = decision.value, index
        await ctx.reply(
            "appeal_ask_decision_reason",
            withdrawn=decision is AppealDecision.WITHDRAWN,
            no=item.no,
            score=level.score,
            label=level.label,
        )


async def _may_decide(ctx: FlowContext, appeal: Appeal) -> tuple[Inspection, Site, Standard] | None:
    """The appeal's inspection, site and standard if this person may decide it now; else
    they are told why not (already decided: by whom and how)."""
    inspection = await ctx.tx.inspections.get(appeal.inspection_id)
    assert inspection is not None
    site, standard = await _context(ctx, inspection)
    if appeal.decision is not None:
        await _already(ctx, appeal)
        return None
    here = await ctx.tx.roles.held_at(Role.MANAGER, site_id=site.id)
    above = await managers_above(ctx, site)
    allowed = confirmation.may_decide_appeal(
        ctx.person.id,
        filed_by=appeal.filed_by,
        is_inspector=ctx.person.id == inspection.inspector_id,
        is_manager_above=ctx.person.id in {p.id for p in above},
        is_site_manager=ctx.person.id in {p.id for p in here},
    )
    if not allowed:
        await ctx.toast(
            "appeal_not_allowed",
            alert=True,
            own_site=ctx.person.id in {p.id for p in here},
            own_appeal=ctx.person.id == appeal.filed_by,
        )
        return None
    return inspection, site, standard


async def _already(ctx: FlowContext, appeal: Appeal) -> None:
    current = await ctx.tx.confirmations.appeal(appeal.id)
    assert current is not None and current.decision is not None
    decider = await ctx.tx.people.get(current.decided_by) if current.decided_by else None
    decision, name = current.decision.label, decider.name if decider else ""
    if ctx.event.callback_id:
        await ctx.toast("appeal_already_decided", alert=True, decision=decision, decider=name)
    else:
        await ctx.reply("appeal_already_decided", decision=decision, decider=name)


def _leave(ctx: FlowContext) -> None:
    ctx.state.leave_appeal_decision()


async def on_text(ctx: FlowContext, text: str) -> bool:
    """The reason of a 改判 or 撤销: decides the appeal."""
    appeal_id, decision, index = ctx.state.appeal_id, ctx.state.decision, ctx.state.level
    if appeal_id is None or index is None:
        return False
    reason = text.strip()
    if not reason:
        await ctx.reply("appeal_decision_reason_empty")
        return True
    appeal = await ctx.tx.confirmations.appeal(appeal_id)
    _leave(ctx)
    if appeal is None:
        return False
    if await _may_decide(ctx, appeal) is None:
        return True
    await decide(ctx, appeal, AppealDecision(str(decision)), index, reason[:1000])
    return True


async def decide(
    ctx: FlowContext,
    appeal: Appeal,
    decision: AppealDecision,
    index: int | None,
    reason: str | None,
) -> None:
    inspection = await ctx.tx.inspections.get(appeal.inspection_id)
    assert inspection is not None
    site, standard = await _context(ctx, inspection)
    item = standard.item(appeal.item_no)
    level = item.levels[index] if index is not None else None
    decided = await ctx.tx.confirmations.decide(
        appeal.id,
        decision,
        decided_by=ctx.person.id,
        reason=reason,
        score_after=level.score if level else appeal.score_before,
        label_after=level.label if level else None,
    )
    if decided is None:
        await _already(ctx, appeal)
        return
    loaded = await _loaded(ctx, inspection, site, standard)
    if level is not None:
        await _change_answer(ctx, loaded, item, level, decided)
        loaded = await _loaded(ctx, inspection, site, standard)
        await task_follow.follow_answer(ctx, loaded, item, appeal=True)
    await _resume_task(ctx, inspection, site, decided)
    total = await _rescore(ctx, loaded)
    await _tell(ctx, inspection, site, item, decided, total)
    await _send_reports(ctx, inspection, site, standard)


async def _loaded(
    ctx: FlowContext, inspection: Inspection, site: Site, standard: Standard
) -> Loaded:
    progress = await ctx.tx.inspections.progress(inspection.id)
    return loaded_with_progress(inspection, standard, site, progress)


async def _change_answer(
    ctx: FlowContext, loaded: Loaded, item: Item, level: Level, appeal: Appeal
) -> None:
    await ctx.tx.answers.set(
        loaded.inspection.id,
        item.no,
        answered_by=ctx.person.id,
        score=level.score,
        max_score=item.max_score,
        level_label=level.label,
        details={
            "source": APPEAL_SOURCE,
            "appeal_id": appeal.id,
            "decision": appeal.decision.value if appeal.decision else None,
            "reason": appeal.decision_reason,
        },
    )


async def _rescore(ctx: FlowContext, loaded: Loaded) -> tuple[float, float]:
    bands = (await ctx.settings_at(loaded.site)).grade_bands
    result = totals(loaded.standard, loaded.marks, bands)
    await ctx.tx.inspections.rescore(
        loaded.inspection.id, score=result.score, max_score=result.applicable_max
    )
    return result.score, result.applicable_max


async def _resume_task(
    ctx: FlowContext, inspection: Inspection, site: Site, appeal: Appeal
) -> None:
    """The item's task, still open after the decision, gets back the days the appeal took
    and its reminders."""
    assert appeal.decided_at is not None
    days = confirmation.paused_days(appeal.filed_at, appeal.decided_at, site.timezone)
    for task in await ctx.tx.tasks.for_inspection(inspection.id):
        if task.item_no != appeal.item_no or task.status not in OPEN_TASK_STATUSES:
            continue
        if days > 0 and task.due_date is not None:
            task = await ctx.tx.tasks.change_due_date(
                task.id,
                task.version,
                task.due_date + timedelta(days=days),
                actor_id=None,
                reason=plain("events", "appeal_pause", days=days),
            )
        await reminding.replan(ctx.tx, task, ctx.now)


async def _tell(
    ctx: FlowContext,
    inspection: Inspection,
    site: Site,
    item: Item,
    appeal: Appeal,
    total: tuple[float, float],
) -> None:
    """The decider, the one who filed it, the inspector, the site's managers and the other
    deciders all hear the outcome."""
    assert appeal.decision is not None and appeal.decided_at is not None
    when = await ctx.tx.confirmations.get(inspection.id)
    assert when is not None
    view: dict[str, Any] = {
        "site": site.name,
        "no": item.no,
        "content": item.content,
        "decision": appeal.decision.label,
        "score": appeal.score_after,
        "label": appeal.label_after or "",
        "decider": ctx.person.name,
        "at": shown(appeal.decided_at, site.timezone),
        "reason": appeal.decision_reason or "",
        "total": total[0],
        "max_total": total[1],
        "status": when.status.label,
    }
    await ctx.reply("appeal_decided", **view)
    people = [
        appeal.filed_by,
        inspection.inspector_id,
        *(p.id for p in await ctx.tx.roles.held_at(Role.MANAGER, site_id=site.id)),
        *(p.id for p in await deciders(ctx, inspection, site, appeal.filed_by)),
    ]
    told = {ctx.person.id}
    for person_id in people:
        if person_id not in told:
            told.add(person_id)
            await ctx.notify(person_id, "appeal_decided", **view)


async def _send_reports(
    ctx: FlowContext, inspection: Inspection, site: Site, standard: Standard
) -> None:
    """The reports again, to the inspector and the site's managers: their sign-off block
    now carries the decision."""
    chats: list[tuple[Channel, str, int]] = []
    people = [
        inspection.inspector_id,
        *(p.id for p in await ctx.tx.roles.held_at(Role.MANAGER, site_id=site.id)),
    ]
    for person_id in dict.fromkeys(people):
        for identity in await ctx.tx.identities.for_person(person_id):
            if identity.chat_id is not None:
                chats.append((identity.channel, identity.chat_id, person_id))
    summaries.queue_report_files(ctx.tx, chats, inspection.id, site.name, standard.title)
