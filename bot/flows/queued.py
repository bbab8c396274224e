"""What the web page did while it had no connection, replayed when it is back.

Offline, the page shows the inspection's items from the standard it keeps and applies answers
locally; each queued action names its inspection and item instead of a screen, because the
screens it saw were never shown by the server. Payloads (`Q:<inspection>:<item>:<action>…`):

- `L:<level>:<base>` / `NA:<base>`: the answer; `<base>` is the item's answer as the page knew
  it (`answer_code`). A stored answer that differs from it and from this one was given
  elsewhere meanwhile: the answers are applied in the server's order, so the queued one, which
  arrives last, stands (the earlier stays in the item's revisions) and the person is told.
- `O`: make the item the open one, so the photo queued after it is attached to it.
- `M`: the same, then ask for the note the queued text that follows is.

The item is opened first (its message becomes its record when it is answered), exactly as if
the person had reached it online; a paused inspection is resumed.
"""

from __future__ import annotations

from bot.core import actions, payload
from bot.core.actions import QueuedAction
from bot.core.texts import label, plain
from bot.flows import evidence, inspection
from bot.flows.context import FlowContext
from bot.flows.inspection_view import ITEM_MODES, Loaded, close_item_message, load, show_item
from standards.schema import Item
from storage.records import AnswerMark, InspectionStatus

NO_ANSWER = "-"
NOT_APPLICABLE = "NA"


def answer_code(item: Item, answer: AnswerMark | None) -> str:
    """An answer as the page and the queued payloads name it: `-`, `NA` or the level's index."""
    if answer is None:
        return NO_ANSWER
    if answer.not_applicable:
        return NOT_APPLICABLE
    for index, level in enumerate(item.levels):
        if level.label == answer.level_label and level.score == answer.score:
            return str(index)
    return "?"


async def press(ctx: FlowContext, parts: list[str]) -> None:
    """A queued action (the parts after `Q`)."""
    loaded = await load(ctx, payload.as_int(parts[0]))
    if loaded is None or loaded.inspection.status not in inspection.UNFINISHED:
        await ctx.toast()
        await ctx.reply("inspection_closed")
        return
    item = loaded.standard.item(payload.as_int(parts[1]))
    action, rest = actions.find(QueuedAction, parts[2]), parts[3:]
    if action is QueuedAction.LEVEL:
        index = payload.as_int(rest[0])
        if not 0 <= index < len(item.levels):
            raise payload.PayloadError("no such level")
        await _answer(ctx, loaded, item, str(index), rest[1])
    elif action is QueuedAction.NOT_APPLICABLE:
        await _answer(ctx, loaded, item, NOT_APPLICABLE, rest[0])
    elif action is QueuedAction.OPEN:
        await ctx.toast()
        await _open(ctx, loaded, item)
    elif action is QueuedAction.NOTE:
        await _open(ctx, loaded, item)
        await evidence.ask_note(ctx, item)
    else:
        raise payload.PayloadError("unknown queued action")


async def _open(ctx: FlowContext, loaded: Loaded, item: Item) -> None:
    """Make the item the conversation's open one, unless it already is."""
    if loaded.inspection.status is InspectionStatus.PAUSED:
        await ctx.tx.inspections.resume(loaded.inspection.id, channel=ctx.channel)
    state = ctx.state
    if state.insp == loaded.inspection.id and state.no == item.no and state.mode in ITEM_MODES:
        return
    open_no = state.no
    if state.insp == loaded.inspection.id and open_no is not None:
        await close_item_message(ctx, loaded, loaded.standard.item(open_no))
    state.leave_item()
    await show_item(ctx, loaded, item)


async def _answer(ctx: FlowContext, loaded: Loaded, item: Item, mine: str, base: str) -> None:
    current = answer_code(item, loaded.answers.get(item.no))
    if current not in (base, mine):
        await ctx.reply(
            "queued_conflict",
            item=item,
            theirs=_shown(item, current),
            mine=_shown(item, mine),
        )
    await _open(ctx, loaded, item)
    if mine == NOT_APPLICABLE:
        await inspection.not_applicable(ctx, loaded, item)
    else:
        await inspection.answer(ctx, loaded, item, int(mine))


def _shown(item: Item, code: str) -> str:
    if code == NOT_APPLICABLE:
        return label("common", "not_applicable")
    if code.isdigit() and int(code) < len(item.levels):
        level = item.levels[int(code)]
        return plain("scores", "level", score=level.score, name=level.label)
    return label("scores", "answered")
