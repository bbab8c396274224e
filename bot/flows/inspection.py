"""The inspector's conversation: choose site and standard, answer items, navigate, pause, submit."""

from __future__ import annotations

from bot.core import payload
from bot.core.actions import Action
from bot.core.buttons import button
from bot.core.conversation import Mode
from bot.core.messages import Button
from bot.core.texts import label
from bot.flows import confirm, plans, summaries, task_follow, task_setup
from bot.flows.context import FlowContext
from bot.flows.inspection_view import Loaded, close_item_message, load, show_item
from standards.schema import Item
from storage.records import InspectionStatus, Role

UNFINISHED = (InspectionStatus.IN_PROGRESS, InspectionStatus.PAUSED)


async def start(ctx: FlowContext) -> None:
    """/inspect: offer unfinished inspections first, then the sites to inspect."""
    unfinished = await ctx.tx.inspections.open_for_inspector(ctx.person.id)
    if unfinished:
        await offer_resume(ctx, include_new=True)
        return
    await choose_site(ctx)


async def choose_site(ctx: FlowContext) -> None:
    sites = await ctx.tx.roles.sites_with_role(ctx.person.id, Role.INSPECTOR)
    if not sites:
        ctx.state.mode = Mode.IDLE
        await ctx.reply("no_sites")
        return
    screen = ctx.next_screen()
    ctx.state.mode = Mode.CHOOSE_SITE
    buttons = [[Button(site.name, payload.encode(Action.SITE, screen, site.id))] for site in sites]
    await ctx.reply("choose_site", buttons)


async def on_site(ctx: FlowContext, site_id: int) -> None:
    sites = await ctx.tx.roles.sites_with_role(ctx.person.id, Role.INSPECTOR)
    site = next((s for s in sites if s.id == site_id), None)
    if site is None:
        await ctx.toast("not_allowed", alert=True)
        return
    await ctx.toast()
    standards = ctx.catalog.available()
    if len(standards) == 1:
        await begin(ctx, site.id, standards[0].id)
        return
    screen = ctx.next_screen()
    ctx.state.mode, ctx.state.site = Mode.CHOOSE_STANDARD, site.id
    buttons = [
        [Button(std.title, payload.encode(Action.STANDARD, screen, site.id, index))]
        for index, std in enumerate(standards)
    ]
    await ctx.reply("choose_standard", buttons, site=site.name)


async def on_standard(ctx: FlowContext, site_id: int, index: int) -> None:
    standards = ctx.catalog.available()
    if ctx.state.site != site_id or not 0 <= index < len(standards):
        await ctx.toast("stale_button", alert=True)
        return
    await ctx.toast()
    await begin(ctx, site_id, standards[index].id)


async def begin(
    ctx: FlowContext,
    site_id: int,
    std_id: str,
    occurrence_id: int | None = None,
    *,
    matched: bool = False,
) -> None:
    """Create the inspection pinned to the current version of the standard; show the overview.

    The inspection fulfils the plan occurrence `occurrence_id`; unless `matched` (the
    occurrence, or none, was already chosen), the one occurrence it could fulfil, or the
    inspector is asked which when several could."""
    standard = ctx.catalog.get(std_id)
    site = await ctx.tx.sites.get(site_id)
    if standard is None or site is None:
        await ctx.reply("stale_button")
        return
    if not matched:
        candidates = await ctx.tx.occurrences.candidates(site_id, std_id, ctx.person.id, ctx.now)
        if len(candidates) > 1:
            await plans.ask_which(ctx, site_id, std_id, candidates)
            return
        occurrence_id = candidates[0].id if candidates else None
    stored = await ctx.tx.standards.ensure(
        std_id=standard.id,
        version=standard.version,
        title=standard.title,
        content_hash=standard.content_hash(),
        snapshot=standard.to_json_dict(),
    )
    inspection = await ctx.tx.inspections.start(
        site.id, stored.id, ctx.person.id, channel=ctx.channel
    )
    if occurrence_id is not None:
        await ctx.tx.occurrences.take_up(occurrence_id, inspection.id)
    await ctx.reply("overview", standard=standard, site=site.name, inspector=ctx.person.name)
    loaded = await load(ctx, inspection.id)
    if loaded is not None:
        await show_item(ctx, loaded, standard.items[0])


async def offer_resume(ctx: FlowContext, include_new: bool = False) -> None:
    unfinished = await ctx.tx.inspections.open_for_inspector(ctx.person.id)
    if not unfinished:
        ctx.state.mode = Mode.IDLE
        await ctx.reply("nothing_to_resume")
        return
    screen = ctx.next_screen()
    ctx.state.mode = Mode.RESUME
    rows: list[list[Button]] = []
    for inspection in unfinished:
        loaded = await load(ctx, inspection.id)
        if loaded is None:
            continue
        code = payload.encode(Action.RESUME, screen, inspection.id)
        done, total = len(loaded.answers), len(loaded.standard.items)
        rows.append([button("resume", code, site=loaded.site.name, done=done, total=total)])
    if include_new:
        rows.append([button("new_inspection", payload.encode(Action.NEW_INSPECTION, screen))])
    await ctx.reply("resume_list", rows, count=len(unfinished))


async def resume(ctx: FlowContext, inspection_id: int) -> None:
    loaded = await load(ctx, inspection_id)
    if loaded is None or loaded.inspection.status not in UNFINISHED:
        await ctx.toast("inspection_closed", alert=True)
        return
    await ctx.toast()
    if loaded.inspection.status is InspectionStatus.PAUSED:
        await ctx.tx.inspections.resume(inspection_id, channel=ctx.channel)
    await continue_at_pending(ctx, loaded, after=0)


async def continue_at_pending(ctx: FlowContext, loaded: Loaded, after: int) -> None:
    """Show the next item that needs work, the pending task set-up, or the submit screen."""
    item = loaded.next_pending(after)
    if item is None:
        await ask_submit(ctx, loaded)
        return
    answer = loaded.answers.get(item.no)
    if answer is not None:
        await task_setup.open_for(ctx, loaded, item, answer.score or 0, answer.level_label or "")
        return
    await show_item(ctx, loaded, item)


async def pause(ctx: FlowContext) -> None:
    await ctx.toast()
    inspection_id = ctx.state.insp
    loaded = await load(ctx, inspection_id) if inspection_id is not None else None
    if loaded is None or loaded.inspection.status is not InspectionStatus.IN_PROGRESS:
        unfinished = await ctx.tx.inspections.open_for_inspector(ctx.person.id)
        running = [i for i in unfinished if i.status is InspectionStatus.IN_PROGRESS]
        loaded = await load(ctx, running[0].id) if running else None
    if loaded is None:
        await ctx.reply("nothing_to_pause")
        return
    item_no = ctx.state.no
    if item_no is not None and ctx.state.mode is Mode.ITEM:
        await close_item_message(ctx, loaded, loaded.standard.item(item_no))
    await ctx.tx.inspections.pause(loaded.inspection.id)
    ctx.next_screen()
    ctx.state.pause_inspection()
    await ctx.reply(
        "paused",
        site=loaded.site.name,
        title=loaded.standard.title,
        answered=len(loaded.answers),
        total=len(loaded.standard.items),
    )


async def status(ctx: FlowContext) -> None:
    rows = []
    for inspection in await ctx.tx.inspections.open_for_inspector(ctx.person.id):
        loaded = await load(ctx, inspection.id)
        if loaded is None:
            continue
        rows.append(
            {
                "id": inspection.id,
                "site": loaded.site.name,
                "title": loaded.standard.title,
                "answered": len(loaded.answers),
                "total": len(loaded.standard.items),
                "paused": inspection.status is InspectionStatus.PAUSED,
            }
        )
    await ctx.reply("status", inspections=rows)


async def answer(ctx: FlowContext, loaded: Loaded, item: Item, level_index: int) -> None:
    if not 0 <= level_index < len(item.levels):
        await ctx.toast("stale_button", alert=True)
        return
    level = item.levels[level_index]
    details = _measurement_details(ctx, item)
    saved = await ctx.tx.answers.set(
        inspection_id=loaded.inspection.id,
        item_no=item.no,
        score=level.score,
        max_score=item.max_score,
        not_applicable=False,
        level_label=level.label,
        details=details,
        answered_by=ctx.person.id,
    )
    loaded.answers[item.no] = saved
    await ctx.toast()
    await task_follow.follow_answer(ctx, loaded, item)
    if level.score < item.max_score and item.no not in loaded.task_items:
        await close_item_message(ctx, loaded, item)
        await task_setup.open_for(ctx, loaded, item, level.score, level.label)
        return
    await after_answer(ctx, loaded, item)


async def not_applicable(ctx: FlowContext, loaded: Loaded, item: Item) -> None:
    saved = await ctx.tx.answers.set(
        inspection_id=loaded.inspection.id,
        item_no=item.no,
        score=None,
        max_score=item.max_score,
        not_applicable=True,
        level_label=label("common", "not_applicable"),
        details={},
        answered_by=ctx.person.id,
    )
    loaded.answers[item.no] = saved
    await ctx.toast()
    await task_follow.follow_answer(ctx, loaded, item)
    await after_answer(ctx, loaded, item)


def _measurement_details(ctx: FlowContext, item: Item) -> dict[str, object]:
    details: dict[str, object] = {}
    sample = ctx.state.sample
    if sample is not None and sample.no == item.no:
        details["sample"] = {"passed": sample.p, "failed": sample.f}
    figures = ctx.state.figures
    if figures is not None and figures.no == item.no:
        details["figures"] = dict(figures.values)
    return details


async def after_answer(ctx: FlowContext, loaded: Loaded, item: Item) -> None:
    """Close the item message, send a section summary if the section just completed, go on."""
    await close_item_message(ctx, loaded, item)
    ctx.state.clear_measures()
    await summaries.section_if_complete(ctx, loaded, item)
    position = [i.no for i in loaded.standard.items].index(item.no) + 1
    await continue_at_pending(ctx, loaded, after=position)


async def previous(ctx: FlowContext, loaded: Loaded, item: Item) -> None:
    await ctx.toast()
    numbers = [i.no for i in loaded.standard.items]
    index = numbers.index(item.no)
    await close_item_message(ctx, loaded, item)
    target = loaded.standard.items[index - 1] if index > 0 else item
    await show_item(ctx, loaded, target)


async def table_of_contents(ctx: FlowContext, loaded: Loaded) -> None:
    await ctx.toast()
    item_no = ctx.state.no
    if item_no is not None and ctx.state.mode is Mode.ITEM:
        await close_item_message(ctx, loaded, loaded.standard.item(item_no))
    screen = ctx.next_screen()
    ctx.state.mode = Mode.TOC
    rows = []
    for index, section in enumerate(loaded.standard.sections):
        done = sum(1 for i in section.items if i.no in loaded.answers)
        code = payload.encode(Action.CONTENTS_SECTION, screen, loaded.inspection.id, index)
        values = {"heading": section.heading, "done": done, "total": len(section.items)}
        rows.append([button("contents_section", code, **values)])
    await ctx.reply("toc", rows, answered=len(loaded.answers), total=len(loaded.standard.items))


async def toc_section(ctx: FlowContext, loaded: Loaded, index: int) -> None:
    sections = loaded.standard.sections
    if not 0 <= index < len(sections):
        await ctx.toast("stale_button", alert=True)
        return
    await ctx.toast()
    section = sections[index]
    screen = ctx.next_screen()
    ctx.state.mode = Mode.TOC
    buttons = [
        button(
            "contents_item",
            payload.encode(Action.JUMP, screen, loaded.inspection.id, item.no),
            no=item.no,
            answered=item.no in loaded.answers,
        )
        for item in section.items
    ]
    rows = [buttons[i : i + 6] for i in range(0, len(buttons), 6)]
    back = payload.encode(Action.CONTENTS, screen, loaded.inspection.id)
    rows.append([button("back_to_contents", back)])
    await ctx.reply("toc_section", rows, section=section)


async def jump(ctx: FlowContext, loaded: Loaded, item_no: int) -> None:
    try:
        item = loaded.standard.item(item_no)
    except KeyError:
        await ctx.toast("stale_button", alert=True)
        return
    await ctx.toast()
    await show_item(ctx, loaded, item)


async def ask_submit(ctx: FlowContext, loaded: Loaded) -> None:
    screen = ctx.next_screen()
    ctx.state.mode, ctx.state.insp = Mode.SUBMIT, loaded.inspection.id
    ctx.state.no = None
    rows = [
        [button("submit", payload.encode(Action.SUBMIT, screen, loaded.inspection.id))],
        [button("contents", payload.encode(Action.CONTENTS, screen, loaded.inspection.id))],
    ]
    ref = f"s{loaded.inspection.id}.{screen}"
    ctx.state.submit_ref = ref
    await ctx.reply("ready_to_submit", rows, ref=ref, total=len(loaded.standard.items))


async def submit(ctx: FlowContext, loaded: Loaded) -> None:
    if loaded.next_pending(0) is not None:
        await ctx.toast("stale_button", alert=True)
        return
    await ctx.toast()
    ref = ctx.state.submit_ref
    ctx.state.submit_ref = None
    if ref is not None:
        await ctx.edit(ref, "submitted", total=len(loaded.standard.items))
    window = await confirm.open_window(ctx, loaded)
    chats = await summaries.manager_chats(ctx, loaded)
    result = await summaries.complete(ctx, loaded, window.view, chats)
    await confirm.send_for_confirmation(ctx, loaded, window, result, chats)
    ctx.next_screen()
    ctx.state.end_inspection()
