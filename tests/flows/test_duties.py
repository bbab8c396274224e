"""Separation of duties in the flows, for people who hold two roles at one site: nobody
decides their own extension request or verifies their own fix (it goes to someone else, or
waits until there is someone), and an inspector is their own 责任人 only where the company
allows it."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.texts import render
from storage.records import ExtensionStatus, Role, TaskStatus
from tests.flows.harness import Harness, User
from tests.flows.test_tasks import task_message

ADMIN_HINT = "pinjian person add <姓名> --site 阳光花园 --role manager"


async def company(harness: Harness, **extra: Role) -> dict[str, Any]:
    """The seeded site with everyone bound, plus an extra role for some (name=role)."""
    s = await harness.seed()
    async with harness.db.transaction() as tx:
        for name, role in extra.items():
            await tx.roles.grant(s["people"][name].id, s["site"].id, role)
    users = {"王检查": 101, "张三": 102, "李四": 103, "赵经理": 104}
    s["users"] = {name: harness.user(uid) for name, uid in users.items()}
    for name, user in s["users"].items():
        await user.command("start", s["codes"][name])
    return s


async def set_role(harness: Harness, s: dict[str, Any], name: str, role: Role, on: bool) -> None:
    async with harness.db.transaction() as tx:
        person, site = s["people"][name].id, s["site"].id
        if on:
            await tx.roles.grant(person, site, role)
        else:
            await tx.roles.revoke(person, site, role)


async def find_lacking(inspector: User) -> None:
    """Start an inspection and score item 1 with 0 (with a photo): the task set-up opens."""
    await inspector.command("inspect")
    await inspector.tap("阳光花园")
    await inspector.photo(b"before-photo")
    await inspector.tap("0分")


async def ask_extension(responsible: User) -> None:
    await responsible.press(task_message(responsible).button("申请延期"))
    await responsible.tap("+7天")
    await responsible.text("需要等供应商到货")


async def submit_fix(responsible: User) -> None:
    await responsible.press(task_message(responsible).button("已整改"))
    await responsible.photo(b"after-photo")
    await responsible.tap("提交复查")


async def extension_requests(harness: Harness) -> list[Any]:
    async with harness.db.read() as tx:
        return await tx.tasks.extensions(1)


async def the_task(harness: Harness) -> Any:
    async with harness.db.read() as tx:
        return await tx.tasks.get(1)


def shown(user: User, words: str) -> bool:
    return any(words in text for text in user.chat.texts())


async def test_a_manager_who_is_the_responsible_does_not_decide_their_own_extension(
    harness: Harness,
) -> None:
    s = await company(harness, 张三=Role.MANAGER)
    zhang, zhao = s["users"]["张三"], s["users"]["赵经理"]
    await find_lacking(s["users"]["王检查"])
    await s["users"]["王检查"].tap("确认创建")
    await ask_extension(zhang)
    assert "等待项目经理审批" in zhang.chat.last.text
    assert not shown(zhang, "延期申请 · 整改任务 #1")
    request = zhao.chat.with_buttons()
    assert "延期申请 · 整改任务 #1" in request.text
    for label in ("批准", "驳回"):
        await zhang.press(request.button(label))
        assert zhang.chat.toasts[-1] == (render("own_extension"), True)
    assert [r.status for r in await extension_requests(harness)] == [ExtensionStatus.PENDING]
    assert str((await the_task(harness)).due_date) == "2026-11-09"
    await zhao.press(request.button("批准"))
    (decided,) = await extension_requests(harness)
    assert decided.status is ExtensionStatus.APPROVED
    assert decided.decided_by == s["people"]["赵经理"].id


async def test_an_extension_waits_when_the_requester_is_the_only_manager(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    s = await company(harness, 张三=Role.MANAGER)
    zhang, zhao = s["users"]["张三"], s["users"]["赵经理"]
    await set_role(harness, s, "赵经理", Role.MANAGER, on=False)
    await find_lacking(s["users"]["王检查"])
    await s["users"]["王检查"].tap("确认创建")
    await ask_extension(zhang)
    assert zhang.chat.last.text == render("ext_waiting", task_id=1, due="2026-11-16")
    assert "pinjian" not in zhang.chat.last.text
    assert ADMIN_HINT in caplog.text
    assert not shown(zhang, "延期申请 · 整改任务 #1") and not shown(zhao, "延期申请")
    assert [r.status for r in await extension_requests(harness)] == [ExtensionStatus.PENDING]
    await zhang.command("tasks")
    await zhang.tap("#1")
    assert "批准" not in zhang.chat.last.labels
    # The administrator adds a manager: the request is on the task's details for them.
    await set_role(harness, s, "赵经理", Role.MANAGER, on=True)
    await zhao.command("tasks")
    await zhao.tap("#1")
    await zhao.tap("批准")
    (decided,) = await extension_requests(harness)
    assert decided.decided_by == s["people"]["赵经理"].id
    assert str((await the_task(harness)).due_date) == "2026-11-16"


async def test_a_manager_who_is_the_responsible_does_not_verify_their_own_fix(
    harness: Harness,
) -> None:
    s = await company(harness, 张三=Role.MANAGER)
    inspector, zhang = s["users"]["王检查"], s["users"]["张三"]
    await find_lacking(inspector)
    await inspector.tap("确认创建")
    await submit_fix(zhang)
    assert "等待 王检查 确认" in zhang.chat.last.text
    assert not shown(zhang, "整改待复查")
    review = inspector.chat.with_buttons()
    for label in ("通过", "退回"):
        await zhang.press(review.button(label))
        assert zhang.chat.toasts[-1] == (render("own_fix"), True)
    assert (await the_task(harness)).status is TaskStatus.REVIEW
    await inspector.press(review.button("通过"))
    assert (await the_task(harness)).status is TaskStatus.DONE


async def test_a_fix_goes_to_the_other_managers_when_the_inspector_cannot_be_reached(
    harness: Harness,
) -> None:
    s = await company(harness, 张三=Role.MANAGER)
    inspector, zhang, zhao = s["users"]["王检查"], s["users"]["张三"], s["users"]["赵经理"]
    await find_lacking(inspector)
    await inspector.tap("确认创建")
    async with harness.db.transaction() as tx:
        for identity in await tx.identities.for_person(s["people"]["王检查"].id):
            await tx.identities.revoke(identity.id)
    await submit_fix(zhang)
    assert "等待 赵经理 确认" in zhang.chat.last.text
    assert not shown(zhang, "整改待复查")
    assert "整改待复查 #1" in zhao.chat.with_buttons().text


async def test_an_inspector_is_not_offered_as_responsible_unless_the_company_allows_it(
    harness: Harness,
) -> None:
    s = await company(harness, 王检查=Role.RESPONSIBLE)
    inspector = s["users"]["王检查"]
    await find_lacking(inspector)
    setup = inspector.chat.with_buttons()
    assert "✓ 张三" in setup.labels and "李四" in setup.labels
    assert not any("王检查" in label for label in setup.labels)
    before = await harness_state(harness, inspector)
    await inspector.text("王检查")
    assert render("responsible_self") in inspector.chat.texts()
    assert "pinjian" not in render("responsible_self")
    setup = inspector.chat.with_buttons()
    forged = setup.button("张三").rsplit(":", 1)[0] + f":{s['people']['王检查'].id}"
    await inspector.press(forged)
    assert inspector.chat.toasts[-1] == (render("responsible_self"), True)
    assert (await harness_state(harness, inspector))["resp"] == before["resp"]
    await inspector.tap("确认创建")
    assert (await the_task(harness)).responsible_person_id == s["people"]["张三"].id


async def test_a_site_setting_overrides_the_company_on_self_assignment(harness: Harness) -> None:
    s = await company(harness, 王检查=Role.RESPONSIBLE)
    async with harness.db.transaction() as tx:
        await tx.settings.set("inspector_self_assign", True)
        await tx.sites.update(s["site"].id, settings={"inspector_self_assign": False})
    await find_lacking(s["users"]["王检查"])
    assert not any("王检查" in label for label in s["users"]["王检查"].chat.with_buttons().labels)


async def test_an_inspector_allowed_to_take_a_task_does_not_verify_it(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    s = await company(harness, 王检查=Role.RESPONSIBLE)
    async with harness.db.transaction() as tx:
        await tx.settings.set("inspector_self_assign", True)
    inspector, zhao = s["users"]["王检查"], s["users"]["赵经理"]
    await find_lacking(inspector)
    await inspector.tap("王检查")
    await inspector.tap("确认创建")
    assert (await the_task(harness)).responsible_person_id == s["people"]["王检查"].id
    await submit_fix(inspector)
    assert "等待 赵经理 确认" in inspector.chat.last.text
    assert not shown(inspector, "整改待复查")
    review = zhao.chat.with_buttons()
    await inspector.press(review.button("通过"))
    assert inspector.chat.toasts[-1] == (render("own_fix"), True)
    assert (await the_task(harness)).status is TaskStatus.REVIEW
    await zhao.press(review.button("通过"))
    assert (await the_task(harness)).status is TaskStatus.DONE
    assert ADMIN_HINT not in caplog.text


async def test_a_fix_waits_when_nobody_else_may_verify_it(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    s = await company(harness, 王检查=Role.RESPONSIBLE)
    async with harness.db.transaction() as tx:
        await tx.settings.set("inspector_self_assign", True)
    await set_role(harness, s, "赵经理", Role.MANAGER, on=False)
    inspector, zhao = s["users"]["王检查"], s["users"]["赵经理"]
    await find_lacking(inspector)
    await inspector.tap("王检查")
    await inspector.tap("确认创建")
    await submit_fix(inspector)
    assert inspector.chat.last.text == render("fix_waiting", task_id=1)
    assert "pinjian" not in inspector.chat.last.text
    assert not shown(inspector, "整改待复查")
    assert ADMIN_HINT in caplog.text
    assert (await the_task(harness)).status is TaskStatus.REVIEW
    await set_role(harness, s, "赵经理", Role.MANAGER, on=True)
    await zhao.command("tasks")
    await zhao.tap("#1")
    await zhao.tap("通过")
    assert (await the_task(harness)).status is TaskStatus.DONE


async def harness_state(harness: Harness, user: User) -> dict[str, Any]:
    """The task set-up the inspector's conversation holds."""
    async with harness.db.read() as tx:
        resolved = await tx.identities.resolve(user.channel, user.user_id)
        assert resolved is not None
        conversation = await tx.conversations.get(resolved[1].id, user.channel, user.user_id)
    assert conversation is not None
    task: dict[str, Any] = conversation.state["task"]
    return task
