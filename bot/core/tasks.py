"""The rectification task lifecycle (状态): the only place that decides which moves are allowed.

待整改 (open) → 待复查 (review) → 已完成 (done), and 退回 (review → open, with a reason).
已撤销 (withdrawn): an open task whose item was re-answered to full marks or 不适用 (with the
reason). 逾期 is not a state: it is shown whenever the target date has passed and the task is
still open (待整改 or 待复查).

A task follows its item's answer while it is open (`follow`): a changed losing level changes
its score and 问题, a full mark or 不适用 withdraws it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from bot.core import duties
from bot.core.company_settings import CompanySettings
from bot.core.task_types import (
    OPEN_TASK_STATUSES,
    Severity,
    TaskEventKind,
    TaskEventView,
    TaskStatus,
    TaskView,
)
from standards.schema import Item, Level


class TransitionError(Exception):
    """A move the lifecycle does not allow, or an actor who may not make it."""


@dataclass(frozen=True)
class Actor:
    person_id: int
    is_site_manager: bool


SUBMIT = (TaskStatus.OPEN, TaskStatus.REVIEW)
APPROVE = (TaskStatus.REVIEW, TaskStatus.DONE)
REJECT = (TaskStatus.REVIEW, TaskStatus.OPEN)
WITHDRAW = {(status, TaskStatus.WITHDRAWN) for status in OPEN_TASK_STATUSES}
ALLOWED = {SUBMIT, APPROVE, REJECT, *WITHDRAW}


def may_verify(task: TaskView, actor: Actor, submitted_by: int | None) -> bool:
    return duties.may_verify(
        actor.person_id,
        responsible_id=task.responsible_person_id,
        created_by=task.created_by,
        submitted_by=submitted_by,
        is_site_manager=actor.is_site_manager,
    )


def check(
    task: TaskView,
    to: TaskStatus,
    actor: Actor,
    reason: str | None,
    submitted_by: int | None = None,
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
    if move in WITHDRAW and not duties.may_withdraw(
        actor.person_id, created_by=task.created_by, is_site_manager=actor.is_site_manager
    ):
        raise TransitionError("只有检查员或项目经理可以撤销整改任务")
    if move in WITHDRAW and not (reason and reason.strip()):
        raise TransitionError("撤销需要说明原因")


def submitter(task: TaskView, events: Sequence[TaskEventView]) -> int | None:
    """Who submitted the fix now under review (None while the task is not 待复查), from the
    task's events, oldest first."""
    if task.status is not TaskStatus.REVIEW:
        return None
    for event in reversed(events):
        if event.kind is TaskEventKind.STATUS and event.to_status is TaskStatus.REVIEW:
            return event.actor_id
    return None


class Follow(StrEnum):
    """What an open task does when its item's answer changes."""

    KEEP = "keep"
    RESCORE = "rescore"
    WITHDRAW = "withdraw"


def follow(task: TaskView, item: Item, score: float | None, not_applicable: bool) -> Follow:
    """Full marks or 不适用 withdraw the task; another losing level rescores it."""
    if task.status not in OPEN_TASK_STATUSES:
        return Follow.KEEP
    if not_applicable or score is None or score >= item.max_score:
        return Follow.WITHDRAW
    if score != task.score:
        return Follow.RESCORE
    return Follow.KEEP


def finding_for(item: Item, level: Level) -> str:
    """问题 of a task without a note: the level the item should reach and the one it got."""
    top = item.levels[0]
    return (
        f"未达标：应「{top.label}」，评为「{level.label}」（{level.score:g}/{item.max_score:g}分）"
    )


def written_for(finding: str, item: Item, score: float | None) -> bool:
    """Whether `finding` is the text written from the level (no inspector's note in it)."""
    level = item.level_for(score) if score is not None else None
    if level is None:
        return False
    return finding in (finding_for(item, level), f"{level.score:g}分 {level.label}")


def level_of(task: TaskView, item: Item | None) -> Level | None:
    """The task's own level of its item (the result it was created or rescored with)."""
    if item is None or task.score is None:
        return None
    return item.level_for(task.score)


def status_label(task: TaskView, today: date) -> str:
    label = task.status.label
    if task.is_overdue(today):
        return f"{label}（逾期）"
    return label


def days_overdue(task: TaskView, today: date) -> int:
    if task.due_date is None or not task.is_overdue(today):
        return 0
    return (today - task.due_date).days


def severity_name(settings: CompanySettings, severity: Severity) -> str:
    """The company's name for a severity (`severity_names`, mildest first)."""
    return settings.severity_names[list(Severity).index(severity)]


def default_severity(settings: CompanySettings, score: float) -> Severity:
    """The severity proposed for an item answered with `score` (a level that lost points)."""
    return Severity.OBSERVATION if score >= settings.observation_min_score else Severity.GENERAL


def severity_due_days(settings: CompanySettings, severity: Severity) -> int:
    """The default days to 达标时间 for a task of this severity."""
    return {
        Severity.OBSERVATION: settings.observation_due_days,
        Severity.GENERAL: settings.default_due_days,
        Severity.SERIOUS: settings.serious_due_days,
    }[severity]
