"""An item's answer changed while its rectification task is open: the task follows the answer.

Full marks or 不适用 withdraw the task (已撤销, its reminders cancelled); another losing level
changes its score and, when it was written from the level, its 问题. The 责任人 is told in every
chat they are bound to. Answers change only while the inspection is unfinished, from whichever
chat the inspector continues it in; after submission, only an appeal's decision changes one
(`bot.flows.appeals`, docs/CONFIRMATION.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.core import task_rules
from bot.core import tasks as lifecycle
from bot.core.texts import label, render
from bot.flows import reminding, task_moves, tasks
from bot.flows.context import FlowContext
from standards.schema import Item
from storage.records import OPEN_TASK_STATUSES, AnswerMark, Role, Task, TaskStatus

if TYPE_CHECKING:
    from bot.flows.inspection_view import Loaded


async def follow_answer(
    ctx: FlowContext, loaded: Loaded, item: Item, *, appeal: bool = False
) -> None:
    """Bring the item's open task (if any) in line with the item's current answer, changed by
    `ctx.person`: the inspector, or with `appeal` whoever decided an appeal."""
    answer = loaded.answers.get(item.no)
    if answer is None or item.no not in loaded.task_items:
        return
    for task in await ctx.tx.tasks.for_inspection(loaded.inspection.id):
        if task.item_no != item.no or task.status not in OPEN_TASK_STATUSES:
            continue
        move = task_rules.follow(task, item, answer.score, answer.not_applicable)
        if move is task_rules.Follow.WITHDRAW:
            await _withdraw(ctx, loaded, item, task, answer, appeal)
        elif move is task_rules.Follow.RESCORE:
            await _rescore(ctx, item, task, answer)


async def _actor(ctx: FlowContext, task: Task) -> task_rules.Actor:
    manager = await ctx.tx.roles.has(ctx.person.id, task.site_id, Role.MANAGER)
    return task_rules.Actor(ctx.person.id, manager)


def _result(answer: AnswerMark) -> dict[str, Any]:
    return {
        "not_applicable": answer.not_applicable,
        "score": answer.score,
        "label": answer.level_label or "",
    }


async def _responsible(ctx: FlowContext, task: Task) -> str | None:
    if task.responsible_person_id is None:
        return None
    person = await ctx.tx.people.get(task.responsible_person_id)
    return person.name if person else None


async def _withdraw(
    ctx: FlowContext, loaded: Loaded, item: Item, task: Task, answer: AnswerMark, appeal: bool
) -> None:
    reason = render("task_follow_reason", **_result(answer))
    withdrawn = await task_moves.transition(
        ctx.tx, task, TaskStatus.WITHDRAWN, await _actor(ctx, task), reason
    )
    await reminding.replan(ctx.tx, withdrawn, ctx.now)
    loaded.task_items.discard(item.no)
    responsible = await _responsible(ctx, task)
    if task.responsible_person_id is not None:
        await ctx.notify(
            task.responsible_person_id,
            "task_withdrawn",
            task=withdrawn,
            site=loaded.site.name,
            item=item,
            changed_by=ctx.person.name,
            appeal=appeal,
            **_result(answer),
        )
    await ctx.reply(
        "task_followed_ack", withdrawn=True, task_id=task.id, item=item, responsible=responsible
    )


async def _rescore(ctx: FlowContext, item: Item, task: Task, answer: AnswerMark) -> None:
    level = item.level_for(answer.score) if answer.score is not None else None
    if level is None:
        return
    finding = task.finding
    if lifecycle.written_for(task.finding, item, task.score):
        finding = lifecycle.finding_for(item, level)
    updated = await ctx.tx.tasks.rescore(
        task.id,
        task.version,
        level.score,
        finding,
        actor_id=ctx.person.id,
        reason=render("task_follow_reason", **_result(answer)),
    )
    if updated.responsible_person_id is not None:
        view = await tasks.card(ctx, updated, label("task", "heading_rescored"))
        await ctx.notify(
            updated.responsible_person_id,
            "task_card",
            tasks.responsible_buttons(updated),
            **view,
        )
    await ctx.reply(
        "task_followed_ack",
        withdrawn=False,
        task_id=task.id,
        item=item,
        responsible=await _responsible(ctx, task),
        **_result(answer),
    )
