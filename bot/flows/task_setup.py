"""Turning an item that lost points into a rectification task: 严重程度, 责任人, 达标时间, 备注.

Defaults (the severity following the score, `CompanySettings.default_severity`; the last 责任人
chosen in this inspection, or the site's first; today + the severity's days) make it two taps:
the level, then 确认创建. Choosing a severity moves the proposed 达标时间 to its days unless
the inspector already chose a date. The inspector is offered as 责任人
only where the company lets inspectors assign themselves (`bot.core.task_rules`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot.core import findings, payload, task_rules
from bot.core import tasks as lifecycle
from bot.core.actions import Action
from bot.core.buttons import button
from bot.core.conversation import Mode, TaskDraft
from bot.core.dates import DateError, parse_due_date
from bot.core.messages import Button
from bot.flows import tasks
from bot.flows.context import FlowContext
from bot.flows.inspection_view import attachment_counts
from standards.schema import Item
from storage.records import Person, Role, Severity, Site

if TYPE_CHECKING:
    from bot.flows.inspection_view import Loaded


async def _staff(ctx: FlowContext, site: Site) -> list[Person]:
    """The site's 责任人 this inspector may choose."""
    staff = await ctx.tx.roles.people_with_role(site.id, Role.RESPONSIBLE)
    allowed = (await ctx.settings_at(site)).inspector_self_assign
    return [
        p for p in staff if task_rules.may_assign(ctx.person.id, p.id, self_assign_allowed=allowed)
    ]


async def _may_assign(ctx: FlowContext, site: Site, person_id: int) -> bool:
    allowed = (await ctx.settings_at(site)).inspector_self_assign
    return task_rules.may_assign(ctx.person.id, person_id, self_assign_allowed=allowed)


def _draft(ctx: FlowContext) -> TaskDraft:
    """The task being set up; a press on a set-up without one is stale (the router says so)."""
    if ctx.state.task is None:
        raise payload.PayloadError("no task is being set up")
    return ctx.state.task


async def open_for(ctx: FlowContext, loaded: Loaded, item: Item, score: float, label: str) -> None:
    """Show the task set-up; choices already made for this item are kept."""
    staff = await _staff(ctx, loaded.site)
    previous = ctx.state.task
    screen = ctx.next_screen()
    ref = f"t{loaded.inspection.id}.{item.no}.{screen}"
    key = f"{loaded.inspection.id}:{item.no}"
    if previous is not None and previous.key == key:
        previous.score, previous.label, previous.ref = score, label, ref
    else:
        last = ctx.state.last_resp
        default = next((p.id for p in staff if p.id == last), staff[0].id if staff else None)
        settings = await ctx.settings_at(loaded.site)
        severity = lifecycle.default_severity(settings, score)
        due = ctx.today(loaded.site.timezone) + timedelta(
            days=lifecycle.severity_due_days(settings, severity)
        )
        ctx.state.task = TaskDraft(
            key=key,
            score=score,
            label=label,
            sev=severity,
            resp=default,
            due=due,
            ref=ref,
            date_example=ctx.state.date_example != loaded.inspection.id,
        )
        ctx.state.date_example = loaded.inspection.id
    ctx.state.at_item(Mode.TASK, loaded.inspection.id, item.no)
    view, buttons = await _view(ctx, loaded, item, staff, screen)
    await ctx.tx.inspections.move_cursor(loaded.inspection.id, item.no, channel=ctx.channel)
    await ctx.reply("task_setup", buttons, ref=ref, **view)


async def _view(
    ctx: FlowContext, loaded: Loaded, item: Item, staff: list[Person], screen: int
) -> tuple[dict[str, Any], list[list[Button]]]:
    task = _draft(ctx)
    insp = loaded.inspection.id
    chosen = task.resp
    due = task.due
    today = ctx.today(loaded.site.timezone)
    photos, _ = await attachment_counts(ctx, loaded, item.no)
    settings = await ctx.settings_at(loaded.site)
    need_photo = settings.photo_required and photos == 0
    severity = task.sev
    rows: list[list[Button]] = [
        [button("task_confirm", payload.encode(Action.TASK_CONFIRM, screen, insp, item.no))],
        [
            button(
                "choice",
                payload.encode(Action.TASK_SEVERITY, screen, insp, item.no, i),
                name=lifecycle.severity_name(settings, s),
                chosen=s is severity,
            )
            for i, s in enumerate(Severity)
        ],
    ]
    people = [
        button(
            "choice",
            payload.encode(Action.TASK_RESPONSIBLE, screen, insp, item.no, p.id),
            name=p.name,
            chosen=p.id == chosen,
        )
        for p in staff
    ]
    rows.extend(people[i : i + 3] for i in range(0, len(people), 3))
    rows.append(
        [
            button(
                "due_days",
                payload.encode(Action.TASK_DAYS, screen, insp, item.no, d),
                days=d,
                chosen=today + timedelta(days=d) == due,
            )
            for d in settings.due_choices
        ]
    )
    rows.append(
        [
            button("note", payload.encode(Action.TASK_REMARK, screen, insp, item.no)),
            button("photo", payload.encode(Action.PHOTO, screen, insp, item.no)),
        ]
    )
    name = next((p.name for p in staff if p.id == chosen), None)
    view = {
        "item": item,
        "score": task.score,
        "label": task.label,
        "severity": lifecycle.severity_name(settings, severity),
        "responsible": name,
        "due": due.isoformat(),
        "remark": task.remark,
        "need_photo": need_photo,
        "date_example": task.date_example,
    }
    return view, rows


async def refresh(ctx: FlowContext, loaded: Loaded, item: Item) -> None:
    """Edit the task set-up message in place after a change."""
    task = _draft(ctx)
    staff = await _staff(ctx, loaded.site)
    view, buttons = await _view(ctx, loaded, item, staff, ctx.screen)
    await ctx.edit(task.ref, "task_setup", buttons, **view)


async def choose_responsible(ctx: FlowContext, loaded: Loaded, item: Item, person_id: int) -> None:
    if not await _may_assign(ctx, loaded.site, person_id):
        await ctx.toast("responsible_self", alert=True)
        return
    staff = await _staff(ctx, loaded.site)
    if not any(p.id == person_id for p in staff):
        await ctx.toast("not_allowed", alert=True)
        return
    await ctx.toast()
    _draft(ctx).resp = person_id
    await refresh(ctx, loaded, item)


async def choose_severity(ctx: FlowContext, loaded: Loaded, item: Item, index: int) -> None:
    """A severity button; the 达标时间 follows it unless the inspector chose one."""
    if index >= len(Severity):
        await ctx.toast("stale_button", alert=True)
        return
    await ctx.toast()
    task = _draft(ctx)
    severity = list(Severity)[index]
    task.sev = severity
    if not task.due_chosen:
        days = lifecycle.severity_due_days(await ctx.settings_at(loaded.site), severity)
        task.due = ctx.today(loaded.site.timezone) + timedelta(days=days)
    await refresh(ctx, loaded, item)


async def choose_days(ctx: FlowContext, loaded: Loaded, item: Item, days: int) -> None:
    """A +N天 button, or the button confirming a date proposed for a typed one."""
    due = ctx.today(loaded.site.timezone) + timedelta(days=days)
    task = _draft(ctx)
    choices = (await ctx.settings_at(loaded.site)).due_choices
    if days not in choices and due != task.offer:
        await ctx.toast("stale_button", alert=True)
        return
    await ctx.toast()
    task.due, task.due_chosen = due, True
    await refresh(ctx, loaded, item)


async def ask_remark(ctx: FlowContext) -> None:
    await ctx.toast()
    ctx.state.mode = Mode.TASK_REMARK
    await ctx.reply("ask_remark")


async def on_text(ctx: FlowContext, loaded: Loaded, item: Item, text: str) -> None:
    """Typed text in the task screen: a remark when asked, else a date or a person's name."""
    task = _draft(ctx)
    if ctx.state.mode is Mode.TASK_REMARK:
        task.remark = text.strip()[:500]
        ctx.state.mode = Mode.TASK
        await refresh(ctx, loaded, item)
        return
    try:
        due = parse_due_date(text, ctx.today(loaded.site.timezone))
    except DateError as exc:
        date_problem = exc
    else:
        task.due, task.due_chosen = due, True
        await refresh(ctx, loaded, item)
        return
    staff = await _staff(ctx, loaded.site)
    name = text.strip()
    matches = [p for p in staff if p.name == name] or [p for p in staff if name and name in p.name]
    if len(matches) == 1:
        task.resp = matches[0].id
        await refresh(ctx, loaded, item)
        return
    own = name and (name == ctx.person.name or name in ctx.person.name)
    if not matches and own and not await _may_assign(ctx, loaded.site, ctx.person.id):
        await ctx.reply("responsible_self")
        await open_for(ctx, loaded, item, task.score, task.label)
        return
    if not matches and any(ch.isdigit() for ch in name):
        await _refuse_date(ctx, loaded, item, date_problem)
        return
    template = "responsible_ambiguous" if matches else "responsible_unknown"
    await ctx.reply(template, name=name)
    await open_for(ctx, loaded, item, task.score, task.label)


async def _refuse_date(ctx: FlowContext, loaded: Loaded, item: Item, problem: DateError) -> None:
    """Say why the date cannot be taken; offer the date the person may have meant."""
    buttons: list[list[Button]] = []
    if problem.proposed is not None:
        days = (problem.proposed - ctx.today(loaded.site.timezone)).days
        _draft(ctx).offer = problem.proposed
        code = payload.encode(Action.TASK_DAYS, ctx.screen, loaded.inspection.id, item.no, days)
        buttons.append([button("confirm_date", code, date=problem.proposed.isoformat())])
    await ctx.reply(problem.template, buttons, **problem.values)


async def confirm(ctx: FlowContext, loaded: Loaded, item: Item) -> bool:
    """确认创建: create the task; True when the inspection goes on past this item (the router
    then shows what comes next), False when the set-up stays open."""
    photos, _ = await attachment_counts(ctx, loaded, item.no)
    if (await ctx.settings_at(loaded.site)).photo_required and photos == 0:
        await ctx.toast("photo_required", alert=True)
        return False
    if item.no in loaded.task_items:
        await ctx.toast("already_answered_callback")
        return True
    task = _draft(ctx)
    responsible = task.resp
    if responsible is not None and not await _may_assign(ctx, loaded.site, responsible):
        await ctx.toast("responsible_self", alert=True)
        return False
    await ctx.toast()
    notes = await ctx.tx.notes.for_item(loaded.inspection.id, item.no)
    level = item.level_for(task.score) or item.levels[-1]
    finding = findings.finding([n.text for n in notes], lifecycle.finding_for(item, level))
    created = await ctx.tx.tasks.create(
        site_id=loaded.site.id,
        inspection_id=loaded.inspection.id,
        item_no=item.no,
        finding=finding,
        score=task.score,
        severity=task.sev,
        responsible_person_id=responsible,
        due_date=task.due,
        remark=task.remark,
        created_by=ctx.person.id,
    )
    loaded.task_items.add(item.no)
    if responsible is not None:
        ctx.state.last_resp = responsible
    staff = await _staff(ctx, loaded.site)
    name = next((p.name for p in staff if p.id == responsible), None)
    await ctx.edit(
        task.ref,
        "task_created",
        task_id=created.id,
        item=item,
        responsible=name,
        due=task.due.isoformat(),
        remark=task.remark,
    )
    ctx.state.task = None
    await tasks.on_created(ctx, created)
    return True
