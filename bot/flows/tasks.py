"""The responsible staff's side of a rectification task, and its verification and extension.

Task buttons carry the task id and its version (`K:ACTION:TASK:VERSION[:ARG]`): any change to
the task makes older buttons stale. Every press is checked by the task rules before anything is
done (`bot.core.task_rules.refusal`: who pressed it, the separation of duties, the task's state).
A fix or an extension request goes only to people who may decide it; when nobody else may, it
waits, and whoever may later finds its buttons on the task's details (查看详情).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any

from bot.core import actions, payload, task_rules
from bot.core import tasks as lifecycle
from bot.core.actions import Action, TaskAction
from bot.core.buttons import button
from bot.core.conversation import Mode
from bot.core.dates import DateError, local, parse_due_date, shown
from bot.core.events import StoredFile
from bot.core.messages import Button, Stamped
from bot.core.texts import label, plain, render
from bot.flows import group_posts, reminding, task_moves
from bot.flows.context import FlowContext
from bot.flows.task_items import TaskItems
from bot.reports import photo_place, photo_reuse, photo_time, renditions
from standards.schema import Item
from storage.errors import StateConflict
from storage.records import (
    Evidence,
    EvidenceRole,
    ExtensionRequest,
    ExtensionStatus,
    Person,
    Role,
    Severity,
    Site,
    Task,
    TaskEventKind,
    TaskStatus,
)

log = logging.getLogger(__name__)

TASK_MODES = frozenset({Mode.FIX, Mode.REJECT_REASON, Mode.EXT_DATE, Mode.EXT_REASON})
EXTENSION_DAYS = (3, 7, 15)


def _button(key: str, action: TaskAction, task: Task, *extra: int, **values: object) -> Button:
    """A task's button labelled with the macro `key` of labels/buttons.j2."""
    code = payload.encode(Action.TASK, action, task.id, task.version, *extra)
    return button(key, code, **values)


async def _site(ctx: FlowContext, task: Task) -> Site:
    site = await ctx.tx.sites.get(task.site_id)
    assert site is not None
    return site


async def _name(ctx: FlowContext, person_id: int | None) -> str | None:
    if person_id is None:
        return None
    person = await ctx.tx.people.get(person_id)
    return person.name if person else None


async def _is_manager(ctx: FlowContext, site_id: int, person_id: int) -> bool:
    return await ctx.tx.roles.has(person_id, site_id, Role.MANAGER)


async def item_of(ctx: FlowContext, task: Task) -> Item | None:
    """The standard item the task came from, if any."""
    return await TaskItems(ctx.tx, ctx.standards_cache).of(task)


async def _before_photos(ctx: FlowContext, task: Task) -> list[Stamped]:
    """The finding's photos, watermarked (whoever is shown them is not who took them)."""
    if task.inspection_id is None or task.item_no is None:
        return []
    photos = await ctx.tx.evidence.for_item(task.inspection_id, task.item_no)
    return await renditions.stamped(ctx.tx, photos)


async def _after_photos(ctx: FlowContext, task: Task) -> list[Stamped]:
    photos = await ctx.tx.evidence.for_task(task.id, role=EvidenceRole.FIX)
    return await renditions.stamped(ctx.tx, photos)


async def reused(ctx: FlowContext, task: Task) -> list[tuple[Evidence, Evidence]]:
    values = await ctx.settings_at(await _site(ctx, task))
    return await photo_reuse.reused(
        ctx.tx,
        task,
        max_distance=values.reuse_max_distance,
        days=values.reuse_days,
        now=ctx.now,
    )


async def photo_flags(ctx: FlowContext, task: Task) -> list[str]:
    """What the fix photos' capture times, hashes and positions show the verifier
    (docs/EVIDENCE.md)."""
    site = await _site(ctx, task)
    zone = site.timezone
    fixes = await ctx.tx.evidence.for_task(task.id, role=EvidenceRole.FIX)
    flags = [
        render(
            "photo_flag_before_task",
            taken=shown(taken_at, zone, year=False),
            created=shown(task.created_at, zone, year=False),
        ).strip()
        for photo in photo_time.fixes_taken_before(fixes, task.created_at, zone)
        if (taken_at := photo_time.taken(photo, zone)) is not None
    ]
    for _, earlier in await reused(ctx, task):
        flags.append(
            render(
                "photo_flag_reused",
                day=local(earlier.created_at, zone).strftime("%m-%d"),
                item_no=earlier.item_no,
                task_id=earlier.task_id,
            ).strip()
        )
    radius = (await ctx.settings_at(site)).photo_max_distance_m
    for _, metres in photo_place.far_from_site(fixes, site, radius):
        flags.append(
            render(
                "photo_flag_far", distance=photo_place.shown_distance(metres), radius=radius
            ).strip()
        )
    return flags


async def card(
    ctx: FlowContext, task: Task, heading: str | None = None, history: bool = False
) -> dict[str, Any]:
    site = await _site(ctx, task)
    zone = site.timezone
    today = ctx.today(zone)
    item = await item_of(ctx, task)
    level = lifecycle.level_of(task, item)
    lines: list[str] = []
    escalated = None
    if history:
        reached = await reminding.reached(ctx.tx, task.id)
        if reached is not None:
            escalated = {
                "level": reached.level,
                "when": shown(reached.at, zone, year=False),
                "told": reached.told,
            }
        for event in await ctx.tx.tasks.events(task.id):
            who = await _name(ctx, event.actor_id) or label("events", "system")
            lines.append(f"{shown(event.at, zone, year=False)} {who} {_event_text(event)}")
        lines.extend(await photo_flags(ctx, task))
    return {
        "heading": heading,
        "task": task,
        "status": await status_label(ctx, task, today),
        "severity": lifecycle.severity_name(await ctx.settings_at(site), task.severity),
        "site": site.name,
        "item": item,
        "level": level.label if level else None,
        "due": task.due_date.isoformat() if task.due_date else "—",
        "overdue_days": lifecycle.days_overdue(task, today),
        "escalated": escalated,
        "responsible": await _name(ctx, task.responsible_person_id),
        "inspector": await _name(ctx, task.created_by),
        "photo_count": len(await _before_photos(ctx, task)),
        "fix_photo_count": len(await _after_photos(ctx, task)),
        "history": lines,
    }


async def status_label(ctx: FlowContext, task: Task, today: date) -> str:
    """待整改, 待复查 (逾期), …, or 申诉中 while an appeal against its finding is undecided."""
    if task.status is TaskStatus.OPEN and await reminding.under_appeal(ctx.tx, task):
        return label("task_status", "under_appeal")
    return lifecycle.status_label(task, today)


def _event_text(event: Any) -> str:
    if event.kind is TaskEventKind.STATUS and event.to_status is not None:
        source = event.from_status.label if event.from_status else ""
        text = plain("events", "status", source=source, target=event.to_status.label)
    else:
        text = label("events", event.kind)
    return plain("events", "with_reason", text=text, reason=event.reason) if event.reason else text


def responsible_buttons(task: Task) -> list[list[Button]]:
    if task.status is not TaskStatus.OPEN:
        return [[_button("details", TaskAction.DETAILS, task)]]
    return [
        [_button("start_fix", TaskAction.START_FIX, task)],
        [
            _button("extension", TaskAction.EXTENSION, task),
            _button("details", TaskAction.DETAILS, task),
        ],
    ]


async def send_to_responsible(ctx: FlowContext, task: Task, heading: str) -> int:
    if task.responsible_person_id is None:
        return 0
    return await ctx.notify(
        task.responsible_person_id,
        "task_card",
        responsible_buttons(task),
        photos=await _before_photos(ctx, task),
        **await card(ctx, task, heading),
    )


async def serious_recipients(ctx: FlowContext, task: Task) -> list[Person]:
    """Who hears of a 严重不合格 at once besides the 责任人: the site's own managers and the
    managers one level up (the region's, or the company's where the site has no region)."""
    site = await _site(ctx, task)
    here = await ctx.tx.roles.held_at(Role.MANAGER, site_id=site.id)
    above = await ctx.tx.roles.held_at(Role.MANAGER, region_id=site.region_id)
    return list({p.id: p for p in [*here, *above]}.values())


async def _send_serious(ctx: FlowContext, task: Task) -> None:
    settings = await ctx.settings_at(await _site(ctx, task))
    heading = render(
        "task_serious_heading", severity=lifecycle.severity_name(settings, task.severity)
    )
    photos = await _before_photos(ctx, task)
    for person in await serious_recipients(ctx, task):
        if person.id in (ctx.person.id, task.responsible_person_id):
            continue
        await ctx.notify(
            person.id,
            "task_card",
            [[_button("details", TaskAction.DETAILS, task)]],
            photos=photos,
            **await card(ctx, task, heading),
        )


async def on_created(ctx: FlowContext, task: Task) -> None:
    """Tell the 责任人 at once (and, for a 严重不合格, the managers: `serious_recipients`); if
    the 责任人 is not bound yet, tell the inspector and managers."""
    await reminding.replan(ctx.tx, task, ctx.now)
    if task.severity is Severity.SERIOUS:
        await _send_serious(ctx, task)
        await group_posts.serious_finding(ctx.tx, task)
    if await send_to_responsible(ctx, task, label("task", "heading_new")):
        return
    name = await _name(ctx, task.responsible_person_id)
    if name is None:
        return
    item = await item_of(ctx, task)
    await ctx.reply(
        "responsible_unbound", name=name, task_id=task.id, admin=ctx.person.is_admin, item=item
    )
    told = {ctx.person.id}
    # Only an administrator is shown the command that creates the invite.
    managers = await ctx.tx.roles.people_with_role(task.site_id, Role.MANAGER)
    for person in [*managers, *await ctx.tx.people.admins()]:
        if person.id not in told:
            told.add(person.id)
            await ctx.notify(
                person.id,
                "responsible_unbound",
                name=name,
                task_id=task.id,
                admin=person.is_admin,
                item=item,
            )


async def deliver_pending(ctx: FlowContext, bound_at: datetime | None = None) -> None:
    """A 责任人 who just bound this chat gets every task waiting for them here. With `bound_at`
    (the chat was bound earlier, e.g. by an admin), tasks created after it are left out:
    their cards already went to this chat when they were created."""
    for task in await ctx.tx.tasks.open_for_person(ctx.person.id):
        if bound_at is None or task.created_at <= bound_at:
            photos = await _before_photos(ctx, task)
            if photos:
                await ctx.reply_photos(photos)
            view = await card(ctx, task, label("task", "heading_pending"))
            await ctx.reply("task_card", responsible_buttons(task), **view)


async def list_tasks(ctx: FlowContext) -> None:
    """/tasks: what concerns each of the person's roles. As 责任人 their open tasks (overdue
    first); as inspector the fixes waiting for their verification (待我复查) and the other open
    tasks of their inspections (我发起的整改); as manager their sites' open tasks."""
    roles = {grant.role for grant in await ctx.tx.roles.for_person(ctx.person.id)}
    own = await ctx.tx.tasks.open_for_person(ctx.person.id)
    created = await ctx.tx.tasks.open_created_by(ctx.person.id)
    managed = await ctx.tx.roles.sites_with_role(ctx.person.id, Role.MANAGER)
    lists: list[tuple[str, list[Task], bool]] = []
    if own or Role.RESPONSIBLE in roles:
        lists.append((label("task", "list_own"), own, False))
    if created or Role.INSPECTOR in roles:
        review = [t for t in created if t.status is TaskStatus.REVIEW]
        others = [t for t in created if t not in review]
        if review:
            lists.append((label("task", "list_review"), review, False))
        if others or not review:
            lists.append((label("task", "list_created"), others, True))
    if managed:
        site_tasks = [t for site in managed for t in await ctx.tx.tasks.open_for_site(site.id)]
        lists.append((label("task", "list_site"), site_tasks, True))
    if not lists:
        lists.append((label("task", "list_own"), own, False))
    items = TaskItems(ctx.tx, ctx.standards_cache)
    for title, tasks, show_responsible in lists:
        rows = []
        for task in tasks:
            site = await _site(ctx, task)
            today = ctx.today(site.timezone)
            item = await items.of(task)
            rows.append(
                {
                    "id": task.id,
                    "site": site.name,
                    "item_no": task.item_no,
                    "content": item.content if item else None,
                    "severity": lifecycle.severity_name(await ctx.settings_at(site), task.severity),
                    "status": await status_label(ctx, task, today),
                    "due": task.due_date.isoformat() if task.due_date else "—",
                    "responsible": await _name(ctx, task.responsible_person_id)
                    if show_responsible
                    else None,
                }
            )
        buttons = [_button("task_number", TaskAction.DETAILS, t, id=t.id) for t in tasks[:30]]
        keyboard = [buttons[i : i + 5] for i in range(0, len(buttons), 5)]
        await ctx.reply("task_list", keyboard, title=title, tasks=rows)


async def press(ctx: FlowContext, parts: list[str]) -> None:
    """K:ACTION:TASK:VERSION[:ARG] — checked against the task's version and the presser."""
    if len(parts) < 3:
        raise payload.PayloadError("a task button names its action, task and version")
    action = actions.find(TaskAction, parts[0])
    task_id, version = payload.as_int(parts[1]), payload.as_int(parts[2])
    arg = parts[3] if len(parts) > 3 else ""
    task = await ctx.tx.tasks.get(task_id)
    if task is None:
        await ctx.toast("stale_button", alert=True)
        return
    actor = task_rules.Actor(ctx.person.id, await _is_manager(ctx, task.site_id, ctx.person.id))
    if action is TaskAction.DETAILS:
        if task_rules.refusal(task_rules.Action.VIEW, task, actor) is not None:
            await ctx.toast("not_allowed", alert=True)
            return
        await ctx.toast()
        await _reply_photos(ctx, task)
        mine = task_rules.may_fix(task, actor)
        buttons = responsible_buttons(task) if mine else await _waiting(ctx, task, actor)
        await ctx.reply("task_card", buttons, **await card(ctx, task, history=True))
        return
    # An extension decision is bound to its request (decided once), not to the task's
    # version: the task may move on (a fix submitted and sent back) while the request waits.
    decisions = (TaskAction.APPROVE_EXTENSION, TaskAction.REJECT_EXTENSION)
    if task.version != version and action not in decisions:
        closed = {TaskStatus.DONE: "task_closed", TaskStatus.WITHDRAWN: "task_withdrawn_button"}
        await ctx.toast(closed.get(task.status, "stale_button"), alert=True)
        return
    handler = HANDLERS.get(action) if action is not None else None
    if action is None or handler is None:
        await ctx.toast("stale_button", alert=True)
        return
    rule, act = handler
    facts = await _facts(ctx, task, action, rule, arg)
    refused = task_rules.refusal(rule, task, actor, **facts)
    if refused is not None:
        await ctx.toast(refused.value, alert=True, task_id=task.id)
        return
    await act(ctx, task, action, arg)


async def _facts(
    ctx: FlowContext, task: Task, action: TaskAction, rule: task_rules.Action, arg: str
) -> dict[str, Any]:
    """What the task rules need to know beyond the task and the presser, for this press."""
    if rule in task_rules.VERIFY_ACTIONS:
        return {"submitted_by": await task_moves.submitted_by(ctx.tx, task)}
    if rule is task_rules.Action.SUBMIT_FIX:
        return {"fix_photos": len(await _after_photos(ctx, task))}
    if rule in task_rules.DECIDE_ACTIONS:
        request = await ctx.tx.tasks.get_extension(payload.as_int(arg))
        waiting = request is not None and request.task_id == task.id
        return {"requested_by": request.requested_by if request and waiting else None}
    if action is TaskAction.EXTENSION:
        requests = await ctx.tx.tasks.extensions(task.id)
        return {"extension_pending": any(e.status is ExtensionStatus.PENDING for e in requests)}
    return {}


def _review_buttons(task: Task) -> list[Button]:
    return [
        _button("approve", TaskAction.APPROVE, task),
        _button("reject", TaskAction.REJECT, task),
    ]


def _extension_buttons(task: Task, request: ExtensionRequest) -> list[Button]:
    return [
        _button("approve_extension", TaskAction.APPROVE_EXTENSION, task, request.id),
        _button("reject_extension", TaskAction.REJECT_EXTENSION, task, request.id),
    ]


async def _waiting(ctx: FlowContext, task: Task, actor: task_rules.Actor) -> list[list[Button]]:
    """The decisions on this task that wait for this person: a fix to verify, an extension
    request to decide (also those that went to nobody because nobody else might decide)."""
    rows: list[list[Button]] = []
    submitter = await task_moves.submitted_by(ctx.tx, task)
    if task.status is TaskStatus.REVIEW and task_rules.may_verify(task, actor, submitter):
        rows.append(_review_buttons(task))
    for request in await ctx.tx.tasks.extensions(task.id):
        if request.status is ExtensionStatus.PENDING and task_rules.may_decide_extension(
            actor, request.requested_by
        ):
            rows.append(_extension_buttons(task, request))
    return rows


async def _reply_photos(ctx: FlowContext, task: Task) -> None:
    """The task's photos: those of the finding, then those of the fix (if any)."""
    before, after_fix = await _before_photos(ctx, task), await _after_photos(ctx, task)
    for after, photos in ((False, before), (True, after_fix)):
        if photos:
            caption = render("task_photos", task_id=task.id, after=after, count=len(photos))
            await ctx.reply_photos(photos, caption)


def _mode(ctx: FlowContext, mode: Mode, task: Task) -> None:
    ctx.next_screen()
    ctx.state.mode, ctx.state.task_id = mode, task.id


def _leave(ctx: FlowContext) -> None:
    ctx.state.leave_task_step()


async def start_fix(ctx: FlowContext, task: Task, action: TaskAction, arg: str) -> None:
    await ctx.toast()
    _mode(ctx, Mode.FIX, task)
    item = await item_of(ctx, task)
    await ctx.reply(
        "fix_start", [[_button("submit_fix", TaskAction.SUBMIT_FIX, task)]], task=task, item=item
    )


async def on_file(ctx: FlowContext, file: StoredFile) -> None:
    task = await _task_in_mode(ctx)
    if task is None or file.sha256 is None:
        await ctx.reply("photo_no_item")
        return
    existing = await ctx.tx.evidence.for_task(task.id, role=EvidenceRole.FIX)
    count = len(existing)
    if all(e.sha256 != file.sha256 for e in existing):
        await ctx.add_photo(file, EvidenceRole.FIX, caption=ctx.event.text or None, task_id=task.id)
        count += 1
    if ctx.event.text:
        await ctx.tx.notes.add(ctx.event.text[:1000], created_by=ctx.person.id, task_id=task.id)
    await ctx.reply(
        "fix_photo_saved", [[_button("submit_fix", TaskAction.SUBMIT_FIX, task)]], count=count
    )


async def _task_in_mode(ctx: FlowContext) -> Task | None:
    """The task of the step the chat is in; a fix or extension step ends once the task is no
    longer 待整改 (it may have moved on from the person's other chat)."""
    task_id = ctx.state.task_id
    mode = ctx.state.mode
    if mode not in TASK_MODES or task_id is None:
        return None
    task = await ctx.tx.tasks.get(task_id)
    if task is not None and mode is not Mode.REJECT_REASON and not task_rules.fix_open(task):
        _leave(ctx)
        return None
    return task


async def _verifiers(ctx: FlowContext, task: Task) -> list[int]:
    """The inspector who found it; the site's managers if the inspector cannot be reached or
    may not verify it (they are its 责任人); never the person who submitted the fix."""
    submitter = await task_moves.submitted_by(ctx.tx, task)
    inspector = await ctx.tx.people.get(task.created_by) if task.created_by else None
    if (
        inspector is not None
        and inspector.active
        and task_rules.may_verify(task, task_rules.Actor(inspector.id, False), submitter)
        and await ctx.tx.identities.for_person(inspector.id)
    ):
        return [inspector.id]
    managers = await ctx.tx.roles.people_with_role(task.site_id, Role.MANAGER)
    return [
        m.id
        for m in managers
        if task_rules.may_verify(task, task_rules.Actor(m.id, True), submitter)
    ]


def _nobody_else(task: Task, site: Site, what: str) -> None:
    """The administrator's hint (the chat only says to ask the administrator)."""
    log.warning(
        "task %s: nobody else may %s; it waits until the site has another manager "
        "(pinjian person add <姓名> --site %s --role manager)",
        task.id,
        what,
        site.name,
    )


async def submit_fix(ctx: FlowContext, task: Task, action: TaskAction, arg: str) -> None:
    after = await _after_photos(ctx, task)
    await ctx.toast()
    updated = await task_moves.transition(
        ctx.tx, task, TaskStatus.REVIEW, task_rules.Actor(ctx.person.id, False)
    )
    await reminding.replan(ctx.tx, updated, ctx.now)
    _leave(ctx)
    notes = plain(
        "common", "semicolons", items=[n.text for n in await ctx.tx.notes.for_task(task.id)]
    )
    item = await item_of(ctx, updated)
    verifiers = await _verifiers(ctx, updated)
    before = await _before_photos(ctx, updated)
    view: dict[str, Any] = {
        "task": updated,
        "site": (await _site(ctx, updated)).name,
        "responsible": ctx.person.name,
        "item": item,
        "notes": notes,
        "before": len(before),
        "after": len(after),
        "flags": await photo_flags(ctx, updated),
    }
    if not verifiers:
        _nobody_else(updated, await _site(ctx, updated), "verify the fix")
        await ctx.reply("fix_waiting", task_id=task.id)
        return
    albums = [
        (render("photo_album", after=False, count=len(before)), before),
        (render("photo_album", after=True, count=len(after)), after),
    ]
    earlier = {e.id: e for _, e in await reused(ctx, updated)}
    matched = await renditions.stamped(ctx.tx, list(earlier.values()))
    if matched:
        albums.append((render("photo_album_reused", count=len(matched)), matched))
    for person_id in verifiers:
        await ctx.notify(
            person_id, "review_request", [_review_buttons(updated)], albums=albums, **view
        )
    names = [await _name(ctx, p) for p in verifiers]
    verifier = plain("common", "enumeration", items=[n for n in names if n])
    await ctx.reply("fix_submitted", task_id=task.id, verifier=verifier, item=item)


async def approve(ctx: FlowContext, task: Task, action: TaskAction, arg: str) -> None:
    actor = task_rules.Actor(ctx.person.id, await _is_manager(ctx, task.site_id, ctx.person.id))
    await ctx.toast()
    done = await task_moves.transition(ctx.tx, task, TaskStatus.DONE, actor)
    await reminding.replan(ctx.tx, done, ctx.now)
    item = await item_of(ctx, done)
    await ctx.reply("task_approved_ack", task_id=task.id, item=item)
    if done.responsible_person_id is not None:
        await ctx.notify(
            done.responsible_person_id,
            "task_approved",
            task_id=task.id,
            verifier=ctx.person.name,
            item=item,
        )


async def ask_reject_reason(ctx: FlowContext, task: Task, action: TaskAction, arg: str) -> None:
    await ctx.toast()
    _mode(ctx, Mode.REJECT_REASON, task)
    ctx.state.task_version = task.version
    await ctx.reply("ask_reject_reason", task_id=task.id, item=await item_of(ctx, task))


async def start_extension(ctx: FlowContext, task: Task, action: TaskAction, arg: str) -> None:
    await ctx.toast()
    _mode(ctx, Mode.EXT_DATE, task)
    buttons = [
        [
            _button("extension_days", TaskAction.EXTENSION_DAYS, task, d, days=d)
            for d in EXTENSION_DAYS
        ]
    ]
    due = task.due_date.isoformat() if task.due_date else "—"
    await ctx.reply("ext_ask_date", buttons, task=task, due=due, item=await item_of(ctx, task))


async def _extension_base(ctx: FlowContext, task: Task) -> date:
    """The date +N天 counts from: the current 达标时间, or today once that has passed."""
    return max(task.due_date or ctx.today(), ctx.today((await _site(ctx, task)).timezone))


async def extension_days(ctx: FlowContext, task: Task, action: TaskAction, arg: str) -> None:
    """A +N天 button, or the button confirming a date proposed for a typed one."""
    days = payload.as_int(arg)
    due = await _extension_base(ctx, task) + timedelta(days=days)
    offered = due == ctx.state.ext_offer
    if not (days in EXTENSION_DAYS or offered) or ctx.state.mode is not Mode.EXT_DATE:
        await ctx.toast("stale_button", alert=True)
        return
    await ctx.toast()
    await _ask_extension_reason(ctx, task, due)


async def _ask_extension_reason(ctx: FlowContext, task: Task, due: date) -> None:
    _mode(ctx, Mode.EXT_REASON, task)
    ctx.state.ext_due = due
    await ctx.reply("ext_ask_reason", due=due.isoformat())


async def decide_extension(ctx: FlowContext, task: Task, action: TaskAction, arg: str) -> None:
    request_id = payload.as_int(arg)
    try:
        request, updated = await ctx.tx.tasks.decide_extension(
            request_id, approve=action is TaskAction.APPROVE_EXTENSION, decided_by=ctx.person.id
        )
    except StateConflict:
        await ctx.toast("stale_button", alert=True)
        return
    await ctx.toast()
    approved = action is TaskAction.APPROVE_EXTENSION
    if approved:
        await reminding.replan(ctx.tx, updated, ctx.now)
    due = updated.due_date.isoformat() if updated.due_date else "—"
    item = await item_of(ctx, updated)
    await ctx.reply("ext_decided_ack", approved=approved, task_id=task.id, item=item)
    template = "ext_approved" if approved else "ext_rejected"
    await ctx.notify(
        request.requested_by,
        template,
        manager=ctx.person.name,
        task_id=task.id,
        due=due,
        item=item,
    )
    if approved:
        await send_to_responsible(ctx, updated, label("task", "heading_due_changed"))


async def on_text(ctx: FlowContext, text: str) -> bool:
    """Typed text in a task step; False if the conversation is not in one."""
    task = await _task_in_mode(ctx)
    if task is None:
        return False
    mode = ctx.state.mode
    if mode is Mode.FIX:
        await ctx.tx.notes.add(text[:1000], created_by=ctx.person.id, task_id=task.id)
        await ctx.reply("fix_note_saved", [[_button("submit_fix", TaskAction.SUBMIT_FIX, task)]])
    elif mode is Mode.REJECT_REASON and not text.strip():
        await ctx.reply("ask_reject_reason", task_id=task.id, item=await item_of(ctx, task))
    elif mode is Mode.REJECT_REASON:
        await _reject(ctx, task, text.strip()[:500])
    elif mode is Mode.EXT_DATE:
        site = await _site(ctx, task)
        try:
            due = parse_due_date(text, ctx.today(site.timezone))
        except DateError as exc:
            await _refuse_extension_date(ctx, task, exc)
            return True
        await _ask_extension_reason(ctx, task, due)
    elif mode is Mode.EXT_REASON:
        await _request_extension(ctx, task, text.strip()[:500])
    return True


async def _refuse_extension_date(ctx: FlowContext, task: Task, problem: DateError) -> None:
    """Say why the date cannot be taken; offer the date the person may have meant."""
    buttons: list[list[Button]] = []
    days = (problem.proposed - await _extension_base(ctx, task)).days if problem.proposed else 0
    if problem.proposed is not None and days > 0:
        ctx.state.ext_offer = problem.proposed
        offer = problem.proposed.isoformat()
        buttons.append([_button("confirm_date", TaskAction.EXTENSION_DAYS, task, days, date=offer)])
    await ctx.reply(problem.template, buttons, **problem.values)


async def _reject(ctx: FlowContext, task: Task, reason: str) -> None:
    if task.status is not TaskStatus.REVIEW or task.version != ctx.state.task_version:
        _leave(ctx)
        await ctx.reply("stale_button")
        return
    actor = task_rules.Actor(ctx.person.id, await _is_manager(ctx, task.site_id, ctx.person.id))
    reopened = await task_moves.transition(ctx.tx, task, TaskStatus.OPEN, actor, reason)
    await reminding.replan(ctx.tx, reopened, ctx.now)
    _leave(ctx)
    item = await item_of(ctx, reopened)
    await ctx.reply("task_rejected_ack", task_id=task.id, item=item)
    if reopened.responsible_person_id is not None:
        await ctx.notify(
            reopened.responsible_person_id,
            "task_rejected",
            responsible_buttons(reopened),
            task_id=task.id,
            verifier=ctx.person.name,
            reason=reason,
            item=item,
        )


async def _request_extension(ctx: FlowContext, task: Task, reason: str) -> None:
    due = ctx.state.ext_due
    assert due is not None  # set with the mode that asks for the reason
    _leave(ctx)
    try:
        request = await ctx.tx.tasks.request_extension(task.id, ctx.person.id, due, reason=reason)
    except StateConflict:
        await ctx.reply("ext_pending", task_id=task.id)
        return
    managers = [
        m
        for m in await ctx.tx.roles.people_with_role(task.site_id, Role.MANAGER)
        if task_rules.may_decide_extension(task_rules.Actor(m.id, True), request.requested_by)
    ]
    if not managers:
        _nobody_else(task, await _site(ctx, task), "decide the extension request")
        await ctx.reply("ext_waiting", task_id=task.id, due=due.isoformat())
        return
    item = await item_of(ctx, task)
    view: dict[str, Any] = {
        "task": task,
        "site": (await _site(ctx, task)).name,
        "responsible": ctx.person.name,
        "item": item,
        "level": lifecycle.level_of(task, item),
        "old_due": task.due_date.isoformat() if task.due_date else "—",
        "new_due": due.isoformat(),
        "reason": reason,
    }
    for manager in managers:
        await ctx.notify(manager.id, "ext_request", [_extension_buttons(task, request)], **view)
    await ctx.reply("ext_requested", task_id=task.id, due=due.isoformat(), item=item)


Handler = Callable[[FlowContext, Task, TaskAction, str], Awaitable[None]]
HANDLERS: dict[TaskAction, tuple[task_rules.Action, Handler]] = {
    TaskAction.START_FIX: (task_rules.Action.START_FIX, start_fix),
    TaskAction.SUBMIT_FIX: (task_rules.Action.SUBMIT_FIX, submit_fix),
    TaskAction.APPROVE: (task_rules.Action.APPROVE, approve),
    TaskAction.REJECT: (task_rules.Action.REJECT, ask_reject_reason),
    TaskAction.EXTENSION: (task_rules.Action.REQUEST_EXTENSION, start_extension),
    TaskAction.EXTENSION_DAYS: (task_rules.Action.REQUEST_EXTENSION, extension_days),
    TaskAction.APPROVE_EXTENSION: (task_rules.Action.APPROVE_EXTENSION, decide_extension),
    TaskAction.REJECT_EXTENSION: (task_rules.Action.REJECT_EXTENSION, decide_extension),
}
"""Each task button's action: the rule that decides whether a press is allowed, and its step."""
