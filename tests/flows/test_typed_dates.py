"""A typed 达标时间 whose month and day have passed this year is not moved to next year
silently: the person is told so and asked, with one tap to take next year's date, in the task
set-up and in an extension request; until then nothing changes."""

from __future__ import annotations

from tests.flows.harness import Harness
from tests.flows.test_inspection import begin, inspector
from tests.flows.test_tasks import setup_task, task_message

ASKED = "今年的 12月5日 已经过去。您是指 2027-12-05 吗？如果不是，请重新输入日期。"


async def test_task_setup_asks_about_a_month_and_day_already_past(harness: Harness) -> None:
    user, _ = await inspector(harness)
    harness.clock.advance(days=34)  # 2026-12-06 in Shanghai
    await begin(user)
    await user.tap("0分 不符合")
    setup = user.chat.last
    await user.text("12月5日")
    question = user.chat.last
    assert question.text == ASKED
    assert question.labels == ["是，定为 2027-12-05"]
    assert "达标时间：<b>2026-12-13</b>" in setup.text  # unchanged until confirmed
    await user.tap("是，定为 2027-12-05")
    assert "达标时间：<b>2027-12-05</b>" in setup.text  # the set-up, edited in place
    await user.text("12月5日")
    await user.text("12月24日")  # re-entered instead: the proposal is not taken
    assert "达标时间：<b>2026-12-24</b>" in setup.text
    await user.press(setup.button("确认创建"))
    async with harness.db.read() as tx:
        (task,) = await tx.tasks.for_inspection(1)
    assert str(task.due_date) == "2026-12-24"


async def test_a_forged_date_button_is_refused(harness: Harness) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    await user.tap("0分 不符合")
    plus3 = user.chat.with_buttons().button("+3天")
    await user.press(plus3.rsplit(":", 1)[0] + ":300")  # a date never offered
    assert user.chat.toasts[-1][1] is True
    assert "达标时间：<b>2026-11-09</b>" in user.chat.with_buttons().text


async def test_extension_asks_about_a_month_and_day_already_past(harness: Harness) -> None:
    s = await setup_task(harness)
    responsible, manager = s["responsible"], s["manager"]
    harness.clock.advance(days=34)
    await responsible.press(task_message(responsible).button("申请延期"))
    await responsible.text("12月5日")
    assert responsible.chat.last.text == ASKED
    await responsible.tap("是，定为 2027-12-05")
    assert "2027-12-05" in responsible.chat.last.text
    await responsible.text("需要等供应商到货")
    assert "已提交延期申请（整改任务 #1 → 2027-12-05）" in responsible.chat.last.text
    assert "→ <b>2027-12-05</b>" in manager.chat.with_buttons().text


async def test_extension_date_typed_again_instead(harness: Harness) -> None:
    s = await setup_task(harness)
    responsible = s["responsible"]
    harness.clock.advance(days=34)
    await responsible.press(task_message(responsible).button("申请延期"))
    await responsible.text("12月5日")
    offer = responsible.chat.last.button("是，定为")
    await responsible.text("12月20日")
    await responsible.text("需要等供应商到货")
    assert "已提交延期申请（整改任务 #1 → 2026-12-20）" in responsible.chat.last.text
    await responsible.press(offer)  # the request was made: the offer is gone
    assert responsible.chat.toasts[-1][1] is True


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
