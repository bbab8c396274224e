"""A photo Telegram does not hand over: fetched again after a server error, and when it keeps
failing the person is asked to send it again (nothing is attached, the update is done)."""

from __future__ import annotations

import pytest

from bot.handlers import telegram
from storage.records import Channel
from tests.fakes.telegram_api import FakeTelegramAPI, FakeUser
from tests.telegram.botrunner import BotRunner
from tests.telegram.test_inspector_journey import JPEG, bound_inspector

pytestmark = pytest.mark.database_neutral


@pytest.fixture(autouse=True)
def short_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(telegram, "FILE_RETRY_PAUSES", (0.05, 0.1))


async def open_first_item(bot: BotRunner, fake: FakeTelegramAPI) -> FakeUser:
    user, _ = await bound_inspector(bot, fake)
    await bot.act(user.send_command("inspect"))
    await bot.tap(user, "阳光花园")
    return user


async def photos_on_item(bot: BotRunner, item_no: int) -> int:
    async with bot.db.read() as tx:
        return (await tx.evidence.count_by_item(1)).get(item_no, 0)


async def test_a_file_is_fetched_again_after_a_server_error(
    bot: BotRunner, fake: FakeTelegramAPI
) -> None:
    user = await open_first_item(bot, fake)
    fake.fail_next("getFile", 2)
    await bot.act(user.send_photo(JPEG))
    assert len(fake.calls("getFile")) == 3
    assert await photos_on_item(bot, 1) == 1
    assert "没能收到" not in "\n".join(fake.texts(user.id))


async def test_a_file_that_keeps_failing_is_asked_for_again(
    bot: BotRunner, fake: FakeTelegramAPI
) -> None:
    user = await open_first_item(bot, fake)
    fake.fail_next("getFile", 3)
    update_id = await user.send_photo(JPEG)
    failed = "没能收到这个文件，请稍后再发一次。"
    await fake.wait_for(lambda: failed in fake.texts(user.id), timeout=10)
    assert len(fake.calls("getFile")) == 3
    assert fake.downloads == []
    assert await photos_on_item(bot, 1) == 0
    # The update is done: it leaves the inbox with the next batch and is not tried again.
    await bot.act(user.send_command("status"))
    async with bot.db.read() as tx:
        pending = [key for key, _ in await tx.inbox.pending(Channel.TELEGRAM)]
    assert f"u{update_id}" not in pending
    # The item is still open: the next photo is attached to it.
    await bot.act(user.send_photo(JPEG + b"2"))
    assert await photos_on_item(bot, 1) == 1
