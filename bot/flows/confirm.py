"""项目确认: the site's managers confirm a submitted result or appeal single findings.

At submission the site's own managers (site level) get one entry per finding, each with
[申诉], and the result with [全部确认]. An appeal asks for a reason (text; photos first if
any) while the window is open (`bot.core.confirmation`) and goes to the deciders
(`bot.flows.appeals`). Buttons carry what they act on, not a screen
(`A:OK:INSPECTION`, `A:AP:INSPECTION:ITEM`): they stay valid until what they ask is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.core import actions, confirmation, payload
from bot.core.actions import Action, ConfirmAction
from bot.core.buttons import button
from bot.core.conversation import Mode
from bot.core.dates import shown
from bot.core.events import StoredFile
from bot.core.messages import Button
from bot.core.scoring import Totals
from bot.core.texts import plain
from bot.flows import appeals, notify
from bot.flows.context import FlowContext
from bot.flows.inspection_view import item_counts
from standards.pinned import pinned
from storage.errors import StateConflict
from storage.records import (
    Confirmation,
    ConfirmHow,
    EvidenceRole,
    Identity,
    Inspection,
    Person,
    Role,
    Site,
)

if TYPE_CHECKING:
    from bot.flows.inspection_view import Loaded

MODES = frozenset({Mode.APPEAL_REASON})
MAX_REASON = 1000


def _button(key: str, action: ConfirmAction, *args: int, **values: object) -> Button:
    """A 项目确认 button labelled with the macro `key` of labels/buttons.j2."""
    return button(key, payload.encode(Action.CONFIRMATION, action, *args), **values)


def findings(loaded: Loaded) -> list[int]:
    """The items that lost points (不适用 and full marks are no findings)."""
    return [
        item.no
        for item in loaded.standard.items
        if (answer := loaded.answers.get(item.no)) is not None
        and not answer.not_applicable
        and answer.score is not None
        and answer.score < item.max_score
    ]


async def site_managers(ctx: FlowContext, site: Site) -> list[Person]:
    """The 项目经理 of the site itself (site level)."""
    return await ctx.tx.roles.held_at(Role.MANAGER, site_id=site.id)


def deadline_text(when: Confirmation, site: Site) -> str:
    """The last moment of the window, as people say it (the last day, 24:00)."""
    return plain("confirm", "deadline", when=shown(when.deadline, site.timezone), site=site.name)


@dataclass(frozen=True)
class Window:
    """The site's window just opened (待确认), with its managers, who are asked to confirm."""

    confirmation: Confirmation
    managers: list[Person]
    view: dict[str, Any]
    """What the result summary says of it."""


async def open_window(ctx: FlowContext, loaded: Loaded) -> Window:
    """Open the site's window (待确认)."""
    site = loaded.site
    settings = await ctx.settings_at(site)
    deadline, remind_at = confirmation.window(
        ctx.now, site.timezone, settings.appeal_window_days, settings.holidays
    )
    when = await ctx.tx.confirmations.open(
        loaded.inspection.id, site.id, deadline=deadline, remind_at=remind_at
    )
    managers = await site_managers(ctx, site)
    view = {
        "status": when.status.label,
        "deadline": deadline_text(when, site),
        "managers": plain(
            "common", "enumeration", items=[m.name for m in managers if m.id != ctx.person.id]
        ),
    }
    return Window(when, managers, view)


async def send_for_confirmation(
    ctx: FlowContext,
    loaded: Loaded,
    window: Window,
    result: Totals,
    chats: dict[int, list[Identity]],
) -> None:
    """The site's managers get each finding with [申诉] and the result (`result`, as
    scored at completion) with [全部确认], all of a manager's in one statement. Their chats
    are among those of every manager the site has (`chats`,
    :func:`bot.flows.summaries.manager_chats`)."""
    site = loaded.site
    lost = findings(loaded)
    photos, notes = await item_counts(ctx, loaded)
    written = await _notes_of(ctx, loaded, [no for no in lost if notes.get(no)])
    due = deadline_text(window.confirmation, site)
    messages = [
        notify.message(
            "confirm_finding",
            [[_button("appeal", ConfirmAction.APPEAL, loaded.inspection.id, no, no=no)]],
            site=site.name,
            no=no,
            content=loaded.standard.item(no).content,
            score=loaded.answers[no].score,
            max_score=loaded.standard.item(no).max_score,
            label=loaded.answers[no].level_label or "",
            note=written.get(no, ""),
            photo_count=photos.get(no, 0),
            deadline=due,
        )
        for no in lost
    ]
    messages.append(
        notify.message(
            "confirm_request",
            [[_button("confirm_all", ConfirmAction.CONFIRM_ALL, loaded.inspection.id)]],
            site=site.name,
            title=loaded.standard.title,
            inspector=ctx.person.name,
            submitted=shown(ctx.now, site.timezone),
            totals=result,
            findings=len(lost),
            deadline=due,
        )
    )
    for manager in window.managers:
        if manager.id != ctx.person.id:
            notify.in_chats(ctx.tx, manager.id, chats[manager.id], messages)


async def _notes_of(ctx: FlowContext, loaded: Loaded, numbers: list[int]) -> dict[int, str]:
    """The notes of the items `numbers`, joined per item (one read for all of them)."""
    if not numbers:
        return {}
    by_item: dict[int, list[str]] = {}
    for note in await ctx.tx.notes.for_inspection(loaded.inspection.id):
        if note.item_no in numbers:
            by_item.setdefault(note.item_no, []).append(note.text)
    return {no: plain("common", "semicolons", items=texts) for no, texts in by_item.items()}


async def press(ctx: FlowContext, parts: list[str]) -> None:
    """A:ACTION:…: the site's side (OK, AP) here, the deciders' side in `appeals`."""
    if not parts:
        raise payload.PayloadError("a confirmation button names its action")
    action, args = actions.find(ConfirmAction, parts[0]), parts[1:]
    if action is None:
        raise payload.PayloadError("not a confirmation button")
    if action is ConfirmAction.CONFIRM_ALL:
        await confirm_all(ctx, payload.as_int(args[0]))
    elif action is ConfirmAction.APPEAL:
        await start_appeal(ctx, payload.as_int(args[0]), payload.as_int(args[1]))
    else:
        await appeals.press(ctx, action, args)


async def _site_side(
    ctx: FlowContext, inspection_id: int
) -> tuple[Inspection, Site, Confirmation] | None:
    """The inspection, its site and confirmation, if the presser is one of the site's
    managers; else the press is refused."""
    inspection = await ctx.tx.inspections.get(inspection_id)
    when = await ctx.tx.confirmations.get(inspection_id)
    site = await ctx.tx.sites.get(inspection.site_id) if inspection else None
    if inspection is None or when is None or site is None:
        await ctx.toast("stale_button", alert=True)
        return None
    if ctx.person.id not in {p.id for p in await site_managers(ctx, site)}:
        await ctx.toast("not_allowed", alert=True)
        return None
    return inspection, site, when


async def confirm_all(ctx: FlowContext, inspection_id: int) -> None:
    found = await _site_side(ctx, inspection_id)
    if found is None:
        return
    inspection, site, _ = found
    signed = await ctx.tx.confirmations.sign(
        inspection_id, ConfirmHow.CONFIRMED, by=ctx.person.id, at=ctx.now
    )
    if signed is None:
        await ctx.toast("confirm_closed", alert=True, signed=True)
        return
    await ctx.toast()
    open_appeals = sum(
        1 for a in await ctx.tx.confirmations.appeals(inspection_id) if a.decision is None
    )
    await ctx.reply(
        "confirm_done", site=site.name, inspection_id=inspection_id, open_appeals=open_appeals
    )
    told = {ctx.person.id}
    for person_id in [inspection.inspector_id, *(p.id for p in await site_managers(ctx, site))]:
        if person_id not in told:
            told.add(person_id)
            await ctx.notify(person_id, "confirm_signed", **signed_view(signed, site, ctx.person))


def signed_view(when: Confirmation, site: Site, by: Person | None) -> dict[str, Any]:
    assert when.confirmed_at is not None
    return {
        "site": site.name,
        "inspection_id": when.inspection_id,
        "auto": when.how is ConfirmHow.AUTO,
        "by": by.name if by else "",
        "at": shown(when.confirmed_at, site.timezone),
        "status": when.status.label,
    }


async def start_appeal(ctx: FlowContext, inspection_id: int, item_no: int) -> None:
    found = await _site_side(ctx, inspection_id)
    if found is None:
        return
    inspection, site, when = found
    if when.how is not None or ctx.now >= when.deadline:
        await ctx.toast("confirm_closed", alert=True, signed=when.how is not None)
        return
    answer = await ctx.tx.answers.get(inspection_id, item_no)
    stored = await ctx.stored_standard(inspection.standard_id)
    assert stored is not None
    item = pinned(stored).item(item_no)
    if (
        answer is None
        or answer.not_applicable
        or answer.score is None
        or answer.score >= item.max_score
    ):
        await ctx.toast("stale_button", alert=True)
        return
    if any(a.item_no == item_no for a in await ctx.tx.confirmations.appeals(inspection_id)):
        await ctx.toast("appeal_exists", alert=True, no=item_no)
        return
    await ctx.toast()
    ctx.next_screen()
    ctx.state.mode = Mode.APPEAL_REASON
    ctx.state.appeal_insp, ctx.state.appeal_item = inspection_id, item_no
    ctx.state.appeal_photos = 0
    await ctx.reply("appeal_ask_reason", site=site.name, no=item_no, content=item.content)


async def on_file(ctx: FlowContext, file: StoredFile) -> None:
    """A photo before the reason: kept as the appeal's evidence (申诉材料)."""
    inspection_id, item_no = ctx.state.appeal_insp, ctx.state.appeal_item
    if inspection_id is None or item_no is None or not file.sha256:
        await ctx.reply("photo_no_item")
        return
    await ctx.add_photo(file, EvidenceRole.APPEAL, inspection_id=inspection_id, item_no=item_no)
    count = ctx.state.appeal_photos + 1
    ctx.state.appeal_photos = count
    await ctx.reply("appeal_photo_saved", count=count)


def _leave(ctx: FlowContext) -> None:
    ctx.state.leave_appeal()


async def on_text(ctx: FlowContext, text: str) -> bool:
    """The appeal's reason: files the appeal. False if the conversation is not in it."""
    inspection_id, item_no = ctx.state.appeal_insp, ctx.state.appeal_item
    if inspection_id is None or item_no is None:
        return False
    reason = text.strip()
    if not reason or len(reason) > MAX_REASON:
        await ctx.reply("appeal_reason_bad", too_long=bool(reason), limit=MAX_REASON)
        return True
    inspection = await ctx.tx.inspections.get(inspection_id)
    when = await ctx.tx.confirmations.get(inspection_id)
    if inspection is None or when is None:
        _leave(ctx)
        return False
    if when.how is not None or ctx.now >= when.deadline:
        _leave(ctx)
        await ctx.reply("confirm_closed", signed=when.how is not None)
        return True
    answer = await ctx.tx.answers.get(inspection_id, item_no)
    try:
        appeal = await ctx.tx.confirmations.file_appeal(
            inspection_id,
            item_no,
            reason=reason,
            filed_by=ctx.person.id,
            score_before=answer.score if answer else None,
        )
    except StateConflict:
        _leave(ctx)
        await ctx.reply("appeal_exists", no=item_no)
        return True
    photos = ctx.state.appeal_photos
    _leave(ctx)
    deciders = await appeals.on_filed(ctx, inspection, appeal)
    await ctx.reply(
        "appeal_filed",
        no=item_no,
        photos=photos,
        deciders=plain("common", "enumeration", items=[p.name for p in deciders]),
    )
    return True
