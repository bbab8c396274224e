"""The task rules (bot/core/task_rules.py): one test per rule, each failing when its rule is
switched off. The separation-of-duties cases whatever roles a person holds are in
test_duties.py."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.core import task_rules as rules
from bot.core.task_rules import Action, Actor, Follow, Refusal, TransitionError
from standards.schema import Item, Level
from storage.records import Severity, Task, TaskEvent, TaskEventKind, TaskStatus

INSPECTOR, RESPONSIBLE, MANAGER, OTHER = 1, 2, 3, 4
MOMENT = datetime(2026, 11, 2, tzinfo=UTC)
OPEN, REVIEW, DONE, WITHDRAWN = (
    TaskStatus.OPEN,
    TaskStatus.REVIEW,
    TaskStatus.DONE,
    TaskStatus.WITHDRAWN,
)
ITEM = Item(
    no=1,
    content="前台接待",
    rule="微笑问候",
    max_score=2,
    levels=(
        Level(score=2, label="符合"),
        Level(score=1, label="部分符合"),
        Level(score=0, label="不符合"),
    ),
    method="现场查看",
)


def task(status: TaskStatus = OPEN, score: float = 1.0) -> Task:
    return Task(
        id=1,
        site_id=1,
        inspection_id=None,
        item_no=1,
        finding="未达标",
        score=score,
        severity=Severity.GENERAL,
        responsible_person_id=RESPONSIBLE,
        status=status,
        due_date=date(2026, 11, 9),
        remark=None,
        created_by=INSPECTOR,
        created_at=MOMENT,
        closed_at=None,
        updated_at=MOMENT,
        version=1,
    )


def event(to: TaskStatus, actor: int, kind: TaskEventKind = TaskEventKind.STATUS) -> TaskEvent:
    return TaskEvent(
        id=1,
        task_id=1,
        at=MOMENT,
        actor_id=actor,
        kind=kind,
        from_status=None,
        to_status=to,
        reason=None,
        data={},
    )


def person(person_id: int) -> Actor:
    return Actor(person_id, is_site_manager=person_id == MANAGER)


def test_only_the_listed_status_moves_exist() -> None:
    manager = person(MANAGER)
    for status, to in [(OPEN, DONE), (DONE, OPEN), (WITHDRAWN, OPEN), (DONE, WITHDRAWN)]:
        with pytest.raises(TransitionError, match="不是允许的状态变化"):
            rules.check(task(status), to, manager, "原因")
    assert (OPEN, REVIEW) in rules.ALLOWED and (REVIEW, DONE) in rules.ALLOWED


def test_only_the_responsible_works_on_the_fix_and_asks_for_time() -> None:
    for someone in (INSPECTOR, MANAGER, OTHER):
        with pytest.raises(TransitionError, match="只有责任人"):
            rules.check(task(), REVIEW, person(someone), None)
        for action in (Action.START_FIX, Action.SUBMIT_FIX, Action.REQUEST_EXTENSION):
            refused = rules.refusal(action, task(), person(someone), fix_photos=1)
            assert refused is Refusal.NOT_ALLOWED
    rules.check(task(), REVIEW, person(RESPONSIBLE), None)
    for action in (Action.START_FIX, Action.SUBMIT_FIX, Action.REQUEST_EXTENSION):
        assert rules.refusal(action, task(), person(RESPONSIBLE), fix_photos=1) is None


def test_a_fix_is_worked_on_only_while_the_task_is_open() -> None:
    assert rules.fix_open(task(OPEN))
    for status in (REVIEW, DONE, WITHDRAWN):
        assert not rules.fix_open(task(status))
        for action in (Action.START_FIX, Action.SUBMIT_FIX, Action.REQUEST_EXTENSION):
            refused = rules.refusal(action, task(status), person(RESPONSIBLE), fix_photos=1)
            assert refused is Refusal.STALE


def test_a_fix_is_submitted_with_at_least_one_photo() -> None:
    responsible = person(RESPONSIBLE)
    assert rules.refusal(Action.SUBMIT_FIX, task(), responsible) is Refusal.NEED_PHOTO
    assert rules.refusal(Action.SUBMIT_FIX, task(), responsible, fix_photos=1) is None


def test_one_extension_request_waits_at_a_time() -> None:
    responsible = person(RESPONSIBLE)
    waiting = rules.refusal(Action.REQUEST_EXTENSION, task(), responsible, extension_pending=True)
    assert waiting is Refusal.EXTENSION_PENDING
    assert rules.refusal(Action.REQUEST_EXTENSION, task(), responsible) is None


def test_the_creator_or_a_site_manager_verifies_but_not_their_own_work() -> None:
    review = task(REVIEW)
    for verifier in (INSPECTOR, MANAGER):
        for action in (Action.APPROVE, Action.REJECT):
            assert rules.refusal(action, review, person(verifier), submitted_by=RESPONSIBLE) is None
        rules.check(review, DONE, person(verifier), None, submitted_by=RESPONSIBLE)
    stranger = rules.refusal(Action.APPROVE, review, person(OTHER), submitted_by=RESPONSIBLE)
    assert stranger is Refusal.NOT_ALLOWED
    own = rules.refusal(Action.APPROVE, review, person(RESPONSIBLE), submitted_by=RESPONSIBLE)
    assert own is Refusal.OWN_FIX
    submitted = rules.refusal(Action.REJECT, review, person(MANAGER), submitted_by=MANAGER)
    assert submitted is Refusal.OWN_FIX
    with pytest.raises(TransitionError, match="只有检查员或项目经理可以复查"):
        rules.check(review, DONE, person(OTHER), None, submitted_by=RESPONSIBLE)


def test_a_fix_is_verified_only_while_it_waits_for_review() -> None:
    for status in (OPEN, DONE, WITHDRAWN):
        for action in (Action.APPROVE, Action.REJECT):
            assert rules.refusal(action, task(status), person(INSPECTOR)) is Refusal.STALE
    assert rules.refusal(Action.APPROVE, task(REVIEW), person(INSPECTOR)) is None


def test_sending_a_fix_back_says_why() -> None:
    inspector = person(INSPECTOR)
    for reason in (None, "", " \u3000 "):
        assert not rules.has_reason(reason)
        with pytest.raises(TransitionError, match="退回需要说明原因"):
            rules.check(task(REVIEW), OPEN, inspector, reason, submitted_by=RESPONSIBLE)
    rules.check(task(REVIEW), OPEN, inspector, "照片不清", submitted_by=RESPONSIBLE)


def test_the_creator_or_a_site_manager_withdraws_a_task() -> None:
    for status in (OPEN, REVIEW):
        for allowed in (INSPECTOR, MANAGER):
            rules.check(task(status), WITHDRAWN, person(allowed), "改为满分")
        for refused in (RESPONSIBLE, OTHER):
            with pytest.raises(TransitionError, match="撤销整改任务"):
                rules.check(task(status), WITHDRAWN, person(refused), "改为满分")


def test_withdrawing_a_task_says_why() -> None:
    with pytest.raises(TransitionError, match="撤销需要说明原因"):
        rules.check(task(), WITHDRAWN, person(INSPECTOR), "  ")
    rules.check(task(), WITHDRAWN, person(INSPECTOR), "改为不适用")


def test_the_details_are_shown_to_the_responsible_the_creator_and_site_managers() -> None:
    for allowed in (RESPONSIBLE, INSPECTOR, MANAGER):
        assert rules.refusal(Action.VIEW, task(), person(allowed)) is None
    assert rules.refusal(Action.VIEW, task(), person(OTHER)) is Refusal.NOT_ALLOWED


def test_a_site_manager_who_did_not_ask_decides_an_extension() -> None:
    manager, decide = person(MANAGER), (Action.APPROVE_EXTENSION, Action.REJECT_EXTENSION)
    for action in decide:
        assert rules.refusal(action, task(), manager, requested_by=RESPONSIBLE) is None
        own = rules.refusal(action, task(), manager, requested_by=MANAGER)
        assert own is Refusal.OWN_EXTENSION
        for someone in (INSPECTOR, RESPONSIBLE, OTHER):
            refused = rules.refusal(action, task(), person(someone), requested_by=RESPONSIBLE)
            assert refused is Refusal.NOT_ALLOWED


def test_an_extension_is_decided_only_while_its_request_and_task_wait() -> None:
    manager = person(MANAGER)
    for action in (Action.APPROVE_EXTENSION, Action.REJECT_EXTENSION):
        assert rules.refusal(action, task(), manager, requested_by=None) is Refusal.STALE
    # Approving moves the 达标时间 of an open task only; a rejection may come at any time.
    approve = rules.refusal(Action.APPROVE_EXTENSION, task(REVIEW), manager, requested_by=2)
    assert approve is Refusal.STALE
    assert rules.refusal(Action.REJECT_EXTENSION, task(REVIEW), manager, requested_by=2) is None


def test_an_inspector_assigns_a_task_to_themself_only_when_allowed() -> None:
    assert rules.may_assign(INSPECTOR, RESPONSIBLE, self_assign_allowed=False)
    assert not rules.may_assign(INSPECTOR, INSPECTOR, self_assign_allowed=False)
    assert rules.may_assign(INSPECTOR, INSPECTOR, self_assign_allowed=True)


def test_an_open_task_follows_its_items_answer() -> None:
    assert rules.follow(task(score=1), ITEM, 2, not_applicable=False) is Follow.WITHDRAW
    assert rules.follow(task(score=1), ITEM, None, not_applicable=True) is Follow.WITHDRAW
    assert rules.follow(task(score=1), ITEM, 0, not_applicable=False) is Follow.RESCORE
    assert rules.follow(task(score=1), ITEM, 1, not_applicable=False) is Follow.KEEP
    assert rules.follow(task(REVIEW, score=1), ITEM, 2, not_applicable=False) is Follow.WITHDRAW
    for closed in (DONE, WITHDRAWN):
        assert rules.follow(task(closed, score=1), ITEM, 2, not_applicable=False) is Follow.KEEP


def test_the_submitter_is_who_last_sent_the_task_for_review() -> None:
    history = [
        event(REVIEW, MANAGER),
        event(OPEN, INSPECTOR),
        event(REVIEW, RESPONSIBLE),
        event(REVIEW, OTHER, kind=TaskEventKind.REMARK),
    ]
    assert rules.submitter(task(REVIEW), history) == RESPONSIBLE
    assert rules.submitter(task(REVIEW), history[:2]) == MANAGER
    assert rules.submitter(task(OPEN), history) is None
    assert rules.submitter(task(REVIEW), []) is None
