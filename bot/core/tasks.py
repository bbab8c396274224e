"""The rectification task lifecycle (状态): the only place that decides which moves are allowed.

待整改 (open) → 待复查 (review) → 已完成 (done), and 退回 (review → open, with a reason).
逾期 is not a state: it is shown whenever the target date has passed and the task is not done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.core import duties
from storage.db import Tx
from storage.records import Task, TaskEventKind, TaskStatus


class TransitionError(Exception):
    """A move the lifecycle does not allow, or an actor who may not make it."""


@dataclass(frozen=True)
class Actor:
    person_id: int
    is_site_manager: bool


SUBMIT = (TaskStatus.OPEN, TaskStatus.REVIEW)
APPROVE = (TaskStatus.REVIEW, TaskStatus.DONE)
REJECT = (TaskStatus.REVIEW, TaskStatus.OPEN)
ALLOWED = {SUBMIT, APPROVE, REJECT}


def may_verify(task: Task, actor: Actor, submitted_by: int | None) -> bool:
    return duties.may_verify(
        actor.person_id,
        responsible_id=task.responsible_person_id,
        created_by=task.created_by,
        submitted_by=submitted_by,
        is_site_manager=actor.is_site_manager,
    )


def check(
    task: Task, to: TaskStatus, actor: Actor, reason: str | None, submitted_by: int | None = None
) -> None:
    move = (task.status, to)
    if move not in ALLOWED:
        raise TransitionError(f"{task.status.label} → {to.label} 不是允许的状态变化")
    if move == SUBMIT and actor.person_id != task.responsible_person_id:
        raise TransitionError("只有责任人可以提交整改")
    if move in (APPROVE, REJECT) and not may_verify(task, actor, submitted_by):
        raise TransitionError("只有检查员或项目经理可以复查，且不能复查自己负责或提交的整改")
    if move == REJECT and not (reason and reason.strip()):
        raise TransitionError("退回需要说明原因")


async def transition(
    tx: Tx, task: Task, to: TaskStatus, actor: Actor, reason: str | None = None
) -> Task:
    """Validate and apply a status change; the storage layer records who, when, from, to, why."""
    check(task, to, actor, reason, await submitted_by(tx, task))
    return await tx.tasks.transition(
        task.id, task.version, to, actor_id=actor.person_id, reason=reason
    )


async def submitted_by(tx: Tx, task: Task) -> int | None:
    """Who submitted the fix now under review (None while the task is not 待复查)."""
    if task.status is not TaskStatus.REVIEW:
        return None
    for event in reversed(await tx.tasks.events(task.id)):
        if event.kind is TaskEventKind.STATUS and event.to_status is TaskStatus.REVIEW:
            return event.actor_id
    return None


def status_label(task: Task, today: date) -> str:
    label = task.status.label
    if task.is_overdue(today):
        return f"{label}（逾期）"
    return label


def days_overdue(task: Task, today: date) -> int:
    if task.due_date is None or not task.is_overdue(today):
        return 0
    return (today - task.due_date).days
