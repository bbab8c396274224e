"""Section summaries and the completion summary of an inspection.

The inspector gets both here; managers' copies hang off `notify_managers`. At completion both
also get the report files, queued as outbox rows that the outbox worker renders after commit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.core.dates import shown
from bot.core.messages import Outgoing
from bot.core.report_request import ReportFormat, new_request, report_request
from bot.core.scoring import Mark, Totals, section_total, totals
from bot.core.texts import label, plain, render
from bot.flows import group_posts, notify
from bot.flows.context import FlowContext
from bot.flows.inspection_view import item_counts
from standards.pinned import pinned
from standards.schema import Item, Section
from storage.db import Tx
from storage.records import Channel, Identity, OutboxKind, Role, TaskStatus

if TYPE_CHECKING:
    from bot.flows.inspection_view import Loaded

REPORT_FILES = (
    (ReportFormat.PNG, OutboxKind.SEND_PHOTO),
    (ReportFormat.XLSX, OutboxKind.SEND_DOCUMENT),
    (ReportFormat.PDF, OutboxKind.SEND_DOCUMENT),
)


async def _task_rows(ctx: FlowContext, loaded: Loaded, numbers: set[int]) -> list[dict[str, Any]]:
    """The tasks of the items `numbers`, by item (an item's newest task; withdrawn ones are
    no findings)."""
    by_item = {
        task.item_no: task
        for task in await ctx.tx.tasks.for_inspection(loaded.inspection.id)
        if task.item_no is not None
        and task.item_no in numbers
        and task.status is not TaskStatus.WITHDRAWN
    }
    named = {t.responsible_person_id for t in by_item.values() if t.responsible_person_id}
    names = {p.id: p.name for p in await ctx.tx.people.get_many(named)} if named else {}
    return [
        {
            "id": task.id,
            "item_no": no,
            "content": loaded.standard.item(no).content,
            "responsible": names.get(task.responsible_person_id)
            if task.responsible_person_id
            else None,
            "due": task.due_date.isoformat() if task.due_date else "—",
        }
        for no, task in sorted(by_item.items())
    ]


async def section_view(ctx: FlowContext, loaded: Loaded, section: Section) -> dict[str, Any]:
    total = section_total(section, loaded.marks)
    photos, _ = await item_counts(ctx, loaded)
    lost = []
    for no in total.lost:
        item = loaded.standard.item(no)
        answer = loaded.answers[no]
        notes = await ctx.tx.notes.for_item(loaded.inspection.id, no)
        lost.append(
            {
                "no": no,
                "content": item.content,
                "score": answer.score,
                "label": answer.level_label,
                "note": plain("common", "semicolons", items=[n.text for n in notes]),
                "photos": photos.get(no, 0),
            }
        )
    return {
        "section": total,
        "site": loaded.site.name,
        "inspector": ctx.person.name,
        "lost": lost,
        "tasks": await _task_rows(ctx, loaded, {i.no for i in section.items}),
    }


async def section_if_complete(ctx: FlowContext, loaded: Loaded, item: Item) -> None:
    """Send the section summary once, when the answer just completed its section."""
    section = loaded.standard.section_of(item.no)
    if any(loaded.needs_work(i) for i in section.items):
        return
    if not await ctx.tx.inspections.first_section_summary(loaded.inspection.id, section.code):
        return
    view = await section_view(ctx, loaded, section)
    await ctx.reply("section_summary", **view)
    if await managers_want_sections(ctx, loaded):
        await notify_managers(ctx, "section_summary", view, await manager_chats(ctx, loaded))


async def managers_want_sections(ctx: FlowContext, loaded: Loaded) -> bool:
    """Setting `manager_summaries`: "section" (default) sends managers every section summary,
    "final" only the result; a site's own setting overrides the company's."""
    return (await ctx.settings_at(loaded.site)).manager_summaries != "final"


async def manager_chats(ctx: FlowContext, loaded: Loaded) -> dict[int, list[Identity]]:
    """The chats of the site's managers, by manager (the inspector's own are left out: the
    inspector is not sent a second copy)."""
    return {
        manager.id: await ctx.tx.identities.for_person(manager.id)
        for manager in await ctx.tx.roles.people_with_role(loaded.site.id, Role.MANAGER)
        if manager.id != ctx.person.id
    }


async def notify_managers(
    ctx: FlowContext, template: str, view: dict[str, Any], chats: dict[int, list[Identity]]
) -> None:
    """The site's managers (`chats`, :func:`manager_chats`) get the same summary."""
    message = notify.message(template, **view)
    for manager_id, identities in chats.items():
        notify.in_chats(ctx.tx, manager_id, identities, [message])


async def complete(
    ctx: FlowContext,
    loaded: Loaded,
    confirmation: dict[str, Any],
    chats: dict[int, list[Identity]],
) -> Totals:
    """The result to the inspector and the site's managers (`chats`, :func:`manager_chats`),
    with its status (`confirmation`: 待确认 until when, from `bot.flows.confirm.open_window`),
    then the report files; returns the result."""
    bands = (await ctx.settings_at(loaded.site)).grade_bands
    result = totals(loaded.standard, loaded.marks, bands)
    completed = await ctx.tx.inspections.complete(
        loaded.inspection.id, score=result.score, max_score=result.applicable_max
    )
    before = await previous_percents(ctx, loaded)
    finished = shown(ctx.now, loaded.site.timezone)
    view: dict[str, Any] = {
        "site": loaded.site.name,
        "title": loaded.standard.title,
        "inspector": ctx.person.name,
        "finished": finished,
        "totals": result,
        "not_applicable": sum(1 for a in loaded.answers.values() if a.not_applicable),
        "tasks": await _task_rows(ctx, loaded, loaded.task_items),
        "changes": {s.code: change(s.percent, before.get(s.code)) for s in result.sections},
        "total_change": change(result.percent, before.get("")),
        "confirmation": confirmation,
    }
    await ctx.reply("completion", **view)
    await notify_managers(ctx, "completion", view, chats)
    asked = await send_report_files(ctx, loaded, chats)
    await group_posts.inspection_result(
        ctx.tx, loaded.site, completed, loaded.standard.title, asked=asked
    )
    return result


async def previous_percents(ctx: FlowContext, loaded: Loaded) -> dict[str, float | None]:
    """Per section code (and "" for the total) the percentages of this site's previous
    completed inspection of the same standard, each scored against its own pinned version."""
    history = await ctx.tx.inspections.latest_completed(
        loaded.site.id, loaded.inspection.std_id, limit=2
    )
    previous = next((i for i in history if i.id != loaded.inspection.id), None)
    stored = await ctx.stored_standard(previous.standard_id) if previous else None
    if previous is None or stored is None:
        return {}
    marks = {
        a.item_no: Mark(score=a.score, not_applicable=a.not_applicable)
        for a in await ctx.tx.answers.marks(previous.id)
    }
    bands = (await ctx.settings_at(loaded.site)).grade_bands
    earlier = totals(pinned(stored), marks, bands)
    return {"": earlier.percent, **{s.code: s.percent for s in earlier.sections}}


def change(now: float | None, before: float | None) -> str:
    """'↑ 5.0 个百分点' / '↓ 2.5 个百分点' / '→ 持平': the score rate against the previous
    inspection; '' when there is none."""
    if now is None or before is None:
        return ""
    delta = now - before
    if abs(delta) < 0.05:
        return label("scores", "unchanged_arrow")
    return plain("scores", "change", delta=delta)


async def send_report_files(
    ctx: FlowContext, loaded: Loaded, managers: dict[int, list[Identity]]
) -> str:
    """The chart, the Excel and the PDF report to the inspector's chat and to every chat of the
    site's managers (:func:`manager_chats`). Only requests are queued: rendering takes seconds
    and must not hold this transaction, so the outbox worker renders each file once, after
    commit (bot.reports). Returns the request's token (`queue_report_files`)."""
    chats: list[tuple[Channel, str, int]] = [(ctx.channel, ctx.event.chat_id, ctx.person.id)]
    for manager_id, identities in managers.items():
        for identity in identities:
            if identity.chat_id is not None:
                chats.append((identity.channel, identity.chat_id, manager_id))
    return queue_report_files(
        ctx.tx, chats, loaded.inspection.id, loaded.site.name, loaded.standard.title
    )


def queue_report_files(
    tx: Tx, chats: list[tuple[Channel, str, int]], inspection_id: int, site: str, title: str
) -> str:
    """The report files to each of `chats`, as rows of one request: they carry one token
    (returned), so the outbox worker reads the report's model once for all of them."""
    asked = new_request()
    for fmt, kind in REPORT_FILES:
        text = render("report_file", format=fmt.value, site=site, title=title)
        request = report_request(inspection_id, fmt, asked)
        payload = Outgoing(kind=kind, text=text).to_payload() | request
        for channel, chat_id, person in chats:
            tx.outbox.add(channel, chat_id, kind, payload, person_id=person)
    return asked
