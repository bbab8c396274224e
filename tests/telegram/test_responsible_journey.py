"""The responsible staff's journey through the real Telegram adapter and the fake Bot API: a
task walked through every transition, reminders and escalations over a simulated month, a
restart in the middle, quiet hours, and a 责任人 who binds late."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.flows.reminder_sweep import ReminderSweeper
from storage.records import TaskStatus
from tests.fakes.telegram_api import FakeTelegramAPI, FakeUser, StoredMessage
from tests.telegram.botrunner import BotRunner, Clock

SHANGHAI = ZoneInfo("Asia/Shanghai")
JPEG = b"\xff\xd8\xff\xe0" + b"photo" * 40


def card(fake: FakeTelegramAPI, user: FakeUser, task_id: int = 1) -> StoredMessage:
    for message in reversed(fake.messages(user.id)):
        if (message.content or "").find(f"整改任务 #{task_id}　") >= 0 and message.buttons():
            return message
    raise AssertionError(fake.dump())


async def press(bot: BotRunner, user: FakeUser, message: StoredMessage, label: str) -> int:
    data = next(d for t, d in message.buttons() if label in t and d)
    return await bot.act(user.press(message, data))


async def status(bot: BotRunner, task_id: int = 1) -> TaskStatus:
    async with bot.db.read() as tx:
        task = await tx.tasks.get(task_id)
    assert task is not None
    return task.status


def texts(fake: FakeTelegramAPI, user: FakeUser, marker: str) -> list[str]:
    return [t for t in fake.texts(user.id) if marker in t]


@pytest.mark.database_neutral
async def test_task_lifecycle_and_a_month_of_reminders(
    fake: FakeTelegramAPI, tmp_path: Path, database_url: str
) -> None:
    clock = Clock()
    clock.now = datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)
    bot = BotRunner(fake, tmp_path, clock, url=database_url)
    await bot.start()
    seeded = await bot.seed()
    inspector, zhang, li, manager = (
        fake.user(7001, "王检查"),
        fake.user(7002, "张三"),
        fake.user(7003, "李四"),
        fake.user(7004, "赵经理"),
    )
    for user, name in ((inspector, "王检查"), (zhang, "张三"), (manager, "赵经理")):
        await bot.act(user.send_command("start", seeded["codes"][name]))
    await bot.act(inspector.send_command("inspect"))
    await bot.tap(inspector, "阳光花园")
    await bot.act(inspector.send_photo(JPEG))
    await bot.tap(inspector, "0分")
    await bot.tap(inspector, "确认创建")
    await bot.tap(inspector, "0.5分")
    await bot.tap(inspector, "李四")
    await bot.tap(inspector, "确认创建")
    assert any("李四 还没有绑定聊天账号" in t for t in fake.texts(inspector.id))
    assert any("李四 还没有绑定聊天账号" in t for t in fake.texts(manager.id))

    task_card = card(fake, zhang)
    assert "新的整改任务" in (task_card.content or "")
    photo = fake.messages(zhang.id)[fake.messages(zhang.id).index(task_card) - 1]
    assert photo.photo

    await press(bot, zhang, task_card, "申请延期")
    await bot.tap(zhang, "+7天")
    await bot.act(zhang.send_text("等材料"))
    await bot.tap(manager, "批准")
    assert texts(fake, zhang, "达标时间改为 2026-11-16")
    await press(bot, zhang, card(fake, zhang), "申请延期")
    await bot.act(zhang.send_text("2026-12-31"))
    await bot.act(zhang.send_text("还要更久"))
    await bot.tap(manager, "驳回")
    assert texts(fake, zhang, "延期申请未获批准")

    sweeper = ReminderSweeper(bot.db, clock)

    async def run_until(end: datetime) -> None:
        while clock.now + timedelta(hours=1) <= end:
            clock.now += timedelta(hours=1)
            await sweeper.sweep()
            await bot.delivered()

    await run_until(datetime(2026, 11, 13, 12, 0, tzinfo=SHANGHAI))
    reminders = texts(fake, zhang, "整改提醒")
    assert len(reminders) == 1
    assert "还有 3 天到期（11-16）" in reminders[0]

    await bot.stop()
    clock.now = datetime(2026, 11, 16, 22, 0, tzinfo=SHANGHAI)
    await bot.start()
    sweeper = ReminderSweeper(bot.db, clock)
    await sweeper.sweep()
    await bot.delivered()
    assert len(texts(fake, zhang, "整改提醒")) == 1
    await run_until(datetime(2026, 11, 17, 8, 30, tzinfo=SHANGHAI))
    assert len(texts(fake, zhang, "整改提醒")) == 1
    await run_until(datetime(2026, 11, 17, 9, 30, tzinfo=SHANGHAI))
    reminders = texts(fake, zhang, "整改提醒")
    assert len(reminders) == 2
    assert "已逾期 1 天" in reminders[1]
    assert reminders[1].count("#1 ") == 1

    await run_until(datetime(2026, 11, 19, 12, 0, tzinfo=SHANGHAI))
    assert texts(fake, manager, "逾期督办")

    await press(bot, zhang, card(fake, zhang), "已整改")
    await bot.act(zhang.send_photo(JPEG + b"after"))
    await bot.tap(zhang, "提交复查")
    assert await status(bot) is TaskStatus.REVIEW
    await bot.tap(inspector, "退回")
    await bot.act(inspector.send_text("还有污渍"))
    assert await status(bot) is TaskStatus.OPEN
    assert texts(fake, zhang, "原因：还有污渍")
    await press(bot, zhang, bot.keyboard(zhang.id), "已整改")
    await bot.act(zhang.send_photo(JPEG + b"after-2"))
    await bot.tap(zhang, "提交复查")
    review = bot.keyboard(inspector.id)
    assert "整改前 1 张，整改后 2 张" in (review.content or "")
    await bot.tap(inspector, "通过")
    assert await status(bot) is TaskStatus.DONE
    assert texts(fake, zhang, "已通过复查")

    stale = card(fake, zhang)
    await press(bot, zhang, stale, "申请延期")
    assert fake.answered_callbacks[-1]["text"] == "这个整改任务已完成，按钮不再有效。"
    forged = await bot.act(li.send_command("start", seeded["codes"]["李四"]))
    assert forged
    li_card = card(fake, li, 2)
    assert "待处理的整改任务" in (li_card.content or "")
    await bot.act(li.press(stale, next(d for t, d in stale.buttons() if d), strict=False))

    before = len(texts(fake, zhang, "整改提醒"))
    escalated = len(texts(fake, manager, "逾期督办"))
    await run_until(datetime(2026, 12, 2, 12, 0, tzinfo=SHANGHAI))
    assert len(texts(fake, zhang, "整改提醒")) == before
    assert texts(fake, li, "整改提醒")
    everything = texts(fake, manager, "逾期督办")
    assert all("#1 " not in e for e in everything[escalated:])
    # Each task's first rung (the site's manager) once: #1 on 11-17, #2 on 11-18.
    assert [sum(f"#{n} " in e for e in everything) for n in (1, 2)] == [1, 1]
    async with bot.db.read() as tx:
        events = await tx.tasks.events(1)
    kinds = [e.kind.value for e in events]
    assert kinds.count("status") == 4
    assert "extension_approved" in kinds and "extension_rejected" in kinds
    assert "reminder_sent" in kinds and "escalated" in kinds
    await bot.stop()


async def test_a_changed_answer_and_the_inspectors_task_lists(
    fake: FakeTelegramAPI, tmp_path: Path, database_url: str
) -> None:
    """The 责任人 is told in Telegram when a task is withdrawn; an inspector's /tasks lists the
    fixes to verify, and 查看详情 sends the photos before and after, each album captioned."""
    clock = Clock()
    clock.now = datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)
    bot = BotRunner(fake, tmp_path, clock, url=database_url)
    await bot.start()
    seeded = await bot.seed()
    inspector, zhang = fake.user(7101, "王检查"), fake.user(7102, "张三")
    for user, name in ((inspector, "王检查"), (zhang, "张三")):
        await bot.act(user.send_command("start", seeded["codes"][name]))
    await bot.act(inspector.send_command("inspect"))
    await bot.tap(inspector, "阳光花园")
    await bot.act(inspector.send_photo(JPEG))
    await bot.tap(inspector, "0分")
    await bot.tap(inspector, "确认创建")
    first = card(fake, zhang)
    await bot.tap(inspector, "上一项")
    await bot.tap(inspector, "1分")
    withdrawn = texts(fake, zhang, "整改任务 #1 已撤销")
    assert len(withdrawn) == 1 and "第 1 项：根据物业管理方案制作精神文明建设方案" in withdrawn[0]
    assert await status(bot) is TaskStatus.WITHDRAWN
    await press(bot, zhang, first, "已整改")
    assert fake.answered_callbacks[-1]["text"] == "这个整改任务已撤销，按钮不再有效。"

    await bot.act(inspector.send_photo(JPEG + b"2"))
    await bot.tap(inspector, "0分")
    await bot.tap(inspector, "确认创建")
    await press(bot, zhang, card(fake, zhang, 2), "已整改")
    await bot.act(zhang.send_photo(JPEG + b"after-1"))
    await bot.act(zhang.send_photo(JPEG + b"after-2"))
    await bot.tap(zhang, "提交复查")
    await bot.act(inspector.send_command("tasks"))
    listing = bot.keyboard(inspector.id)
    assert "待我复查" in (listing.content or "")
    assert "#2 阳光花园 第2项 服务与被服务双方签订规范的物业…" in (listing.content or "")
    await bot.tap(inspector, "#2")
    before, after_1, after_2, detail = fake.messages(inspector.id)[-4:]
    assert before.photo and before.content == "整改任务 #2 · 整改前照片 1 张"
    assert after_1.photo and after_1.content == "整改任务 #2 · 整改后照片 2 张"
    assert after_2.photo and after_2.media_group_id == after_1.media_group_id
    assert [t for t, _ in detail.buttons()] == ["✅ 通过", "↩ 退回"]
    await bot.tap(inspector, "通过")
    assert await status(bot, 2) is TaskStatus.DONE
    await bot.stop()
