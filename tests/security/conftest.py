"""One real bot with every HTTP entry on one loopback server: the web chat (demo company
seeded), the WeCom callback (against the fake WeCom API) and the Telegram webhook (against the
fake Bot API). It runs on an event loop of its own in a background thread, so that the
hypothesis properties (plain functions) can send it anything and wait for the answer."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from bot import app
from bot.config import Settings
from bot.demo import seed_demo
from bot.handlers.telegram import webhook_secret_for
from storage.migrate import upgrade
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.wecom_api import FakeWeComAPI
from tests.security.rawhttp import Answer, row_counts, send
from tests.web.conftest import free_port
from tests.wecom.callbacks import CallbackCrypto
from tests.wecom.runner import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN

T = TypeVar("T")
WEBHOOK_URL = "https://bot.example.invalid/telegram/webhook"


@dataclass
class LiveBot:
    """The running bot and the loop it runs on."""

    loop: asyncio.AbstractEventLoop
    port: int = 0
    tokens: dict[str, str] = field(default_factory=dict)
    runtime: app.Runtime | None = None
    telegram_secret: str = ""
    wecom: CallbackCrypto = field(default_factory=lambda: CallbackCrypto(TOKEN, AES_KEY, CORP_ID))

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def send(self, raw: bytes) -> Answer:
        return self.run(send(self.port, raw))

    def counts(self) -> dict[str, int]:
        assert self.runtime is not None
        return self.run(row_counts(self.runtime.db))

    def settle(self) -> None:
        """Let callbacks accepted earlier finish before state is compared."""
        assert self.runtime is not None
        wecom, telegram = self.runtime.wecom, self.runtime.telegram
        if wecom is not None:
            self.run(wecom.drain())
        if telegram is not None:
            self.run(telegram.drain())


class TracebackLog(logging.Handler):
    """Every log record that carries a traceback (aiohttp logs a handler's exception so)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info is not None:
            self.records.append(record)


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveBot]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="security-bot", daemon=True)
    thread.start()
    bot = LiveBot(loop)
    data_dir = tmp_path_factory.mktemp("security") / "data"
    data_dir.mkdir()
    fakes: dict[str, Any] = {}

    async def start() -> None:
        fakes["telegram"] = await FakeTelegramAPI().__aenter__()
        fakes["wecom"] = await FakeWeComAPI(CORP_ID, SECRET, agent_id=AGENT_ID).__aenter__()
        telegram: FakeTelegramAPI = fakes["telegram"]
        settings = Settings(
            _env_file=None,
            data_dir=data_dir,
            http_host="127.0.0.1",
            http_port=free_port(),
            log_level="WARNING",
            max_upload_mb=1,
            telegram_token=telegram.token,
            telegram_api_url=telegram.base_url,
            telegram_file_url=telegram.base_file_url,
            telegram_webhook_url=WEBHOOK_URL,
            wecom_corp_id=CORP_ID,
            wecom_agent_id=AGENT_ID,
            wecom_secret=SECRET,
            wecom_token=TOKEN,
            wecom_aes_key=AES_KEY,
            wecom_api_url=fakes["wecom"].url,
        )
        await upgrade(settings.resolved_database_url)
        bot.runtime = await app.start(settings)
        async with bot.runtime.db.transaction() as tx:
            logins = await seed_demo(tx, settings.timezone)
        assert logins is not None
        bot.tokens = {login.name: login.token for login in logins}
        bot.port = settings.http_port
        bot.telegram_secret = webhook_secret_for(telegram.token)

    async def stop() -> None:
        if bot.runtime is not None:
            await app.stop(bot.runtime)
        for fake in fakes.values():
            await fake.__aexit__(None, None, None)

    try:
        bot.run(start())
        yield bot
    finally:
        bot.run(stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture
def tracebacks() -> Iterator[TracebackLog]:
    handler = TracebackLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
