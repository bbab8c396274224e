"""A typed 达标时间 whose month and day have passed this year is refused with the reason (and
next year's date to type), in the task set-up and in an extension request; nothing changes."""

from __future__ import annotations

from tests.flows.harness import Harness
from tests.flows.test_inspection import begin, inspector
from tests.flows.test_tasks import setup_task, task_message

REFUSED = "今年的 12月5日 已经过去，达标时间不能早于今天。如果您指的是明年，请输入 2027-12-05。"


async def test_task_setup_refuses_a_month_and_day_already_past(harness: Harness) -> None:
    user, _ = await inspector(harness)
    harness.clock.advance(days=34)  # 2026-12-06 in Shanghai
    await begin(user)
    await user.tap("0分 不符合")
    await user.text("12月5日")
    assert user.chat.last.text == REFUSED
    assert "达标时间：<b>2026-12-13</b>" in user.chat.with_buttons().text
    await user.text("2027-12-05")
    assert "达标时间：<b>2027-12-05</b>" in user.chat.with_buttons().text
    await user.tap("确认创建")
    async with harness.db.read() as tx:
        (task,) = await tx.tasks.for_inspection(1)
    assert str(task.due_date) == "2027-12-05"


async def test_extension_date_refuses_a_month_and_day_already_past(harness: Harness) -> None:
    s = await setup_task(harness)
    responsible, manager = s["responsible"], s["manager"]
    harness.clock.advance(days=34)
    await responsible.press(task_message(responsible).button("申请延期"))
    await responsible.text("12月5日")
    assert responsible.chat.last.text == REFUSED
    await responsible.text("12月20日")
    await responsible.text("需要等供应商到货")
    assert "已提交延期申请（整改任务 #1 → 2026-12-20）" in responsible.chat.last.text
    assert "→ <b>2026-12-20</b>" in manager.chat.with_buttons().text


async def test_the_date_example_is_shown_on_the_first_task_set_up_only(
    harness: Harness,
) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    await user.tap("0分 不符合")
    first = user.chat.last.text
    assert "（如 12月5日、7天后）" in first
    await user.tap("确认创建")
    await user.tap("0分 不符合")
    second = user.chat.last.text
    assert "整改任务 · 第 2 项" in second
    assert "（如" not in second
    assert "或直接输入日期、姓名。" in second
