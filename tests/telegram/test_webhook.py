"""Webhook mode: Telegram posts updates to our HTTP server, checked by the secret token."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from aiohttp import ClientSession, web

from bot.flows.catalog import StandardsCatalog
from bot.flows.context import FlowSettings
from bot.flows.router import FlowEngine
from bot.handlers.telegram import TelegramChannel
from storage import Database, FileEvidenceStore, upgrade
from tests.fakes.telegram_api import FakeTelegramAPI


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
        )
        await channel.start("https://bot.example.invalid/telegram/webhook", "s3cret-token")
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
