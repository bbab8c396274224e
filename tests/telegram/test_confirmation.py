"""项目确认 and an appeal through the real Telegram adapter and the fake Bot API: the site's
manager confirms a result in one tap; on another, appeals a finding with a photo and a reason,
and the inspector's 撤销 withdraws the task."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path

from storage.records import ConfirmHow, ResultStatus, TaskStatus
from tests.confirm_seed import answered
from tests.fakes.telegram_api import FakeTelegramAPI, FakeUser, StoredMessage
from tests.telegram.botrunner import BotRunner, Clock

JPEG = b"\xff\xd8\xff\xe0" + b"appeal" * 40


def entry(fake: FakeTelegramAPI, user: FakeUser, text: str) -> StoredMessage:
    for message in reversed(fake.messages(user.id)):
        if text in (message.content or "") and message.buttons():
            return message
    raise AssertionError(fake.dump())


class RealTime(Clock):
    """The bot's clock follows real time: a report row whose file is still rendering goes
    back to the outbox for a few seconds and must come due again."""

    def __call__(self) -> datetime:
        return datetime.now(UTC)


async def act(bot: BotRunner, update: Awaitable[int]) -> None:
    """Like `BotRunner.act`, with time for the report files a submission or a decision
    renders in worker processes (slow on a busy machine)."""
    update_id = await update
    await bot.fake.wait_for(lambda: bot.settled(update_id), timeout=120)


async def press(bot: BotRunner, user: FakeUser, message: StoredMessage, label: str) -> None:
    data = next(d for t, d in message.buttons() if label in t and d)
    await act(bot, user.press(message, data))


async def submit(bot: BotRunner, fake: FakeTelegramAPI) -> tuple[FakeUser, FakeUser, int]:
    seeded = await bot.seed()
    async with bot.db.transaction() as tx:
        inspection_id = await answered(tx, seeded["site"], seeded["people"])
    inspector, manager = fake.user(7001, "王检查"), fake.user(7004, "赵经理")
    for user, name in ((inspector, "王检查"), (manager, "赵经理")):
        await bot.act(user.send_command("start", seeded["codes"][name]))
    await bot.act(inspector.send_command("resume"))
    await bot.tap(inspector, "阳光花园")
    await press(bot, inspector, bot.keyboard(inspector.id), "提交检查")
    return inspector, manager, inspection_id


async def test_confirm_all_on_telegram(fake: FakeTelegramAPI, tmp_path: Path) -> None:
    bot = BotRunner(fake, tmp_path, RealTime())
    await bot.start()
    inspector, manager, inspection_id = await submit(bot, fake)
    assert entry(fake, manager, "不合格项 第 1 项") is not None
    request = entry(fake, manager, "检查结果待确认")
    assert [t for t, _ in request.buttons()] == ["✅ 全部确认"]
    await press(bot, manager, request, "全部确认")
    assert any("✅ 已确认 阳光花园 的检查结果" in t for t in fake.texts(manager.id))
    assert any("检查结果已确认：阳光花园" in t for t in fake.texts(inspector.id))
    async with bot.db.read() as tx:
        when = await tx.confirmations.get(inspection_id)
    assert when is not None
    assert (when.status, when.how) == (ResultStatus.CONFIRMED, ConfirmHow.CONFIRMED)
    await bot.stop()


async def test_an_appeal_and_its_decision_on_telegram(
    fake: FakeTelegramAPI, tmp_path: Path
) -> None:
    bot = BotRunner(fake, tmp_path, RealTime())
    await bot.start()
    inspector, manager, inspection_id = await submit(bot, fake)
    await press(bot, manager, entry(fake, manager, "不合格项 第 1 项"), "申诉")
    await act(bot, manager.send_photo(JPEG))
    await act(bot, manager.send_text("记录在档案室"))
    assert any("已提交第 1 项的申诉（附 1 张照片）" in t for t in fake.texts(manager.id))
    request = entry(fake, inspector, "申诉待裁决")
    assert "申诉理由：记录在档案室" in (request.content or "")
    await press(bot, inspector, request, "撤销")
    await act(bot, inspector.send_text("已核实档案"))
    assert any("裁决：撤销" in t for t in fake.texts(manager.id))
    async with bot.db.read() as tx:
        when = await tx.confirmations.get(inspection_id)
        tasks = await tx.tasks.for_inspection(inspection_id)
    assert when is not None and when.status is ResultStatus.PENDING
    assert [t.status for t in tasks if t.item_no == 1] == [TaskStatus.WITHDRAWN]
    await bot.stop()
