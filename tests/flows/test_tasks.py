"""The responsible staff's journey and task verification, channel-neutral."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from bot.flows.reminder_sweep import ReminderSweeper
from storage.records import Channel, Role, TaskEventKind, TaskStatus
from tests.core.test_capture_time import photo
from tests.core.test_photo_gps import SITE, gps_photo, offset
from tests.flows.harness import Harness, User
from tests.reports.data import jpeg


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


ITEM_1 = "根据物业管理方案制作精神文明建设方案和实施计划,严格执行,详细记录"


async def test_task_messages_name_the_item_and_the_level_it_lost(harness: Harness) -> None:
    s = await setup_task(harness)
    responsible, manager, inspector = s["responsible"], s["manager"], s["inspector"]
    assert "问题：未达标：应「符合」，评为「不符合」（0/1分）" in task_message(responsible).text
    async with harness.db.read() as tx:
        task = await tx.tasks.get(1)
    assert task is not None and task.finding == "未达标：应「符合」，评为「不符合」（0/1分）"
    await responsible.press(task_message(responsible).button("申请延期"))
    assert ITEM_1 in responsible.chat.last.text
    await responsible.tap("+7天")
    await responsible.text("需要等供应商到货")
    assert ITEM_1 in responsible.chat.last.text
    request = manager.chat.with_buttons()
    assert f"第 1 项：{ITEM_1}" in request.text
    assert "检查结果：0分 不符合" in request.text
    await manager.tap("批准")
    assert ITEM_1 in manager.chat.last.text
    assert any("达标时间改为" in t and ITEM_1 in t for t in responsible.chat.texts())
    await responsible.press(task_message(responsible).button("已整改"))
    assert ITEM_1 in responsible.chat.last.text
    await responsible.photo(b"after")
    await responsible.tap("提交复查")
    assert ITEM_1 in responsible.chat.last.text
    await inspector.tap("通过")
    assert ITEM_1 in inspector.chat.last.text
    assert ITEM_1 in responsible.chat.last.text


async def test_reminders_and_overdue_lists_name_the_item(harness: Harness) -> None:
    s = await setup_task(harness)
    short = "根据物业管理方案制作精神文明建…"
    harness.clock.advance(days=10)
    await ReminderSweeper(harness.db, harness.clock).sweep()
    await harness.flush()
    reminder = next(t for t in s["responsible"].chat.texts() if "整改提醒" in t)
    assert f"第1项 {short}" in reminder
    escalation = next(t for t in s["manager"].chat.texts() if "逾期督办" in t)
    assert f"第1项 {short}" in escalation
    await s["manager"].command("overdue")
    assert f"第1项 {short}" in s["manager"].chat.last.text
    await s["responsible"].command("tasks")
    assert f"第1项 {short}" in s["responsible"].chat.last.text


async def test_inspector_sees_fixes_to_verify_and_the_tasks_they_started(
    harness: Harness,
) -> None:
    s = await setup_task(harness)
    inspector, responsible = s["inspector"], s["responsible"]
    await inspector.command("help")
    assert "整改任务（/tasks）" in inspector.chat.last.text
    await inspector.command("resume")
    await inspector.tap("阳光花园")
    await inspector.tap("0分")
    await inspector.tap("李四")
    await inspector.tap("确认创建")
    await inspector.command("tasks")
    started = inspector.chat.last.text
    assert "目前没有未完成的整改任务" not in started
    assert "<b>我发起的整改</b>（2 项" in started
    assert "#1 阳光花园 第1项" in started and "待整改" in started and "张三" in started
    assert "#2 阳光花园 第2项" in started and "李四" in started
    assert not [t for t in inspector.chat.texts() if "待我复查" in t]
    await responsible.press(task_message(responsible).button("已整改"))
    await responsible.photo(b"after")
    await responsible.tap("提交复查")
    await inspector.command("tasks")
    to_verify, rest = inspector.chat.messages[-2:]
    assert "<b>待我复查</b>（1 项" in to_verify.text and "#1 阳光花园" in to_verify.text
    assert "<b>我发起的整改</b>（1 项" in rest.text and "#2 阳光花园" in rest.text
    await inspector.press(to_verify.button("#1"))
    detail = inspector.chat.last
    assert "待复查" in detail.text
    assert detail.labels == ["✅ 通过", "↩ 退回"]
    await inspector.tap("通过")
    assert await task_status(harness) is TaskStatus.DONE


async def test_an_inspector_whose_only_task_waits_for_them_is_not_told_there_is_none(
    harness: Harness,
) -> None:
    s = await setup_task(harness)
    inspector, responsible = s["inspector"], s["responsible"]
    await responsible.press(task_message(responsible).button("已整改"))
    await responsible.photo(b"after")
    await responsible.tap("提交复查")
    sent = len(inspector.chat.messages)
    await inspector.command("tasks")
    listed = inspector.chat.messages[sent:]
    assert len(listed) == 1
    assert "<b>待我复查</b>（1 项" in listed[0].text and "#1 阳光花园" in listed[0].text
    assert "目前没有未完成的整改任务" not in listed[0].text


async def test_task_details_show_the_photos_before_and_after(harness: Harness) -> None:
    s = await setup_task(harness)
    responsible, manager = s["responsible"], s["manager"]
    await responsible.press(task_message(responsible).button("已整改"))
    await responsible.photo(b"after-1")
    await responsible.photo(b"after-2")
    await responsible.tap("提交复查")
    await manager.command("tasks")
    await manager.tap("#1")
    before, after, card = manager.chat.messages[-3:]
    assert len(before.photos) == 1 and before.text == "整改任务 #1 · 整改前照片 1 张"
    assert len(after.photos) == 2 and after.text == "整改任务 #1 · 整改后照片 2 张"
    assert "<b>整改任务 #1</b>" in card.text and "整改前 1 张，整改后 2 张" in card.text


async def test_a_fix_photo_taken_before_the_task_is_flagged_to_the_verifier(
    harness: Harness,
) -> None:
    """The task is created 11-02 10:00 (Asia/Shanghai); a fix photo whose EXIF says 10-28 is
    flagged in the review request and the task's history, one taken after it and one without
    EXIF are not, and nothing is blocked."""
    s = await setup_task(harness)
    responsible, inspector = s["responsible"], s["inspector"]
    await responsible.press(task_message(responsible).button("已整改"))
    await responsible.photo(photo("2026:10:28 09:00:00"))
    await responsible.photo(photo("2026:11:02 11:30:00"))
    await responsible.photo(photo())
    await responsible.tap("提交复查")
    assert await task_status(harness) is TaskStatus.REVIEW
    review = inspector.chat.with_buttons()
    flag = "⚠️ 整改后照片拍摄于 10-28 09:00，早于任务创建时间 11-02 10:00，请核实是否为旧照片。"
    assert flag in review.text
    assert review.text.count("⚠️") == 1
    await s["manager"].command("tasks")
    await s["manager"].tap("#1")
    history = s["manager"].chat.last.text
    assert "记录：" in history and f"· {flag}" in history


async def _place_site(harness: Harness, position: tuple[float, float] | None) -> None:
    async with harness.db.transaction() as tx:
        site = await tx.sites.by_name("阳光花园")
        assert site is not None
        await tx.sites.set_position(site.id, position)


async def test_a_fix_photo_taken_far_from_the_site_is_flagged_to_the_verifier(
    harness: Harness,
) -> None:
    """The site has coordinates; of three fix photos one was taken 3 km away (flagged in the
    review request and the task's history), one 300 m away (within the default 500 m) and one
    without GPS (not flagged); nothing is blocked."""
    s = await setup_task(harness)
    await _place_site(harness, SITE)
    responsible, inspector = s["responsible"], s["inspector"]
    await responsible.press(task_message(responsible).button("已整改"))
    await responsible.photo(gps_photo(offset(3000)))
    await responsible.photo(gps_photo(offset(300)))
    await responsible.photo(gps_photo(None))
    await responsible.tap("提交复查")
    assert await task_status(harness) is TaskStatus.REVIEW
    review = inspector.chat.with_buttons()
    flag = "⚠️ 整改后照片的拍摄地点距项目 3.0 公里（超过 500 米），请核实是否在本项目拍摄。"
    assert flag in review.text
    assert review.text.count("⚠️") == 1
    await s["manager"].command("tasks")
    await s["manager"].tap("#1")
    history = s["manager"].chat.last.text
    assert "记录：" in history and f"· {flag}" in history


async def test_gps_is_not_judged_for_a_site_without_coordinates(harness: Harness) -> None:
    s = await setup_task(harness)
    responsible, inspector = s["responsible"], s["inspector"]
    await responsible.press(task_message(responsible).button("已整改"))
    await responsible.photo(gps_photo(offset(300_000)))
    await responsible.tap("提交复查")
    assert await task_status(harness) is TaskStatus.REVIEW
    assert "⚠️" not in inspector.chat.with_buttons().text


async def test_fix_photos_taken_after_the_task_raise_no_flag(harness: Harness) -> None:
    s = await setup_task(harness)
    responsible, inspector = s["responsible"], s["inspector"]
    await responsible.press(task_message(responsible).button("已整改"))
    await responsible.photo(photo("2026:11:02 10:01:00"))
    await responsible.tap("提交复查")
    assert "⚠️" not in inspector.chat.with_buttons().text


def _variant(data: bytes, *, side: int | None = None, quality: int = 90) -> bytes:
    """The same photo resized and/or recompressed (what a chat app does when it is re-sent)."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    if side:
        image.thumbnail((side, side))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


async def test_a_fix_photo_that_is_the_finding_photo_again_is_flagged(harness: Harness) -> None:
    """The before-photo re-sent smaller and recompressed as the "after" photo is flagged to the
    verifier (message, album beside it, history); a different scene is not; nothing blocks."""
    seeded = await harness.seed()
    inspector = harness.user(101)
    await inspector.command("start", seeded["codes"]["王检查"])
    responsible = harness.user(102)
    await responsible.command("start", seeded["codes"]["张三"])
    await inspector.command("inspect")
    await inspector.tap("阳光花园")
    before = jpeg(1, (1280, 960), noise=10)
    await inspector.photo(before)
    await inspector.tap("0分")
    await inspector.tap("确认创建")
    await responsible.press(task_message(responsible).button("已整改"))
    await responsible.photo(jpeg(2, (1280, 960), noise=10))
    await responsible.photo(_variant(before, side=640, quality=60))
    await responsible.tap("提交复查")
    assert await task_status(harness) is TaskStatus.REVIEW
    review = inspector.chat.with_buttons()
    flag = "⚠️ 整改后照片与 11-02 第 1 项的照片几乎相同，请核实是否重复使用。"
    assert flag in review.text and review.text.count("⚠️") == 1
    at = inspector.chat.messages.index(review)
    assert (inspector.chat.messages[at - 1].text, len(inspector.chat.messages[at - 1].photos)) == (
        "几乎相同的原照片（1 张）",
        1,
    )
    await responsible.command("tasks")
    await responsible.tap("#1")
    assert f"· {flag}" in responsible.chat.last.text


async def test_a_new_photo_of_another_scene_is_not_flagged(harness: Harness) -> None:
    s = await setup_task(harness)
    responsible, inspector = s["responsible"], s["inspector"]
    await responsible.press(task_message(responsible).button("已整改"))
    await responsible.photo(jpeg(3, (1280, 960), noise=10))
    await responsible.tap("提交复查")
    assert "⚠️" not in inspector.chat.with_buttons().text
