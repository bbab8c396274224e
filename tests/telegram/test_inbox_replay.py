"""Updates a process fetched (and so confirmed to Telegram) but never handled are not lost:
they wait in the inbox and the next start hands them to the flows; an update handled already
is not handled twice; handled updates leave the inbox."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientSession

from storage.db import Database
from storage.records import Channel
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.telegram.botrunner import BotRunner


async def fetch_like_a_crashed_process(fake: FakeTelegramAPI, runner: BotRunner) -> int:
    """Take the waiting update from the fake and confirm it, as polling does, and store it
    the way the adapter does before confirming; then "crash" (handle nothing)."""
    base = f"{fake.base_url}{fake.token}"
    async with ClientSession() as http:
        async with http.post(f"{base}/getUpdates", data={"timeout": "0"}) as response:
            updates = (await response.json())["result"]
        update = updates[-1]
        await store(runner, update)
        next_offset = str(update["update_id"] + 1)
        async with http.post(f"{base}/getUpdates", data={"offset": next_offset, "timeout": "0"}):
            pass
    assert fake.pending_update_ids == []
    return int(update["update_id"])


async def store(runner: BotRunner, update: dict[str, Any]) -> None:
    """Write to the inbox of the stopped bot's database, as the adapter does."""
    db = Database(runner.url)
    await db.open()
    try:
        async with db.transaction() as tx:
            await tx.inbox.add(Channel.TELEGRAM, [(f"u{update['update_id']}", update)])
    finally:
        await db.close()


async def inbox_keys(runner: BotRunner) -> list[str]:
    async with runner.db.read() as tx:
        return [key for key, _ in await tx.inbox.pending(Channel.TELEGRAM)]


async def test_fetched_but_unhandled_update_is_handled_after_restart(
    bot: BotRunner, fake: FakeTelegramAPI
) -> None:
    seeded = await bot.seed()
    await bot.stop()
    user = fake.user(5001, "王检查")
    await user.send_command("start", seeded["codes"]["王检查"])
    update_id = await fetch_like_a_crashed_process(fake, bot)
    assert fake.messages(user.id, include_user=False) == []

    await bot.start()
    await fake.wait_for(lambda: bot.settled(update_id), timeout=10)
    assert "欢迎，王检查！账号已绑定。" in (fake.last_message(user.id).content or "")
    await fake.wait_for(lambda: _empty(bot), timeout=10)
    assert fake.delivery_count(update_id) == 1


async def test_stored_update_that_was_handled_is_not_handled_twice(
    bot: BotRunner, fake: FakeTelegramAPI
) -> None:
    seeded = await bot.seed()
    user = fake.user(5001, "王检查")
    update_id = await bot.act(user.send_command("start", seeded["codes"]["王检查"]))
    answers = len(fake.messages(user.id, include_user=False))
    await bot.stop()
    await store(bot, fake.update(update_id))

    await bot.start()
    await fake.wait_for(lambda: _empty(bot), timeout=10)
    await bot.delivered()
    assert len(fake.messages(user.id, include_user=False)) == answers


async def test_handled_updates_leave_the_inbox(bot: BotRunner, fake: FakeTelegramAPI) -> None:
    seeded = await bot.seed()
    user = fake.user(5001, "王检查")
    await bot.act(user.send_command("start", seeded["codes"]["王检查"]))
    await bot.act(user.send_command("help"))
    await fake.wait_for(lambda: _empty(bot), timeout=10)


async def _empty(runner: BotRunner) -> bool:
    return await inbox_keys(runner) == []


async def test_an_unreadable_update_is_dropped_and_polling_goes_on(
    bot: BotRunner, fake: FakeTelegramAPI
) -> None:
    seeded = await bot.seed()
    broken = fake.inject_raw_update({"message": {"message_id": "x", "chat": "not an object"}})
    user = fake.user(5001, "王检查")
    await bot.act(user.send_command("start", seeded["codes"]["王检查"]))
    assert "欢迎，王检查！账号已绑定。" in (fake.last_message(user.id).content or "")
    assert fake.delivery_count(broken) == 1
    await fake.wait_for(lambda: _empty(bot), timeout=10)


async def test_an_update_not_handled_at_once_is_stored_before_it_is_confirmed(
    bot: BotRunner, fake: FakeTelegramAPI
) -> None:
    """Updates handled right away need no inbox row; one still being handled when polling
    goes on (here a photo whose download hangs) is in the inbox before the next getUpdates
    confirms it to Telegram, so a crash then loses nothing. Once handled it leaves again."""
    seeded = await bot.seed()
    user = fake.user(5001, "王检查")
    await bot.act(user.send_command("start", seeded["codes"]["王检查"]))
    # Handled within STORE_AFTER it is never stored; a slower database stores it, and it
    # leaves with the next batch.
    await fake.wait_for(lambda: _empty(bot), timeout=10)
    gate = fake.hold("getFile")
    photo_id = await user.send_photo(b"\xff\xd8 site photo")
    await fake.wait_for(lambda: fake.calls("getFile"), timeout=10)
    await fake.wait_for(lambda: photo_id not in fake.pending_update_ids, timeout=10)
    assert await inbox_keys(bot) == [f"u{photo_id}"]
    gate.set()
    await fake.wait_for(lambda: bot.settled(photo_id), timeout=10)
    await fake.wait_for(lambda: _empty(bot), timeout=10)


async def test_a_polled_update_with_ill_formed_text_is_refused_and_never_stored(
    bot: BotRunner, fake: FakeTelegramAPI
) -> None:
    """A lone surrogate (JSON "\\ud800") in a polled message: one polite line, and neither
    the inbox nor the flows keep anything of it; polling goes on."""
    seeded = await bot.seed()
    user = fake.user(5001, "王检查")
    await bot.act(user.send_command("start", seeded["codes"]["王检查"]))
    garbled = fake.inject_raw_update(
        {
            "message": {
                "message_id": 77,
                "date": 0,
                "chat": {"id": user.id, "type": "private"},
                "from": user.to_api(),
                "text": "hello \ud800 world",
            }
        }
    )
    await fake.wait_for(lambda: "无法识别的字符" in (fake.last_message(user.id).content or ""))
    await bot.act(user.send_command("help"))
    assert fake.delivery_count(garbled) == 1
    async with bot.db.read() as tx:
        assert not await tx.events.seen(f"telegram:u{garbled}")
    await fake.wait_for(lambda: _empty(bot), timeout=10)
