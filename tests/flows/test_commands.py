"""Which commands a person is offered (per role) and the Chinese command words: a word typed
as the whole message is its command, unless the conversation is waiting for typed input."""

from __future__ import annotations

from typing import Any

from storage.records import InspectionStatus
from tests.flows.harness import Harness, User


async def bound(harness: Harness, seeded: dict[str, Any], user_id: int, name: str) -> User:
    user = harness.user(user_id)
    await user.command("start", seeded["codes"][name])
    return user


async def test_help_and_the_idle_hint_offer_exactly_the_persons_commands(
    harness: Harness,
) -> None:
    seeded = await harness.seed()
    inspector = await bound(harness, seeded, 101, "王检查")
    responsible = await bound(harness, seeded, 102, "张三")
    manager = await bound(harness, seeded, 104, "赵经理")
    offered = {}
    for user in (inspector, responsible, manager):
        await user.text("帮助")
        help_text = user.chat.last.text
        offered[user.user_id] = [
            word
            for word in (
                "检查",
                "继续",
                "暂停",
                "进度",
                "任务",
                "统计",
                "逾期",
                "报告",
                "计划",
                "设置",
                "帮助",
            )
            if f"<b>{word}</b>" in help_text
        ]
    assert offered == {
        "101": ["检查", "继续", "暂停", "进度", "任务", "计划", "帮助"],
        "102": ["任务", "帮助"],
        "104": ["任务", "统计", "逾期", "报告", "计划", "设置", "帮助"],
    }
    assert "/stats" in manager.chat.last.text and "/inspect" not in manager.chat.last.text

    await responsible.text("收到")
    hint = responsible.chat.last.text
    assert "任务" in hint and "检查" not in hint and "/inspect" not in hint
    await inspector.text("收到")
    assert "检查、继续、暂停、进度、任务、计划、帮助" in inspector.chat.last.text


async def test_a_command_word_alone_is_its_command_in_any_channel_state(
    harness: Harness,
) -> None:
    seeded = await harness.seed()
    inspector = await bound(harness, seeded, 101, "王检查")
    manager = await bound(harness, seeded, 104, "赵经理")
    responsible = await bound(harness, seeded, 102, "张三")

    await inspector.text(" 检查 ")
    assert inspector.chat.last.text == "请选择要检查的项目："
    await inspector.tap("阳光花园")
    assert "第 1/62 项" in inspector.chat.last.text
    await inspector.text("进度")
    assert "阳光花园" in inspector.chat.last.text and "0/62 项" in inspector.chat.last.text
    await inspector.text("暂停")
    assert "已暂停：阳光花园" in inspector.chat.last.text
    await inspector.text("继续")
    assert "未完成的检查" in inspector.chat.last.text
    await inspector.command("检查")  # "/检查"
    assert "未完成的检查" in inspector.chat.last.text, "检查 offers the paused one first"

    await manager.text("统计")
    assert "项目排名" in manager.chat.last.text
    await manager.text("逾期")
    assert "没有逾期的整改任务" in manager.chat.last.text
    await manager.text("报告")
    assert "还没有已完成的检查" in manager.chat.last.text
    await manager.text("任务")
    assert "项目整改任务" in manager.chat.last.text
    await responsible.text("复查")
    assert "我的整改任务" in responsible.chat.last.text

    await inspector.text("统计")
    assert inspector.chat.last.text == "您没有权限进行这个操作。"


async def test_a_word_in_a_sentence_or_a_note_being_typed_is_not_a_command(
    harness: Harness,
) -> None:
    seeded = await harness.seed()
    inspector = await bound(harness, seeded, 101, "王检查")
    await inspector.text("检查一下")
    assert "可以发送这些命令词" in inspector.chat.last.text
    await inspector.command("inspect")
    await inspector.tap("阳光花园")
    await inspector.tap("备注")
    await inspector.text("暂停")
    saved, item = inspector.chat.messages[-2:]  # the note's receipt, then the item again
    assert saved.text.startswith("📝 已为第 1 项保存备注") and "已附：1条备注" in item.text
    async with harness.db.read() as tx:
        (inspection,) = await tx.inspections.open_for_inspector(1)
        notes = await tx.notes.for_item(inspection.id, 1)
    assert [n.text for n in notes] == ["暂停"]
    assert inspection.status is InspectionStatus.IN_PROGRESS

    await inspector.tap("0分")
    await inspector.tap("备注")  # the task's remark
    await inspector.text("报告")
    setup = inspector.chat.with_buttons()
    assert "报告" in setup.text and "✅ 确认创建" in setup.labels, "the remark, not a report"
