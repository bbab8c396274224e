"""Oversized inputs on every channel: files over the limit, texts far over the chat's own
limits, button data over 64 bytes, request bodies over the server's limits. Each gets a clear
answer (or a 4xx), nothing refused is stored, nothing fails and every answer is delivered.

WeCom's bad and oversized requests (bad signature, replayed timestamp, XML bombs, a body over
64 KB) are in tests/wecom/test_callback.py; a WeCom image over the limit is in
tests/wecom/test_receiving.py. Here: a WeCom text near the body limit.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from bot import app
from bot.config import Settings
from bot.core.texts import render
from bot.demo import seed_demo
from storage.migrate import upgrade
from storage.records import Channel, OutboxStatus
from storage.tables import evidence, notes, outbox
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.wecom_api import FakeWeComAPI
from tests.resilience.chatcheck import compare, telegram_rows
from tests.resilience.fuzz import ErrorLog
from tests.resilience.invariants import violations
from tests.telegram.botrunner import BotRunner
from tests.web.conftest import WebBot, free_port
from tests.web.helpers import ApiClient, wait_until
from tests.wecom.runner import AGENT_ID, CORP_ID, SECRET, FakeClock, WeComRunner

MB = 1_048_576
JPEG = b"\xff\xd8\xff\xe0" + b"oversized" * 30
TOO_BIG = render("file_too_large", size_mb=30.0, limit_mb=20)


async def stored(db: Any) -> tuple[int, list[str]]:
    """How many evidence rows there are, and every note's text."""
    async with db.read() as tx:
        count = await tx.connection.scalar(sa.select(sa.func.count()).select_from(evidence))
        texts = list(await tx.connection.scalars(sa.select(notes.c.text).order_by(notes.c.id)))
    return int(count or 0), texts


async def undelivered(db: Any, channel: Channel) -> int:
    stmt = sa.select(sa.func.count()).where(
        outbox.c.channel == channel, outbox.c.status != OutboxStatus.SENT
    )
    async with db.read() as tx:
        return int(await tx.connection.scalar(stmt) or 0)


# ---------------------------------------------------------------------- Telegram


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as api:
        yield api


async def test_telegram(fake: FakeTelegramAPI, tmp_path: Path) -> None:
    bot = BotRunner(fake, tmp_path)
    await bot.start()
    seeded = await bot.seed()
    user, stranger = fake.user(5001, "王检查"), fake.user(6666, "Mallory")
    with ErrorLog() as errors:
        await bot.act(user.send_command("start", seeded["codes"]["王检查"]))
        await bot.act(user.send_command("inspect"))
        await bot.tap(user, "阳光花园")

        await bot.act(user.send_document(JPEG, "huge.jpg", "image/jpeg", file_size=30 * MB))
        assert last(fake, user.id) == TOO_BIG
        await bot.act(user.send_document(b"%PDF", "huge.pdf", "application/pdf", file_size=30 * MB))
        assert "huge.pdf 不是图片" in last(fake, user.id)
        claimed = fake.add_file(JPEG, kind="photo", file_size=30 * MB)
        size = {"file_id": claimed, "file_unique_id": "big1", "width": 9000, "height": 9000}
        await bot.act(_photo(fake, user.id, [{**size, "file_size": 30 * MB}], "大照片"))
        assert last(fake, user.id) == TOO_BIG
        unknown = fake.add_file(JPEG, kind="photo", file_size=25 * MB)
        await bot.act(_photo(fake, user.id, [{**size, "file_id": unknown}], None))
        unsized = "文件太大，上限是 20 MB，未保存。请压缩后重发。"
        assert last(fake, user.id) == unsized, "no size: none is made up"
        assert fake.downloads == [], "nothing over the limit is downloaded"

        await bot.tap(user, "备注")
        await bot.act(user.send_text("长" * 10_000))
        await bot.act(user.send_photo(JPEG, caption="说明" * 3_000))
        await bot.tap(user, "0分")
        await bot.act(user.send_text("名" * 9_000))
        await bot.tap(user, "确认创建")
        for data in ("L:1:1:1:0" + "x" * 100, "💥" * 30, "K:OK:1:1:" + "9" * 80):
            message = bot.keyboard(user.id)
            query = fake.store.new_callback_query(user.to_api(), message, data)
            await bot.act(_raw(fake, {"callback_query": query}))
            assert fake.answered_callbacks[-1]["text"] == render("stale_button")
        await bot.act(stranger.send_command("start", "码" * 5_000))
        assert "邀请码无效" in last(fake, stranger.id)
    assert errors.records == [], errors.describe(0)
    photos, texts = await stored(bot.db)
    assert photos == 1, "only the one normal photo"
    assert texts == ["长" * 1000, "说明" * 500]
    assert await undelivered(bot.db, Channel.TELEGRAM) == 0
    report = compare(fake, await telegram_rows(bot.db))
    assert report.problems == [] and report.duplicates == []
    assert all(len(m.content or "") <= 4096 for m in fake.messages(user.id))
    assert await violations(bot.db) == []
    await bot.stop()


async def _photo(
    fake: FakeTelegramAPI, chat_id: int, sizes: list[dict[str, Any]], caption: str | None
) -> int:
    chat = fake.store.chats[chat_id]
    sender = {"id": chat_id, "is_bot": False, "first_name": chat.first_name or "x"}
    message = fake.store.store(chat, sender, from_bot=False, photo=sizes, caption=caption)
    return await _raw(fake, {"message": fake.store.message_api(message)})


async def _raw(fake: FakeTelegramAPI, update: dict[str, Any]) -> int:
    return fake.inject_raw_update(update)


def last(fake: FakeTelegramAPI, chat_id: int) -> str:
    message = fake.last_message(chat_id)
    return (message.content or "") if message else ""


# ---------------------------------------------------------------------- web chat


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[WebBot]:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "web",
        http_port=free_port(),
        telegram_token=None,
        log_level="WARNING",
        max_upload_mb=1,
    )
    settings.data_dir.mkdir(parents=True)
    await upgrade(settings.resolved_database_url)
    runtime = await app.start(settings)
    async with runtime.db.transaction() as tx:
        logins = await seed_demo(tx, settings.timezone)
    assert logins is not None
    try:
        yield WebBot(runtime, settings, {login.name: login.token for login in logins})
    finally:
        await app.stop(runtime)


async def test_web_chat(web: WebBot) -> None:
    db = web.runtime.db
    async with aiohttp.ClientSession() as http:
        inspector = ApiClient(http, web.base, web.tokens["王检查"])
        with ErrorLog() as errors:
            assert await inspector.text("/inspect") == 200
            await wait_until(web.delivered)
            assert await inspector.press("阳光花园") == 200
            await wait_until(web.delivered)
            assert await inspector.press("备注") == 200
            await wait_until(web.delivered)
            page = {"id": "long1", "kind": "text", "text": "长" * 5_000}
            body = json.dumps(page, ensure_ascii=False).encode()
            async with http.post(f"{web.base}/api/send", data=body, headers=inspector.headers) as r:
                assert r.status == 200, "5000 characters as the page sends them: 15 KB"
            assert await inspector.text("x" * 15_000) == 200, "ASCII: cut to 4000 characters"
            await wait_until(web.delivered)
            for text in ("长" * 5_000, "x" * MB):
                async with http.post(
                    f"{web.base}/api/send",
                    json={"id": "h", "kind": "text", "text": text},
                    headers=inspector.headers,
                ) as response:
                    assert response.status == 413, "over 16 KB with a Content-Length"
                    assert await response.json() == {"error": "too_long"}
            chunks = _chunks(b'{"id": "huge2", "kind": "text", "text": "' + b"x" * MB + b'"}')
            async with http.post(
                f"{web.base}/api/send", data=chunks, headers=inspector.headers
            ) as response:
                assert response.status == 413, "a body without a length is read up to the limit"
                assert await response.json() == {"error": "too_long"}
            assert await inspector.send({"kind": "button", "payload": "💥" * 17}) == 400
            assert await inspector.upload(None, name="huge.jpg", size=30 * MB) == 200
            assert await inspector.upload(b"\xff\xd8\xff" + b"\0" * (2 * MB), name="b.jpg") == 200
            await wait_until(web.delivered)
        history = [m["text"] for m in await inspector.history()]
    assert errors.records == [], errors.describe(0)
    assert sum("文件太大" in text for text in history) == 2
    photos, texts = await stored(db)
    assert photos == 0
    assert texts == ["长" * 1000]
    assert await undelivered(db, Channel.WEB) == 0
    assert await violations(db) == []


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 65_536):
        yield body[start : start + 65_536]


# ---------------------------------------------------------------------- WeCom


async def test_wecom_long_text(tmp_path: Path) -> None:
    clock = FakeClock()
    async with FakeWeComAPI(CORP_ID, SECRET, agent_id=AGENT_ID, clock=clock) as fake_wecom:
        fake_wecom.enforce_member_limit(True)
        bot = WeComRunner(fake_wecom, tmp_path, clock)
        await bot.start()
        try:
            await bot.seed()
            inspector = bot.member("wangjiancha")
            with ErrorLog() as errors:
                await inspector.text("/inspect")
                await inspector.tap("阳光花园")
                await inspector.tap("📝")
                assert await inspector.text("长" * 12_000) == 200
                await inspector.tap("0分")
                assert await inspector.text("名" * 12_000) == 200
            assert errors.records == [], errors.describe(0)
            _, texts = await stored(bot.db)
            assert texts == ["长" * 1000]
            assert await bot.dead_or_pending() == 0
            assert not any(m.dropped for m in fake_wecom.sent_to("wangjiancha"))
            assert await violations(bot.db) == []
        finally:
            await bot.stop()
