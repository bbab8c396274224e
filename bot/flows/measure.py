"""Walking the inspector through an item's samples and measured figures; the bot proposes a
level, the inspector still decides."""

from __future__ import annotations

from bot.core import payload
from bot.core.actions import Action, SampleAction
from bot.core.buttons import button
from bot.core.conversation import Figures, Mode, Sample
from bot.core.messages import Button
from bot.core.scoring import propose_from_samples
from bot.flows.context import FlowContext
from bot.flows.inspection_view import Loaded, close_item_message, show_item
from standards.schema import Item

MAX_FIGURE = 1_000_000


async def start_sample(ctx: FlowContext, loaded: Loaded, item: Item) -> None:
    if item.sample is None:
        await ctx.toast("stale_button", alert=True)
        return
    await ctx.toast()
    sample = ctx.state.sample
    if sample is None or sample.no != item.no:
        sample = ctx.state.sample = Sample(no=item.no)
    await close_item_message(ctx, loaded, item)
    await _show_sample(ctx, loaded, item, sample)


async def _show_sample(ctx: FlowContext, loaded: Loaded, item: Item, sample: Sample) -> None:
    assert item.sample is not None
    passed, failed = sample.p, sample.f
    taken = passed + failed
    screen = ctx.next_screen()
    ctx.state.at_item(Mode.SAMPLE, loaded.inspection.id, item.no)
    insp = loaded.inspection.id
    rows: list[list[Button]] = []

    def step(key: str, action: SampleAction, **values: object) -> Button:
        code = payload.encode(Action.SAMPLE_STEP, screen, insp, item.no, action)
        return button(key, code, **values)

    if taken < item.sample.size:
        rows.append(
            [
                step("sample_pass", SampleAction.PASS, name=item.sample.pass_label),
                step("sample_fail", SampleAction.FAIL, name=item.sample.fail_label),
            ]
        )
    rows.append([step("sample_undo", SampleAction.UNDO), step("sample_done", SampleAction.DONE)])
    proposal = propose_from_samples(item, passed, taken)
    await ctx.reply(
        "sample",
        rows,
        item=item,
        taken=taken,
        passed=passed,
        failed=failed,
        proposal=proposal,
    )


async def on_sample(ctx: FlowContext, loaded: Loaded, item: Item, action: SampleAction) -> None:
    sample = ctx.state.sample
    if item.sample is None or sample is None or sample.no != item.no:
        await ctx.toast("stale_button", alert=True)
        return
    await ctx.toast()
    taken = sample.p + sample.f
    if action is SampleAction.PASS and taken < item.sample.size:
        sample.add("p")
    elif action is SampleAction.FAIL and taken < item.sample.size:
        sample.add("f")
    elif action is SampleAction.UNDO:
        sample.undo()
    elif action is SampleAction.DONE:
        await show_item(ctx, loaded, item)
        return
    await _show_sample(ctx, loaded, item, sample)


async def start_figures(ctx: FlowContext, loaded: Loaded, item: Item) -> None:
    if item.target is None:
        await ctx.toast("stale_button", alert=True)
        return
    await ctx.toast()
    await close_item_message(ctx, loaded, item)
    ctx.state.figures = Figures(no=item.no)
    ctx.state.at_item(Mode.FIGURE, loaded.inspection.id, item.no)
    ctx.state.metric = 0
    await ctx.reply("ask_figure", item=item, metric=item.target.metrics[0])


def parse_figure(text: str) -> float | None:
    """A figure as typed ("95", "98.5%", "95 ％"), or None if it is not one."""
    value_text = text.strip().rstrip("%％").strip()
    try:
        value = float(value_text)
    except ValueError:
        return None
    return value if 0 <= value <= MAX_FIGURE else None


async def typed_on_card(ctx: FlowContext, loaded: Loaded, item: Item, text: str) -> bool:
    """A number typed while the card of an item with a target is open is that item's next
    figure, as if 📏 录入数据 had been tapped first; False for anything else."""
    if item.target is None or parse_figure(text) is None:
        return False
    figures = ctx.state.figures
    if figures is None or figures.no != item.no:
        figures = ctx.state.figures = Figures(no=item.no)
    missing = [i for i, m in enumerate(item.target.metrics) if m.name not in figures.values]
    await close_item_message(ctx, loaded, item)
    ctx.state.at_item(Mode.FIGURE, loaded.inspection.id, item.no)
    ctx.state.metric = missing[0] if missing else 0
    await on_figure_text(ctx, loaded, item, text)
    return True


async def on_figure_text(ctx: FlowContext, loaded: Loaded, item: Item, text: str) -> None:
    assert item.target is not None
    value = parse_figure(text)
    if value is None:
        await ctx.reply("figure_bad")
        return
    index = ctx.state.metric or 0
    metrics = item.target.metrics
    if ctx.state.figures is None:
        ctx.state.figures = Figures(no=item.no)
    ctx.state.figures.values[metrics[index].name] = value
    if index + 1 < len(metrics):
        ctx.state.metric = index + 1
        await ctx.reply("ask_figure", item=item, metric=metrics[index + 1])
        return
    ctx.state.metric = None
    await show_item(ctx, loaded, item)
