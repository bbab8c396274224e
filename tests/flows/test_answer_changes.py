"""A changed answer keeps its rectification task true: withdrawn (已撤销) at full marks or 不适用,
rescored at another losing level, the 责任人 told either way, from any chat of the inspector."""

from __future__ import annotations

from datetime import timedelta

from bot.flows.reminder_sweep import ReminderSweeper
from bot.reports.model import load_report
from storage.records import Channel, TaskEventKind, TaskStatus
from tests.flows.harness import Harness, User
from tests.flows.test_inspection import STANDARD, current_item
from tests.flows.test_tasks import setup_task, task_message

ITEM_1 = "根据物业管理方案制作精神文明建设方案和实施计划"


async def back_to_item_1(inspector: User) -> None:
    await inspector.tap("上一项")
    assert current_item(inspector) == 1


async def test_full_marks_withdraw_the_task_everywhere(harness: Harness) -> None:
    s = await setup_task(harness)
    inspector, responsible, manager = s["inspector"], s["responsible"], s["manager"]
    old_card = task_message(responsible)
    harness.clock.advance(minutes=5)
    await back_to_item_1(inspector)
    await inspector.tap("1分")
    assert current_item(inspector) == 2
    assert any(
        "整改任务 #1（第 1 项）已撤销，已通知责任人 张三" in t for t in inspector.chat.texts()
    )
    told = responsible.chat.last.text
    assert "<b>整改任务 #1 已撤销</b>" in told
    assert ITEM_1 in told
    assert "检查结果改为「1分 符合」" in told
    async with harness.db.read() as tx:
        task = await tx.tasks.get(1)
        events = await tx.tasks.events(1)
        reminders = await tx.reminders.for_task(1)
        pending = [r for r in reminders if r.cancelled_at is None and r.sent_at is None]
        counts = await tx.tasks.counts([s["site"].id], harness.clock.now.date() + timedelta(30))
        overdue = await tx.tasks.overdue([s["site"].id], harness.clock.now.date() + timedelta(30))
        items = await tx.tasks.items_with_tasks(1)
    assert task is not None and task.status is TaskStatus.WITHDRAWN
    assert task.closed_at == harness.clock.now
    last = events[-1]
    assert (last.kind, last.from_status, last.to_status) == (
        TaskEventKind.STATUS,
        TaskStatus.OPEN,
        TaskStatus.WITHDRAWN,
    )
    assert last.actor_id == s["people"]["王检查"].id
    assert last.at == harness.clock.now
    assert last.reason == "检查结果改为 1分 符合"
    assert reminders and not pending
    assert task.is_overdue(harness.clock.now.date() + timedelta(30)) is False
    count = counts[s["site"].id]
    assert (count.open, count.review, count.done, count.overdue) == (0, 0, 0, 0)
    assert overdue == [] and items == set()
    await responsible.press(old_card.button("已整改"))
    assert responsible.chat.toasts[-1] == ("这个整改任务已撤销，按钮不再有效。", True)
    await responsible.command("tasks")
    assert "目前没有未完成的整改任务" in responsible.chat.last.text
    harness.clock.advance(days=30)
    await manager.command("overdue")
    assert "没有逾期的整改任务" in manager.chat.last.text
    before = len(responsible.chat.messages)
    report = await ReminderSweeper(harness.db, harness.clock).sweep()
    await harness.flush()
    assert report.sent == 0 and len(responsible.chat.messages) == before


async def test_not_applicable_withdraws_the_task(harness: Harness) -> None:
    s = await setup_task(harness)
    await back_to_item_1(s["inspector"])
    await s["inspector"].tap("不适用")
    assert "检查结果改为「不适用」" in s["responsible"].chat.last.text
    async with harness.db.read() as tx:
        task = await tx.tasks.get(1)
    assert task is not None and task.status is TaskStatus.WITHDRAWN


async def test_another_losing_level_rescores_the_task(harness: Harness) -> None:
    s = await setup_task(harness)
    inspector, responsible = s["inspector"], s["responsible"]
    assert "问题：未达标：应「符合」，评为「不符合」（0/1分）" in task_message(responsible).text
    await back_to_item_1(inspector)
    await inspector.tap("0.5分")
    assert current_item(inspector) == 2
    assert any(
        "整改任务 #1（第 1 项）的检查结果已改为 0.5分 部分符合" in t for t in inspector.chat.texts()
    )
    card = task_message(responsible)
    assert "<b>检查结果已更改</b>" in card.text
    assert "检查结果：0.5分 部分符合" in card.text
    assert "问题：未达标：应「符合」，评为「部分符合」（0.5/1分）" in card.text
    assert card.labels == ["已整改，上传照片", "申请延期", "查看详情"]
    async with harness.db.read() as tx:
        task = await tx.tasks.get(1)
        events = await tx.tasks.events(1)
    assert task is not None and task.status is TaskStatus.OPEN and task.score == 0.5
    assert events[-1].kind is TaskEventKind.RESCORED
    assert events[-1].actor_id == s["people"]["王检查"].id
    assert events[-1].data["from"] == 0 and events[-1].data["to"] == 0.5
    await responsible.press(card.button("查看详情"))
    detail = responsible.chat.last.text
    assert "检查结果：0.5分 部分符合" in detail
    assert "更改检查结果（检查结果改为 0.5分 部分符合）" in detail


async def test_a_note_written_by_the_inspector_stays_the_finding(harness: Harness) -> None:
    seeded = await harness.seed()
    inspector = harness.user(101)
    await inspector.command("start", seeded["codes"]["王检查"])
    await inspector.command("inspect")
    await inspector.tap("阳光花园")
    await inspector.tap("备注")
    await inspector.text("方案未张贴")
    await inspector.tap("0.5分")
    await inspector.tap("确认创建")
    await back_to_item_1(inspector)
    await inspector.tap("0分")
    async with harness.db.read() as tx:
        task = await tx.tasks.get(1)
    assert task is not None and (task.finding, task.score) == ("方案未张贴", 0)


async def test_the_change_from_another_chat_follows_too(harness: Harness) -> None:
    s = await setup_task(harness)
    async with harness.db.transaction() as tx:
        wang = s["people"]["王检查"].id
        await tx.identities.bind(wang, Channel.WEB, "web-wang", chat_id="web-wang")
    web = User(harness, "web-wang", Channel.WEB)
    await web.command("resume")
    await web.tap("阳光花园")
    assert current_item(web) == 2
    await back_to_item_1(web)
    await web.tap("1分")
    assert "<b>整改任务 #1 已撤销</b>" in s["responsible"].chat.last.text
    async with harness.db.read() as tx:
        task = await tx.tasks.get(1)
    assert task is not None and task.status is TaskStatus.WITHDRAWN


async def test_losing_points_again_after_a_withdrawal_makes_a_new_task(
    harness: Harness,
) -> None:
    s = await setup_task(harness)
    inspector = s["inspector"]
    await back_to_item_1(inspector)
    await inspector.tap("1分")
    await back_to_item_1(inspector)
    await inspector.tap("0分")
    assert "整改任务 · 第 1 项" in inspector.chat.with_buttons().text
    await inspector.tap("确认创建")
    async with harness.db.read() as tx:
        tasks = await tx.tasks.for_inspection(1)
    assert [(t.id, t.status) for t in tasks] == [
        (1, TaskStatus.WITHDRAWN),
        (2, TaskStatus.OPEN),
    ]


async def test_a_submitted_inspection_is_final(harness: Harness) -> None:
    s = await setup_task(harness)
    inspector = s["inspector"]
    await back_to_item_1(inspector)
    full_marks = inspector.chat.with_buttons().button("1分")
    await inspector.tap("0分")
    assert current_item(inspector) == 2
    await answer_all_from(inspector, 2)
    await inspector.tap("提交检查")
    await inspector.press(full_marks)
    assert inspector.chat.toasts[-1][1] is True
    await inspector.command("resume")
    assert "没有" in inspector.chat.last.text
    async with harness.db.read() as tx:
        task = await tx.tasks.get(1)
        answer = await tx.answers.get(1, 1)
    assert task is not None and task.status is TaskStatus.OPEN
    assert answer is not None and answer.score == 0


async def test_a_withdrawn_task_is_no_finding_of_the_result(harness: Harness) -> None:
    s = await setup_task(harness)
    inspector = s["inspector"]
    await back_to_item_1(inspector)
    await inspector.tap("1分")
    await answer_all_from(inspector, 2)
    await inspector.tap("提交检查")
    result = next(t for t in inspector.chat.texts() if "检查完成：阳光花园" in t)
    assert "没有整改任务" in result and "#1" not in result
    model = await load_report(harness.db, 1)
    assert model.tasks == ()
    row = model.sections[0].items[0]
    assert (row.no, row.score, row.status, row.responsible) == (1, 1, "", "")


async def answer_all_from(user: User, first: int) -> None:
    for item in STANDARD.items:
        if item.no < first:
            continue
        assert current_item(user) == item.no, user.chat.last.text
        await user.tap(f"{item.levels[0].score:g}分 {item.levels[0].label}")
