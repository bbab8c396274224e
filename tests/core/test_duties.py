"""The separation-of-duties rules (bot/core/task_rules.py), one test per rule, and the task
lifecycle applying them whatever roles the actor holds."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from bot.core import company_settings
from bot.core import task_rules as lifecycle
from storage.records import Severity, Task, TaskStatus

INSPECTOR, RESPONSIBLE, MANAGER, OTHER = 1, 2, 3, 4


def task(status: TaskStatus = TaskStatus.REVIEW, responsible: int = RESPONSIBLE) -> Task:
    moment = datetime(2026, 11, 2, tzinfo=UTC)
    return Task(
        id=1,
        site_id=1,
        inspection_id=None,
        item_no=None,
        finding="0分 不符合",
        score=0.0,
        severity=Severity.GENERAL,
        responsible_person_id=responsible,
        status=status,
        due_date=date(2026, 11, 9),
        remark=None,
        created_by=INSPECTOR,
        created_at=moment,
        closed_at=None,
        updated_at=moment,
        version=2,
    )


def verify(person: int, *, manager: bool, responsible: int, submitted_by: int | None) -> bool:
    return lifecycle.may_verify(
        task(responsible=responsible), lifecycle.Actor(person, manager), submitted_by
    )


def test_nobody_verifies_a_task_they_are_responsible_for() -> None:
    assert verify(INSPECTOR, manager=False, responsible=RESPONSIBLE, submitted_by=RESPONSIBLE)
    assert verify(MANAGER, manager=True, responsible=RESPONSIBLE, submitted_by=RESPONSIBLE)
    assert not verify(OTHER, manager=False, responsible=RESPONSIBLE, submitted_by=RESPONSIBLE)
    # A manager of the site who is also the task's 责任人; the inspector who took it on.
    assert not verify(MANAGER, manager=True, responsible=MANAGER, submitted_by=MANAGER)
    assert not verify(INSPECTOR, manager=True, responsible=INSPECTOR, submitted_by=INSPECTOR)


def test_nobody_verifies_a_fix_they_submitted() -> None:
    # The fix was submitted by MANAGER, then the task was handed to RESPONSIBLE.
    assert not verify(MANAGER, manager=True, responsible=RESPONSIBLE, submitted_by=MANAGER)
    assert verify(INSPECTOR, manager=False, responsible=RESPONSIBLE, submitted_by=MANAGER)


def test_nobody_decides_their_own_extension_request() -> None:
    assert lifecycle.may_decide_extension(lifecycle.Actor(MANAGER, True), RESPONSIBLE)
    assert not lifecycle.may_decide_extension(lifecycle.Actor(MANAGER, True), MANAGER)
    assert not lifecycle.may_decide_extension(lifecycle.Actor(OTHER, False), RESPONSIBLE)


def test_an_inspector_assigns_themself_only_when_the_company_allows_it() -> None:
    assert lifecycle.may_assign(INSPECTOR, RESPONSIBLE, self_assign_allowed=False)
    assert not lifecycle.may_assign(INSPECTOR, INSPECTOR, self_assign_allowed=False)
    assert lifecycle.may_assign(INSPECTOR, INSPECTOR, self_assign_allowed=True)


def test_self_assignment_setting_defaults_to_no_and_a_site_overrides_the_company() -> None:
    def allowed(company: object, site: object) -> bool:
        own = {} if site is None else {"inspector_self_assign": site}
        values = {} if company is None else {"inspector_self_assign": company}
        at = SimpleNamespace(timezone="Asia/Shanghai", quiet_start="21:00", quiet_end="08:00")
        resolved = company_settings.resolve(values, SimpleNamespace(**vars(at), settings=own))
        return resolved.values.inspector_self_assign

    assert not allowed(None, None)
    assert allowed(True, None)
    assert not allowed(True, False)
    assert allowed(False, True)
    assert not allowed("yes", None)
    assert not allowed(1, None)


def test_the_lifecycle_refuses_verification_by_the_responsible_manager() -> None:
    own = task(responsible=MANAGER)
    actor = lifecycle.Actor(MANAGER, is_site_manager=True)
    with pytest.raises(lifecycle.TransitionError):
        lifecycle.check(own, TaskStatus.DONE, actor, None, submitted_by=MANAGER)
    with pytest.raises(lifecycle.TransitionError):
        lifecycle.check(own, TaskStatus.OPEN, actor, "照片不清", submitted_by=MANAGER)
    other = lifecycle.Actor(OTHER, is_site_manager=True)
    lifecycle.check(own, TaskStatus.DONE, other, None, submitted_by=MANAGER)
    with pytest.raises(lifecycle.TransitionError):
        lifecycle.check(task(), TaskStatus.DONE, other, None, submitted_by=OTHER)
