"""Who may do what to a rectification task, and which status moves exist: the one place that
decides. The flows ask `refusal` before acting on a press and `check` before every status move;
each rule below has its unit test in tests/core/test_task_rules.py.

Lifecycle (状态): 待整改 (open) → 待复查 (review) → 已完成 (done), and 退回 (review → open, with
a reason); 已撤销 (withdrawn, with a reason) from either open state, when the item's answer was
raised to full marks or 不适用. While open, a task follows its item's answer (`follow`): another
losing level rescores it, full marks or 不适用 withdraw it. 逾期 is not a state: it is shown
whenever the target date has passed and the task is still open.

Separation of duties (whatever roles one person holds at a site — a 项目经理 who is also a
责任人, an inspector on the site's staff):
- only the 责任人 works on the fix (starts it, submits it) and asks for more time;
- the fix is verified (通过/退回) by the inspector who created the task or a manager of its site,
  never by the task's 责任人 nor by whoever submitted the fix;
- a task is withdrawn by the inspector who created it or a manager of its site;
- an extension request is decided (批准/驳回) by a manager of the site who did not ask for it;
- an inspector assigns a task to themself only where the company setting
  `inspector_self_assign` allows it (default: no; bot.core.company_settings).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.core.task_types import (
    OPEN_TASK_STATUSES,
    TaskEventKind,
    TaskEventView,
    TaskStatus,
    TaskView,
)
from bot.core.texts import label, plain
from standards.schema import Item


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


class Action(StrEnum):
    """What a person asks to do with a task by pressing one of its buttons."""

    VIEW = "view"
    START_FIX = "start_fix"
    SUBMIT_FIX = "submit_fix"
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_EXTENSION = "request_extension"
    APPROVE_EXTENSION = "approve_extension"
    REJECT_EXTENSION = "reject_extension"


class Refusal(StrEnum):
    """Why a press is refused; each value names the template the person is shown."""

    NOT_ALLOWED = "not_allowed"
    OWN_FIX = "own_fix"
    OWN_EXTENSION = "own_extension"
    STALE = "stale_button"
    NEED_PHOTO = "fix_need_photo"
    EXTENSION_PENDING = "ext_pending"


FIX_ACTIONS = frozenset({Action.START_FIX, Action.SUBMIT_FIX, Action.REQUEST_EXTENSION})
VERIFY_ACTIONS = frozenset({Action.APPROVE, Action.REJECT})
DECIDE_ACTIONS = frozenset({Action.APPROVE_EXTENSION, Action.REJECT_EXTENSION})


def may_view(task: TaskView, actor: Actor) -> bool:
    """The task's details (查看详情): its 责任人, the inspector who created it, a site manager."""
    return actor.person_id in (task.responsible_person_id, task.created_by) or (
        actor.is_site_manager
    )


def may_fix(task: TaskView, actor: Actor) -> bool:
    """Working on the fix and asking for more time: the task's 责任人 only."""
    return actor.person_id == task.responsible_person_id


def fix_open(task: TaskView) -> bool:
    """A fix is worked on, and more time asked for, only while the task is 待整改."""
    return task.status is TaskStatus.OPEN


def may_verify(task: TaskView, actor: Actor, submitted_by: int | None) -> bool:
    """The inspector who created the task or a manager of its site, but never the task's
    责任人 nor whoever submitted the fix."""
    if actor.person_id in (task.responsible_person_id, submitted_by):
        return False
    return actor.person_id == task.created_by or actor.is_site_manager


def may_withdraw(task: TaskView, actor: Actor) -> bool:
    """Withdrawing a task whose item's answer was raised: the inspector who created it (whose
    answer changed) or a manager of its site."""
    return actor.person_id == task.created_by or actor.is_site_manager


def decides_extensions(actor: Actor) -> bool:
    """Extension requests are decided by the managers of the task's site."""
    return actor.is_site_manager


def may_decide_extension(actor: Actor, requested_by: int) -> bool:
    """A manager of the task's site who did not ask for the extension."""
    return decides_extensions(actor) and actor.person_id != requested_by


def may_assign(inspector_id: int, responsible_id: int, *, self_assign_allowed: bool) -> bool:
    """Anyone of the site's staff but the inspector themself, unless the company allows it."""
    return responsible_id != inspector_id or self_assign_allowed


def has_reason(reason: str | None) -> bool:
    """退回 and 撤销 say why: a reason that is more than white space."""
    return bool(reason and reason.strip())


def refusal(
    action: Action,
    task: TaskView,
    actor: Actor,
    *,
    submitted_by: int | None = None,
    requested_by: int | None = None,
    fix_photos: int = 0,
    extension_pending: bool = False,
) -> Refusal | None:
    """Why `actor` may not do `action` to `task` now, or None. Who may act is checked before
    whether the task is in a state for it. `submitted_by`: who submitted the fix under review
    (`submitter`); `requested_by`: who asked for the extension being decided (None: the task
    has no such pending request); `fix_photos`: the fix photos uploaded so far;
    `extension_pending`: the task already has a request waiting for a decision."""
    if action is Action.VIEW:
        return None if may_view(task, actor) else Refusal.NOT_ALLOWED
    if action in FIX_ACTIONS:
        if not may_fix(task, actor):
            return Refusal.NOT_ALLOWED
        if not fix_open(task):
            return Refusal.STALE
        if action is Action.SUBMIT_FIX and fix_photos == 0:
            return Refusal.NEED_PHOTO
        if action is Action.REQUEST_EXTENSION and extension_pending:
            return Refusal.EXTENSION_PENDING
        return None
    if action in VERIFY_ACTIONS:
        if not may_verify(task, actor, submitted_by):
            own = actor.person_id in (task.responsible_person_id, submitted_by)
            return Refusal.OWN_FIX if own else Refusal.NOT_ALLOWED
        return None if task.status is TaskStatus.REVIEW else Refusal.STALE
    if not decides_extensions(actor):
        return Refusal.NOT_ALLOWED
    # A rejection may come after the task moved on (a fix submitted meanwhile).
    waiting = fix_open(task) or action is Action.REJECT_EXTENSION
    if requested_by is None or not waiting:
        return Refusal.STALE
    return None if may_decide_extension(actor, requested_by) else Refusal.OWN_EXTENSION


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


def check(
    task: TaskView,
    to: TaskStatus,
    actor: Actor,
    reason: str | None,
    submitted_by: int | None = None,
) -> None:
    """Raise TransitionError unless `actor` may move `task` to `to` (with `reason`)."""
    move = (task.status, to)
    if move not in ALLOWED:
        raise TransitionError(
            plain("errors", "transition_not_allowed", source=task.status.label, target=to.label)
        )
    if move == SUBMIT and not may_fix(task, actor):
        raise TransitionError(label("errors", "only_responsible_fixes"))
    if move in (APPROVE, REJECT) and not may_verify(task, actor, submitted_by):
        raise TransitionError(label("errors", "verify_not_allowed"))
    if move == REJECT and not has_reason(reason):
        raise TransitionError(label("errors", "reject_needs_reason"))
    if move in WITHDRAW and not may_withdraw(task, actor):
        raise TransitionError(label("errors", "withdraw_not_allowed"))
    if move in WITHDRAW and not has_reason(reason):
        raise TransitionError(label("errors", "withdraw_needs_reason"))


def submitter(task: TaskView, events: Sequence[TaskEventView]) -> int | None:
    """Who submitted the fix now under review (None while the task is not 待复查), from the
    task's events, oldest first."""
    if task.status is not TaskStatus.REVIEW:
        return None
    for event in reversed(events):
        if event.kind is TaskEventKind.STATUS and event.to_status is TaskStatus.REVIEW:
            return event.actor_id
    return None
