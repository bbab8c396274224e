"""Applying a task's status move: the rules (bot.core.task_rules) decide, the storage records who,
when, from, to and why."""

from __future__ import annotations

from bot.core import task_rules
from storage.db import Tx
from storage.records import Task, TaskStatus


async def transition(
    tx: Tx, task: Task, to: TaskStatus, actor: task_rules.Actor, reason: str | None = None
) -> Task:
    """Validate and apply a status change (TransitionError when the rules refuse it)."""
    task_rules.check(task, to, actor, reason, await submitted_by(tx, task))
    return await tx.tasks.transition(
        task.id, task.version, to, actor_id=actor.person_id, reason=reason
    )


async def submitted_by(tx: Tx, task: Task) -> int | None:
    """Who submitted the fix now under review (None while the task is not 待复查)."""
    if task.status is not TaskStatus.REVIEW:
        return None
    return task_rules.submitter(task, await tx.tasks.events(task.id))
