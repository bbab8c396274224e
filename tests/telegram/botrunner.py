"""Runs the real Telegram adapter (python-telegram-bot) against the fake Bot API server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.app import file_renderer, poll_leadership
from bot.bulletins import BulletinService
from bot.delivery import Handoff, OutboxWorker
from bot.flows.catalog import StandardsCatalog
from bot.flows.context import FlowSettings
from bot.flows.router import FlowEngine
from bot.handlers.telegram import INDEPENDENT, TelegramChannel
from bot.reports.service import ReportService
from storage.coordination import Leadership
from storage.db import Database
from storage.evidence import FileEvidenceStore
from storage.migrate import upgrade
from storage.records import Channel
from tests import seeding
from tests.fakes.telegram_api import FakeTelegramAPI, FakeUser, StoredMessage
from tests.scratch_db import sqlite_url


class Clock:
    """A clock tests can move; starts at the real time so network timeouts stay sane."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class BotRunner:
    """One bot process: database, flows, the Telegram adapter and its outbox worker."""

    def __init__(
        self,
        fake: FakeTelegramAPI,
        data_dir: Path,
        clock: Clock | None = None,
        *,
        url: str | None = None,
        poll_lock: bool = False,
    ) -> None:
        self.clock = clock or Clock()
        self.fake = fake
        self.data_dir = data_dir
        self.url = url or sqlite_url(data_dir)
        self.files = FileEvidenceStore(data_dir / "evidence", max_bytes=20 * 1_048_576)
        self.running = False
        # As `pinjian run` polls on PostgreSQL: only while holding the poll lock.
        self.poll_lock = poll_lock
        self.leadership: Leadership | None = None

    async def start(self, *, deliver: bool = True) -> None:
        await upgrade(self.url)
        self.db = Database(self.url, files=self.files, clock=self.clock)
        await self.db.open()
        self.worker: OutboxWorker | None = None
        workers: dict[Channel, OutboxWorker] = {}
        engine = FlowEngine(
            self.db, StandardsCatalog.load(None), FlowSettings(), self.clock, Handoff(workers)
        )
        if self.poll_lock:
            self.leadership = poll_leadership(self.db, self.fake.token)
            assert self.leadership is not None, "the poll lock is PostgreSQL's"
            self.leadership.retry_seconds = 0.5
        self.channel = TelegramChannel(
            token=self.fake.token,
            api_url=self.fake.base_url,
            file_url=self.fake.base_file_url,
            engine=engine,
            db=self.db,
            files=self.files,
            poll_timeout=1,
            leadership=self.leadership,
        )
        self.reports = ReportService(self.db)
        if deliver:
            self.worker = OutboxWorker(
                self.db,
                Channel.TELEGRAM,
                self.channel.send,
                clock=self.clock,
                prepare=file_renderer(
                    self.reports, BulletinService(self.db, draw=self.reports.render_bulletin)
                ),
                independent=INDEPENDENT,
            )
            self.worker.start()
            workers[Channel.TELEGRAM] = self.worker
        await self.channel.start()
        self.running = True

    async def delivered(self) -> None:
        """Wake the sender and wait until the outbox is empty."""

        async def empty() -> bool:
            async with self.db.read() as tx:
                return await tx.outbox.pending_count(Channel.TELEGRAM) == 0

        self._wake()
        await self.fake.wait_for(empty, timeout=10)

    def _wake(self) -> None:
        if self.worker is not None:
            self.worker.wake()

    async def stop(self) -> None:
        await self.channel.stop()
        if self.worker is not None:
            await self.worker.stop()
        await self.channel.close()
        await self.reports.close()
        await self.db.close()
        self.running = False

    async def seed(self) -> dict[str, Any]:
        async with self.db.transaction() as tx:
            site = await tx.sites.create("阳光花园", timezone="Asia/Shanghai")
            people = await seeding.staff(tx, site)
            codes = await seeding.invites(tx, people, days=60, prefix="inv")
        return {"site": site, "people": people, "codes": codes}

    async def settled(self, update_id: int) -> bool:
        """The update was handled and every message it caused has been delivered."""
        async with self.db.read() as tx:
            if not await tx.events.seen(f"telegram:u{update_id}"):
                return False
            return await tx.outbox.pending_count(Channel.TELEGRAM) == 0

    async def act(self, update_id_awaitable: Any) -> int:
        update_id: int = await update_id_awaitable
        await self.fake.wait_for(lambda: self.settled(update_id), timeout=10)
        return update_id

    def keyboard(self, chat_id: int) -> StoredMessage:
        """The newest bot message in the chat that has buttons."""
        for message in reversed(self.fake.messages(chat_id)):
            if message.buttons():
                return message
        raise AssertionError(self.fake.dump())

    async def tap(self, user: FakeUser, label: str) -> int:
        message = self.keyboard(user.id)
        data = next((d for t, d in message.buttons() if label in t and d), None)
        assert data is not None, f"no button {label!r}: {message.buttons()}"
        return await self.act(user.press(message, data))
