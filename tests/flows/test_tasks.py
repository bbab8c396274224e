"""The responsible staff's journey and task verification, channel-neutral."""

from __future__ import annotations

from typing import Any

from storage.records import Channel, Role, TaskEventKind, TaskStatus
from tests.flows.harness import Harness, User


async def setup_task(harness: Harness, *, bind_responsible: bool = True) -> dict[str, Any]:
    """An inspector finds item 1 lacking (with a photo) and assigns it to 张三."""
    seeded = await harness.seed()
    inspector = harness.user(101)
    await inspector.command("start", seeded["codes"]["王检查"])
    manager = harness.user(104)
    await manager.command("start", seeded["codes"]["赵经理"])
    responsible = harness.user(102)
    if bind_responsible:
        await responsible.command("start", seeded["codes"]["张三"])
    await inspector.command("inspect")
    await inspector.tap("阳光花园")
    await inspector.photo(b"before-photo")
    await inspector.tap("0分")
    await inspector.tap("确认创建")
    return {
        **seeded,
        "inspector": inspector,
        "manager": manager,
        "responsible": responsible,
    }


def task_message(user: User) -> Any:
    return next(
        m for m in reversed(user.chat.messages) if "<b>整改任务 #1</b>" in m.text and m.buttons
    )


async def task_status(harness: Harness) -> TaskStatus:
    async with harness.db.read() as tx:
        task = await tx.tasks.get(1)
    assert task is not None
    return task.status


async def test_responsible_gets_the_task_with_photos_and_buttons(harness: Harness) -> None:
    s = await setup_task(harness)
    chat = s["responsible"].chat
    card = task_message(s["responsible"])
    assert "<b>新的整改任务</b>" in card.text
    assert "项目：阳光花园" in card.text
    assert "第 1 项：根据物业管理方案制作精神文明建设方案和实施计划" in card.text
    assert "检查结果：0分 不符合" in card.text
    assert "达标时间：<b>2026-11-09</b>" in card.text
    assert card.labels == ["已整改，上传照片", "申请延期", "查看详情"]
    album = chat.messages[chat.messages.index(card) - 1]
    assert len(album.photos) == 1


async def test_unbound_responsible_is_listed_and_gets_tasks_on_binding(
    harness: Harness,
) -> None:
    s = await setup_task(harness, bind_responsible=False)
    assert any("张三 还没有绑定聊天账号" in t for t in s["inspector"].chat.texts())
    assert any("张三 还没有绑定聊天账号" in t for t in s["manager"].chat.texts())
    responsible = s["responsible"]
    await responsible.command("start", s["codes"]["张三"])
    assert "<b>待处理的整改任务</b>" in task_message(responsible).text


async def test_fix_verified_and_completed(harness: Harness) -> None:
    s = await setup_task(harness)
    responsible, inspector = s["responsible"], s["inspector"]
    await responsible.press(task_message(responsible).button("已整改"))
    await responsible.tap("提交复查")
    assert responsible.chat.toasts[-1] == ("请至少发送一张整改后的照片再提交复查。", True)
    await responsible.photo(b"after-photo-1")
    await responsible.photo(b"after-photo-2", caption="已补齐方案")
    await responsible.text("计划已张贴公示")
    await responsible.tap("提交复查")
    assert "已提交复查，等待 王检查 确认" in responsible.chat.last.text
    assert await task_status(harness) is TaskStatus.REVIEW
    review = inspector.chat.with_buttons()
    assert "整改待复查 #1" in review.text
    assert "整改前 1 张，整改后 2 张" in review.text
    assert "已补齐方案；计划已张贴公示" in review.text
    at = inspector.chat.messages.index(review)
    before, after = inspector.chat.messages[at - 2 : at]
    assert (before.text, len(before.photos)) == ("整改前（1 张）", 1)
    assert (after.text, len(after.photos)) == ("整改后（2 张）", 2)
    await inspector.tap("通过")
    assert await task_status(harness) is TaskStatus.DONE
    assert "已通过复查（王检查），状态：已完成" in responsible.chat.last.text
    await responsible.press(task_message(responsible).button("申请延期"))
    assert responsible.chat.toasts[-1] == ("这个整改任务已完成，按钮不再有效。", True)
    async with harness.db.read() as tx:
        events = await tx.tasks.events(1)
    moves = [(e.from_status, e.to_status) for e in events if e.kind is TaskEventKind.STATUS]
    assert moves == [(TaskStatus.OPEN, TaskStatus.REVIEW), (TaskStatus.REVIEW, TaskStatus.DONE)]


async def test_rejected_fix_goes_back_with_the_reason(harness: Harness) -> None:
    s = await setup_task(harness)
    responsible, inspector = s["responsible"], s["inspector"]
    await responsible.press(task_message(responsible).button("已整改"))
    await responsible.photo(b"after")
    await responsible.tap("提交复查")
    await inspector.tap("退回")
    assert "请输入退回整改任务 #1 的原因" in inspector.chat.last.text
    await inspector.text("照片看不清公示内容")
    assert await task_status(harness) is TaskStatus.OPEN
    assert "原因：照片看不清公示内容" in responsible.chat.last.text
    assert responsible.chat.last.labels[0] == "已整改，上传照片"
    async with harness.db.read() as tx:
        events = await tx.tasks.events(1)
    assert events[-1].reason == "照片看不清公示内容"
    assert events[-1].actor_id == s["people"]["王检查"].id


async def test_extension_approved_and_rejected(harness: Harness) -> None:
    s = await setup_task(harness)
    responsible, manager = s["responsible"], s["manager"]
    await responsible.press(task_message(responsible).button("申请延期"))
    await responsible.tap("+7天")
    await responsible.text("需要等供应商到货")
    assert "已提交延期申请（整改任务 #1 → 2026-11-16）" in responsible.chat.last.text
    request = manager.chat.with_buttons()
    assert "2026-11-09 → <b>2026-11-16</b>" in request.text
    assert "原因：需要等供应商到货" in request.text
    await responsible.press(task_message(responsible).button("申请延期"))
    assert "已有待审批的延期申请" in responsible.chat.toasts[-1][0]
    await manager.tap("批准")
    assert any("达标时间改为 2026-11-16" in t for t in responsible.chat.texts()[-3:])
    await responsible.press(task_message(responsible).button("申请延期"))
    await responsible.text("12月30日")
    await responsible.text("再多给点时间")
    await manager.tap("驳回")
    assert "延期申请未获批准（赵经理）" in responsible.chat.last.text
    assert "仍为 2026-11-16" in responsible.chat.last.text
    async with harness.db.read() as tx:
        task = await tx.tasks.get(1)
        requests = await tx.tasks.extensions(1)
    assert task is not None and str(task.due_date) == "2026-11-16"
    assert [r.status.value for r in requests] == ["approved", "rejected"]


async def test_task_list_for_responsible_and_manager(harness: Harness) -> None:
    s = await setup_task(harness)
    await s["responsible"].command("tasks")
    assert "我的整改任务</b>（1 项" in s["responsible"].chat.last.text
    await s["manager"].command("tasks")
    listing = s["manager"].chat.last
    assert "项目整改任务</b>（1 项" in listing.text and "张三" in listing.text
    await s["manager"].tap("#1")
    assert "记录：" in s["manager"].chat.last.text
    assert "创建任务" in s["manager"].chat.last.text


async def test_other_peoples_task_buttons_change_nothing(harness: Harness) -> None:
    s = await setup_task(harness)
    other = harness.user(103)
    await other.command("start", s["codes"]["李四"])
    fix = task_message(s["responsible"]).button("已整改")
    await other.press(fix)
    assert other.chat.toasts[-1] == ("您没有权限进行这个操作。", True)
    await s["manager"].press(fix)
    assert s["manager"].chat.toasts[-1] == ("您没有权限进行这个操作。", True)
    await other.press("K:OK:1:1")
    await other.press("K:EA:1:1:1")
    await other.press("K:D:999:1")
    assert await task_status(harness) is TaskStatus.OPEN
    async with harness.db.read() as tx:
        assert await tx.roles.has(s["people"]["李四"].id, s["site"].id, Role.RESPONSIBLE)


async def test_staff_bound_by_the_admin_get_waiting_tasks_on_first_contact(
    harness: Harness,
) -> None:
    s = await setup_task(harness, bind_responsible=False)
    async with harness.db.transaction() as tx:
        await tx.identities.bind(
            s["people"]["张三"].id, Channel.WEB, "web-zhang", chat_id="web-zhang"
        )
    web = User(harness, "web-zhang", Channel.WEB)
    await web.command("help")
    cards = [m for m in web.chat.messages if "待处理的整改任务" in m.text]
    assert len(cards) == 1
    await web.command("help")
    cards = [m for m in web.chat.messages if "待处理的整改任务" in m.text]
    assert len(cards) == 1
