"""Photos and notes attached to the open item (any number of each)."""

from __future__ import annotations

from bot.core.conversation import Mode
from bot.core.events import StoredFile
from bot.core.pixels import MAX_PIXELS
from bot.core.texts import label
from bot.flows.context import FlowContext
from bot.flows.inspection_view import (
    Loaded,
    close_item_message,
    record_item_message,
    show_item,
)
from standards.schema import Item
from storage.records import EvidenceRole


async def refuse_unusable(ctx: FlowContext, file: StoredFile) -> bool:
    """Answer a file that cannot be evidence (too large, too many pixels, not an image); True
    if refused."""
    if file.too_large:
        await ctx.reply(
            "file_too_large",
            size_mb=round(file.size / 1_048_576, 1),
            limit_mb=ctx.settings.max_upload_mb,
        )
        return True
    if file.too_many_pixels:
        await ctx.reply("image_too_many_pixels", limit_wan=MAX_PIXELS // 10_000)
        return True
    if not file.is_image or file.sha256 is None:
        await ctx.reply("file_not_image", name=file.file_name or label("common", "this_file"))
        return True
    return False


async def attach_file(ctx: FlowContext, loaded: Loaded, item: Item, file: StoredFile) -> None:
    assert file.sha256 is not None
    existing = await ctx.tx.evidence.for_item(loaded.inspection.id, item.no)
    if any(e.sha256 == file.sha256 for e in existing):
        await ctx.reply("photo_duplicate", item=item)
        return
    await ctx.add_photo(
        file,
        EvidenceRole.FINDING,
        caption=ctx.event.text or None,
        inspection_id=loaded.inspection.id,
        item_no=item.no,
    )
    if ctx.event.text:
        await ctx.tx.notes.add(
            text=ctx.event.text[:1000],
            created_by=ctx.person.id,
            inspection_id=loaded.inspection.id,
            item_no=item.no,
        )
    loaded.photo_counts = loaded.note_counts = None
    await ctx.reply("photo_saved", item=item, count=len(existing) + 1)
    await _refresh_open_message(ctx, loaded, item)


async def ask_note(ctx: FlowContext, item: Item) -> None:
    await ctx.toast()
    ctx.state.ask_note()
    await ctx.reply("ask_note", item=item)


async def ask_photo(ctx: FlowContext, item: Item) -> None:
    await ctx.toast()
    await ctx.reply("ask_photo", item=item)


async def save_note(ctx: FlowContext, loaded: Loaded, item: Item, text: str) -> None:
    await ctx.tx.notes.add(
        text=text.strip()[:1000],
        created_by=ctx.person.id,
        inspection_id=loaded.inspection.id,
        item_no=item.no,
    )
    ctx.state.note_saved()
    loaded.note_counts = None
    await ctx.reply("note_saved", item=item)
    await _refresh_open_message(ctx, loaded, item)


async def _refresh_open_message(ctx: FlowContext, loaded: Loaded, item: Item) -> None:
    """Keep the open item (or task set-up) message's counts current.

    The open item or set-up is shown again below what was just attached, its earlier message
    becoming the item's one-line record: the photo and the confirmation pushed that message up,
    and its buttons must be at hand without scrolling back (in every channel). While a remark
    is being typed the set-up is edited in place."""
    from bot.flows import task_setup

    mode = ctx.state.mode
    task = ctx.state.task
    if mode is Mode.TASK and task is not None:
        await record_item_message(ctx, loaded, item, task.ref)
        await task_setup.open_for(ctx, loaded, item, task.score, task.label)
    elif mode is Mode.TASK_REMARK:
        await task_setup.refresh(ctx, loaded, item)
    elif mode is Mode.ITEM and ctx.state.item_ref is not None:
        await close_item_message(ctx, loaded, item)
        await show_item(ctx, loaded, item)
