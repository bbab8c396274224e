"""Webhook mode: Telegram posts updates to our HTTP server, checked by the secret token: always
registered, compared as bytes, and anything without it refused with 403 and no effect."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web

from bot.delivery import Handoff, OutboxWorker
from bot.flows.catalog import StandardsCatalog
from bot.flows.context import FlowSettings
from bot.flows.router import FlowEngine
from bot.handlers.telegram import TelegramChannel, webhook_secret_for
from storage.db import Database
from storage.evidence import FileEvidenceStore
from storage.migrate import upgrade
from storage.records import Channel
from tests import seeding
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.security.rawhttp import request_bytes, row_counts, send


async def test_webhook_registers_secret_and_rejects_wrong_secret(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    await upgrade(url)
    db = Database(url, files=FileEvidenceStore(tmp_path / "ev", max_bytes=1_000_000))
    await db.open()
    engine = FlowEngine(db, StandardsCatalog.load(None), FlowSettings(), lambda: datetime.now(UTC))
    async with FakeTelegramAPI() as fake:
        channel = TelegramChannel(
            token=fake.token,
            api_url=fake.base_url,
            file_url=fake.base_file_url,
            engine=engine,
            db=db,
            files=db.files,
            webhook_url="https://bot.example.invalid/telegram/webhook",
            webhook_secret="s3cret-token",
        )
        await channel.start()
        assert fake.webhook is not None
        assert fake.webhook["url"] == "https://bot.example.invalid/telegram/webhook"
        assert fake.webhook["secret_token"] == "s3cret-token"
        app = web.Application()
        app.router.add_post("/telegram/webhook", channel.webhook)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        update = {
            "update_id": 7,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": 4242, "type": "private"},
                "from": {"id": 4242, "is_bot": False, "first_name": "陌生人"},
                "text": "你好",
            },
        }
        endpoint = f"http://127.0.0.1:{port}/telegram/webhook"
        async with ClientSession() as http:
            wrong = await http.post(
                endpoint, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"}
            )
            assert wrong.status == 403
            garbage = await http.post(
                endpoint, data=b"{", headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
            )
            assert garbage.status == 400
            right = await http.post(
                endpoint, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
            )
            assert right.status == 200

        async def handled() -> bool:
            async with db.read() as tx:
                return await tx.events.seen("telegram:u7")

        await fake.wait_for(handled)
        async with db.read() as tx:
            assert not await tx.events.seen("telegram:u8")
        await channel.stop()
        await channel.close()
        await runner.cleanup()
    await db.close()


@dataclass
class WebhookBot:
    """The Telegram adapter in webhook mode behind a loopback HTTP server, with its outbox
    worker sending to the fake Bot API; 张三 (Telegram user 4242) is bound."""

    channel: TelegramChannel
    db: Database
    fake: FakeTelegramAPI
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/telegram/webhook"

    async def handled(self, update_id: int) -> bool:
        async with self.db.read() as tx:
            return await tx.events.seen(f"telegram:u{update_id}")


@asynccontextmanager
async def webhook_bot(tmp_path: Path, secret: str = "") -> AsyncIterator[WebhookBot]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    await upgrade(url)
    db = Database(url, files=FileEvidenceStore(tmp_path / "ev", max_bytes=1_000_000))
    await db.open()
    async with db.transaction() as tx:
        site = await tx.sites.create("阳光花园", timezone="Asia/Shanghai")
        people = await seeding.staff(tx, site)
        await tx.identities.bind(people["张三"].id, Channel.TELEGRAM, "4242", chat_id="4242")
    workers: dict[Channel, OutboxWorker] = {}

    def clock() -> datetime:
        return datetime.now(UTC)

    engine = FlowEngine(db, StandardsCatalog.load(None), FlowSettings(), clock, Handoff(workers))
    async with FakeTelegramAPI() as fake:
        fake.user(4242, "张三")
        channel = TelegramChannel(
            token=fake.token,
            api_url=fake.base_url,
            file_url=fake.base_file_url,
            engine=engine,
            db=db,
            files=db.files,
            webhook_url="https://bot.example.invalid/telegram/webhook",
            webhook_secret=secret,
        )
        worker = OutboxWorker(db, Channel.TELEGRAM, channel.send, clock=clock)
        workers[Channel.TELEGRAM] = worker
        worker.start()
        await channel.start()
        app = web.Application()
        app.router.add_post("/telegram/webhook", channel.webhook)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        try:
            yield WebhookBot(channel, db, fake, runner.addresses[0][1])
        finally:
            await channel.stop()
            await worker.stop()
            await channel.close()
            await runner.cleanup()
            await db.close()


def forged_press(update_id: int) -> dict[str, Any]:
    """A button press made up by someone who knows 张三's Telegram id."""
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"forged-{update_id}",
            "from": {"id": 4242, "is_bot": False, "first_name": "张三"},
            "chat_instance": "1",
            "data": "TOK:1:1",
            "message": {
                "message_id": 5,
                "date": 0,
                "chat": {"id": 4242, "type": "private"},
                "text": "整改任务 #1",
            },
        },
    }


def message(update_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 0,
            "chat": {"id": 4242, "type": "private"},
            "from": {"id": 4242, "is_bot": False, "first_name": "张三"},
            "text": text,
        },
    }


async def test_webhook_without_a_configured_secret_registers_one_and_refuses_forgeries(
    tmp_path: Path,
) -> None:
    async with webhook_bot(tmp_path) as bot:
        assert bot.fake.webhook is not None
        secret = bot.fake.webhook["secret_token"]
        assert secret == webhook_secret_for(bot.fake.token)
        assert re.fullmatch(r"[0-9a-f]{64}", secret)
        before = await row_counts(bot.db)
        body = json.dumps(forged_press(11)).encode()
        forged_headers: list[list[tuple[bytes, bytes]]] = [
            [],
            [(b"X-Telegram-Bot-Api-Secret-Token", b"")],
            [(b"X-Telegram-Bot-Api-Secret-Token", b"nope")],
            [(b"X-Telegram-Bot-Api-Secret-Token", secret[:-1].encode())],
            [(b"X-Telegram-Bot-Api-Secret-Token", "密钥".encode())],
            [(b"X-Telegram-Bot-Api-Secret-Token", b"\xff\xfe" + secret.encode())],
            [(b"X-Telegram-Bot-Api-Secret-Token", secret.encode() + b"\x80")],
        ]
        for headers in forged_headers:
            raw = request_bytes("POST", b"/telegram/webhook", headers, body)
            answer = await send(bot.port, raw)
            assert answer.status == 403, (headers, answer)
        await asyncio.sleep(0.1)
        assert not await bot.handled(11)
        assert await row_counts(bot.db) == before
        assert bot.fake.calls("answerCallbackQuery") == []
        # The secret Telegram was given lets its own updates in.
        async with ClientSession() as http:
            right = await http.post(
                bot.endpoint,
                json=message(12, "/help"),
                headers={"X-Telegram-Bot-Api-Secret-Token": secret},
            )
            assert right.status == 200
        await bot.fake.wait_for(lambda: bot.handled(12))


async def test_webhook_refuses_ill_formed_text_politely_and_stores_nothing(
    tmp_path: Path,
) -> None:
    async with webhook_bot(tmp_path, "s3cret-token") as bot:
        before = await row_counts(bot.db)
        body = json.dumps(message(21, "hello \ud800 world")).encode()  # "\\ud800" on the wire
        assert b"\\ud800" in body
        header = [(b"X-Telegram-Bot-Api-Secret-Token", b"s3cret-token")]
        raw = request_bytes("POST", b"/telegram/webhook", header, body)
        assert (await send(bot.port, raw)).status == 200

        def refused() -> bool:
            return any("无法识别的字符" in text for text in bot.fake.texts(4242))

        await bot.fake.wait_for(refused)
        after = await row_counts(bot.db)
        # Only the refusal itself was queued (an outbox row); no event, no inbox row, no note.
        assert after == before | {"outbox": before["outbox"] + 1}
        assert not await bot.handled(21)


async def test_webhook_answers_malformed_bodies_with_4xx(tmp_path: Path) -> None:
    async with webhook_bot(tmp_path, "s3cret-token") as bot:
        before = await row_counts(bot.db)
        header = [(b"X-Telegram-Bot-Api-Secret-Token", b"s3cret-token")]
        deep = b"[" * 8000 + b"]" * 8000
        for body in (deep, b'{"update_id": ' + deep + b"}", b"\xff\xfe{", b"[]", b"{}", b""):
            answer = await send(bot.port, request_bytes("POST", b"/telegram/webhook", header, body))
            assert answer.status == 400, (body[:20], answer)
        huge = b'{"update_id": 1, "x": "' + b"a" * 1_100_000 + b'"}'
        answer = await send(bot.port, request_bytes("POST", b"/telegram/webhook", header, huge))
        assert answer.status == 413
        assert await row_counts(bot.db) == before
