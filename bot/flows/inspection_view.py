"""Loading an inspection with its standard and answers, and drawing its screens."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core import payload
from bot.core.actions import Action
from bot.core.buttons import button
from bot.core.conversation import ConversationState, Mode
from bot.core.messages import Button
from bot.core.scoring import Mark, progress_bar, propose_from_figures, propose_from_samples
from bot.core.texts import plain
from bot.flows.context import FlowContext
from standards.pinned import pinned
from standards.schema import Item, Level, Standard
from storage.records import AnswerMark, Inspection, ItemProgress, Site

ITEM_MODES = frozenset(
    {Mode.ITEM, Mode.NOTE, Mode.TASK, Mode.TASK_REMARK, Mode.SAMPLE, Mode.FIGURE}
)
"""Conversation modes in which an item of the inspection is open."""


@dataclass
class Loaded:
    inspection: Inspection
    standard: Standard
    site: Site
    answers: dict[int, AnswerMark]
    task_items: set[int]
    """The items that have a rectification task."""
    photo_counts: dict[int, int] | None = None
    note_counts: dict[int, int] | None = None

    @property
    def marks(self) -> dict[int, Mark]:
        return {
            no: Mark(score=a.score, not_applicable=a.not_applicable)
            for no, a in self.answers.items()
        }

    def needs_work(self, item: Item) -> bool:
        """Unanswered, or lost points and still has no rectification task."""
        answer = self.answers.get(item.no)
        if answer is None:
            return True
        lost = not answer.not_applicable and answer.score is not None
        return (
            lost
            and answer.score is not None
            and answer.score < item.max_score
            and (item.no not in self.task_items)
        )

    def next_pending(self, after: int) -> Item | None:
        items = self.standard.items
        for item in items[after:] + items[:after]:
            if self.needs_work(item):
                return item
        return None


async def load(ctx: FlowContext, inspection_id: int) -> Loaded | None:
    found = await ctx.tx.inspections.with_site(inspection_id)
    if found is None or found[0].inspector_id != ctx.person.id:
        return None
    inspection, site = found
    stored = await ctx.stored_standard(inspection.standard_id)
    if stored is None:
        return None
    progress = await ctx.tx.inspections.progress(inspection.id)
    return loaded_with_progress(inspection, pinned(stored), site, progress)


def loaded_with_progress(
    inspection: Inspection, standard: Standard, site: Site, progress: ItemProgress
) -> Loaded:
    """The inspection with what its items show (:meth:`InspectionRepo.progress`)."""
    return Loaded(
        inspection,
        standard,
        site,
        {a.item_no: a for a in progress.answers},
        progress.task_items,
        progress.photo_counts,
        progress.note_counts,
    )


async def item_counts(ctx: FlowContext, loaded: Loaded) -> tuple[dict[int, int], dict[int, int]]:
    """Photos and notes per item, read with the inspection (:func:`load`) or once per event
    after adding either resets the memo."""
    if loaded.photo_counts is None:
        loaded.photo_counts = await ctx.tx.evidence.count_by_item(loaded.inspection.id)
    if loaded.note_counts is None:
        loaded.note_counts = await ctx.tx.notes.count_by_item(loaded.inspection.id)
    return loaded.photo_counts, loaded.note_counts


async def attachment_counts(ctx: FlowContext, loaded: Loaded, item_no: int) -> tuple[int, int]:
    """Photos and notes on an item (:func:`item_counts`)."""
    photos, notes = await item_counts(ctx, loaded)
    return photos.get(item_no, 0), notes.get(item_no, 0)


def item_ref(inspection_id: int, item_no: int, screen: int) -> str:
    return f"i{inspection_id}.{item_no}.{screen}"


def proposal_for(item: Item, state: ConversationState) -> tuple[Level | None, str]:
    """A level proposed from a finished sample or from entered figures, with the reason."""
    sample = state.sample
    if item.sample is not None and sample is not None and sample.no == item.no:
        passed, failed = sample.p, sample.f
        if passed + failed >= item.sample.size:
            reason = plain(
                "inspection",
                "sample_reason",
                pass_label=item.sample.pass_label,
                passed=passed,
                total=passed + failed,
            )
            return propose_from_samples(item, passed, passed + failed), reason
    figures = state.figures
    if item.target is not None and figures is not None and figures.no == item.no:
        values = figures.values
        level = propose_from_figures(item, values)
        if level is not None:
            shown = plain("inspection", "figures", values=values)
            return level, shown
    return None, ""


def rules_open(ctx: FlowContext) -> bool:
    """Whether item cards show the 评分细则 (and the standard's note): the person's choice,
    kept from item to item. Collapsed by default, to keep the card short on a phone."""
    return ctx.state.rules


def entered_figures(item: Item, state: ConversationState) -> list[dict[str, object]]:
    """The figures entered for the item so far (📏 录入数据, or a number typed on its card),
    each with its unit and whether it meets the item's target."""
    figures = state.figures
    if item.target is None or figures is None or figures.no != item.no:
        return []
    return [
        {
            "name": metric.name,
            "value": figures.values[metric.name],
            "unit": metric.unit,
            "met": metric.met_by(figures.values[metric.name]),
        }
        for metric in item.target.metrics
        if metric.name in figures.values
    ]


def item_buttons(loaded: Loaded, item: Item, screen: int, rules: bool) -> list[list[Button]]:
    insp, no = loaded.inspection.id, item.no
    rows: list[list[Button]] = [
        [
            button(
                "level",
                payload.encode(Action.LEVEL, screen, insp, no, index),
                score=level.score,
                name=level.label,
            )
        ]
        for index, level in enumerate(item.levels)
    ]
    extra: list[Button] = []
    if item.sample is not None:
        extra.append(button("sample", payload.encode(Action.SAMPLE, screen, insp, no)))
    if item.target is not None:
        extra.append(button("figures", payload.encode(Action.FIGURES, screen, insp, no)))
    if extra:
        rows.append(extra)
    rows.append(
        [
            button("not_applicable", payload.encode(Action.NOT_APPLICABLE, screen, insp, no)),
            button("photo", payload.encode(Action.PHOTO, screen, insp, no)),
            button("note", payload.encode(Action.NOTE, screen, insp, no)),
        ]
    )
    rows.append(
        [
            button("previous", payload.encode(Action.PREVIOUS, screen, insp, no)),
            button("contents", payload.encode(Action.CONTENTS, screen, insp)),
            button("pause", payload.encode(Action.PAUSE, screen, insp)),
        ]
    )
    rows.append([button("rules", payload.encode(Action.RULES, screen, insp, no), open=rules)])
    return rows


async def show_item(ctx: FlowContext, loaded: Loaded, item: Item) -> None:
    """Send the item as a new message with fresh buttons and make it the current screen."""
    screen = ctx.next_screen()
    ref = item_ref(loaded.inspection.id, item.no, screen)
    ctx.state.at_item(Mode.ITEM, loaded.inspection.id, item.no)
    ctx.state.item_ref = ref
    await ctx.tx.inspections.move_cursor(loaded.inspection.id, item.no, channel=ctx.channel)
    buttons = item_buttons(loaded, item, screen, rules_open(ctx))
    await ctx.reply("item", buttons, ref=ref, **await item_view(ctx, loaded, item))


async def toggle_rules(ctx: FlowContext, loaded: Loaded, item: Item) -> None:
    """「评分细则 ▸/▾」: show or hide the rule on the open item card, in place."""
    ref = ctx.state.item_ref
    if ref is None:  # the card was closed (answered, or a task set up)
        await ctx.toast("stale_button", alert=True)
        return
    await ctx.toast()
    ctx.state.rules = not rules_open(ctx)
    buttons = item_buttons(loaded, item, ctx.screen, rules_open(ctx))
    await ctx.edit(ref, "item", buttons, **await item_view(ctx, loaded, item))


async def item_view(ctx: FlowContext, loaded: Loaded, item: Item) -> dict[str, object]:
    standard = loaded.standard
    position = [i.no for i in standard.items].index(item.no) + 1
    answered = len(loaded.answers)
    total = len(standard.items)
    answer = loaded.answers.get(item.no)
    photos, notes = await attachment_counts(ctx, loaded, item.no)
    proposal, reason = proposal_for(item, ctx.state)
    current = None
    if answer is not None:
        current = {
            "not_applicable": answer.not_applicable,
            "score": answer.score,
            "label": answer.level_label or "",
        }
    return {
        "section": standard.section_of(item.no).heading,
        "position": position,
        "total": total,
        "bar": progress_bar(answered, total),
        "percent": round(100 * answered / total) if total else 0,
        "item": item,
        "current": current,
        "photos": photos,
        "notes": notes,
        "figures": entered_figures(item, ctx.state),
        "proposal": proposal,
        "proposal_reason": reason,
        "rules_open": rules_open(ctx),
    }


async def close_item_message(ctx: FlowContext, loaded: Loaded, item: Item) -> None:
    """Turn the open item message into its one-line record (no buttons)."""
    ref = ctx.state.item_ref
    if ref is None:
        return
    await record_item_message(ctx, loaded, item, ref)
    ctx.state.item_ref = None


async def record_item_message(ctx: FlowContext, loaded: Loaded, item: Item, ref: str) -> None:
    """Edit the message `ref` (an item or its task set-up) into the item's one-line record."""
    answer = loaded.answers.get(item.no)
    photos, notes = await attachment_counts(ctx, loaded, item.no)
    if answer is None:
        await ctx.edit(ref, "item_left", item=item, answered=False)
    else:
        await ctx.edit(
            ref,
            "item_done",
            item=item,
            not_applicable=answer.not_applicable,
            score=answer.score or 0,
            label=answer.level_label or "",
            photos=photos,
            notes=notes,
        )
