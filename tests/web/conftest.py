"""The real bot (bot.app: database, flows, outbox workers, HTTP server) on 127.0.0.1 with a
free port and a temporary data directory, seeded with the demo company."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.async_api import Browser, async_playwright

from bot import app
from bot.config import Settings
from bot.core.messages import Outgoing
from bot.demo import seed_demo
from bot.handlers.web.links import login_link
from storage.migrate import upgrade
from storage.records import Channel, OutboxStatus, Person
from storage.tables import outbox

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHROMIUM_INSTALLED = CHROMIUM.exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class WebBot:
    runtime: app.Runtime
    settings: Settings
    tokens: dict[str, str]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.settings.http_port}"

    def link(self, name: str) -> str:
        return login_link("127.0.0.1", self.settings.http_port, self.tokens[name])

    async def person(self, name: str) -> Person:
        async with self.runtime.db.read() as tx:
            (person,) = await tx.people.find_by_name(name)
        return person

    async def send_to(self, name: str, message: Outgoing) -> None:
        """Queue a message for the person's web chat as the flows would."""
        person = await self.person(name)
        async with self.runtime.db.transaction() as tx:
            await tx.outbox.enqueue(
                Channel.WEB, str(person.id), message.kind, message.to_payload(), person_id=person.id
            )
        self.runtime.workers[Channel.WEB].wake()

    async def delivered(self) -> bool:
        async with self.runtime.db.read() as tx:
            return await tx.outbox.pending_count(Channel.WEB) == 0

    async def last_seq(self, chat_id: str) -> int:
        """The newest delivered row of the chat: the page is settled once it has shown it."""
        stmt = sa.select(sa.func.max(outbox.c.id)).where(
            outbox.c.channel == Channel.WEB,
            outbox.c.chat_id == chat_id,
            outbox.c.status == OutboxStatus.SENT,
            outbox.c.kind != "answer_callback",
        )
        async with self.runtime.db.read() as tx:
            value: Any = await tx.connection.scalar(stmt)
        return int(value or 0)


@asynccontextmanager
async def running_bot(
    tmp_path: Path,
    database_url: str = "",
    tokens: dict[str, str] | None = None,
    **overrides: Any,
) -> AsyncIterator[WebBot]:
    """The bot with the demo company on `database_url` (default: a SQLite file in the data
    directory); `overrides` change its settings (e.g. upload limits). Given the `tokens` of
    a bot already running on the same database, it is a second process of that company."""
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        database_url=database_url,
        http_host="127.0.0.1",
        http_port=free_port(),
        telegram_token=None,
        log_level="WARNING",
        **{"max_upload_mb": 1, **overrides},
    )
    settings.data_dir.mkdir(parents=True)
    await upgrade(settings.resolved_database_url)
    runtime = await app.start(settings)
    assert runtime.web is not None
    runtime.web.heartbeat_seconds = 0.3
    if tokens is None:
        async with runtime.db.transaction() as tx:
            logins = await seed_demo(tx, settings.timezone)
        assert logins is not None
        tokens = {login.name: login.token for login in logins}
    try:
        yield WebBot(runtime, settings, tokens)
    finally:
        await app.stop(runtime)


@pytest.fixture
async def web_bot(tmp_path: Path, database_url: str) -> AsyncIterator[WebBot]:
    async with running_bot(tmp_path, database_url) as running:
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's headless Chromium, driven by Playwright."""
    if not CHROMIUM_INSTALLED:
        pytest.fail(
            "Debian's chromium is needed: bash scripts/test-system-deps.sh chromium "
            "(make test runs it)"
        )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()
