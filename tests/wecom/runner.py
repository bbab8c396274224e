"""Runs the real WeCom adapter against the fake WeCom API, with a test client that encrypts
callbacks with the real algorithm, and shows each member's chat as WeCom would render it.

Everything runs on one controllable clock (the callback timestamps, the pacing window, the
outbox, the fake API's token expiry and member limit), so minutes of pacing take no time.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa
from aiohttp import web

from bot.delivery import OutboxWorker
from bot.flows.catalog import StandardsCatalog
from bot.flows.context import FlowSettings
from bot.flows.router import FlowEngine
from bot.handlers.wecom.channel import WeComChannel
from bot.handlers.wecom.pacing import MemberPacer, member_locks
from bot.reports.service import ReportService
from storage.db import Database
from storage.evidence import FileEvidenceStore
from storage.migrate import upgrade
from storage.records import Channel, OutboxStatus, Role
from storage.tables import outbox
from tests.fakes.wecom_api import FakeWeComAPI, SentMessage
from tests.scratch_db import sqlite_url
from tests.wecom.callbacks import (
    CallbackCrypto,
    build_envelope,
    build_event,
    build_file,
    build_image,
    build_template_card_event,
    build_text,
)

CORP_ID = "wx5823bf96d3bd56c7"  # the CorpID of the published test vectors
AGENT_ID = 1000002
SECRET = "app-secret-" + "s" * 32
TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
START = datetime(2026, 11, 2, 2, 0, tzinfo=UTC).timestamp()


class FakeClock:
    """Wall-clock seconds that only move when told to."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def utc(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


@dataclass
class Card:
    """A card as the member currently sees it (after in-place updates)."""

    task_id: str
    body: dict[str, Any]
    greyed: bool = False

    @property
    def title(self) -> str:
        return str(self.body.get("main_title", {}).get("title", ""))

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.body.get('sub_title_text', '')}".strip()

    @property
    def buttons(self) -> list[tuple[str, str]]:
        if self.greyed or "replace_text" in self.body:
            return []
        return [(b["text"], b["key"]) for b in self.body.get("button_list", [])]


@dataclass
class Shown:
    """One message in a member's chat."""

    sent: SentMessage
    card: Card | None = None

    @property
    def text(self) -> str:
        if self.card is not None:
            return self.card.text
        return self.sent.content or ""


@dataclass
class Member:
    runner: WeComRunner
    userid: str
    last_plaintext: bytes = b""

    @property
    def fake(self) -> FakeWeComAPI:
        return self.runner.fake

    def chat(self) -> list[Shown]:
        """The member's chat: every delivered message, cards as last updated."""
        cards: dict[str, Card] = {}
        shown: list[Shown] = []
        for sent in self.fake.sent_to(self.userid):
            if sent.dropped:
                continue
            card = None
            if sent.msgtype == "template_card" and sent.task_id is not None:
                card = Card(sent.task_id, dict(sent.body["template_card"]))
                cards[sent.task_id] = card
            shown.append(Shown(sent, card))
        for update in self.fake.card_updates:
            card = cards.get(update.task_id)
            if card is None:
                continue
            if "template_card" in update.body:
                card.body = dict(update.body["template_card"])
            elif "button" in update.body:
                card.greyed = True
        return shown

    def texts(self) -> list[str]:
        return [m.text for m in self.chat()]

    def live_card(self, label: str) -> Card:
        """The newest card with a live button whose text starts with ``label``."""
        for message in reversed(self.chat()):
            card = message.card
            if card is not None and any(t.startswith(label) for t, _ in card.buttons):
                return card
        raise AssertionError(f"no live button {label!r}:\n" + "\n---\n".join(self.texts()[-6:]))

    def item_on_screen(self) -> int:
        """The position of the item the newest live card shows (第 N/62 项)."""
        for message in reversed(self.chat()):
            card = message.card
            if card is not None and card.buttons:
                found = re.search(r"第 (\d+)/\d+ 项", card.text)
                if found:
                    return int(found.group(1))
        raise AssertionError("no item on screen")

    # -- what the member does -------------------------------------------------------------

    async def post(self, plaintext: bytes) -> int:
        self.last_plaintext = plaintext
        status, _ = await self.runner.post(plaintext)
        return status

    async def text(self, content: str, *, settle: bool = True) -> int:
        msg_id = self.runner.next_msg_id()
        status = await self.post(
            build_text(
                self.userid,
                content,
                to_user=CORP_ID,
                agent_id=AGENT_ID,
                msg_id=msg_id,
                create_time=self.runner.create_time(),
            )
        )
        if settle:
            await self.runner.settle()
        return status

    async def image(self, data: bytes, *, settle: bool = True) -> str:
        media_id = self.fake.add_media(data, "image/jpeg", "photo.jpg")
        await self.post(
            build_image(
                self.userid,
                media_id,
                to_user=CORP_ID,
                agent_id=AGENT_ID,
                msg_id=self.runner.next_msg_id(),
                create_time=self.runner.create_time(),
            )
        )
        if settle:
            await self.runner.settle()
        return media_id

    async def file(self, data: bytes, name: str, content_type: str) -> str:
        media_id = self.fake.add_media(data, content_type, name)
        await self.post(
            build_file(
                self.userid,
                media_id,
                name,
                to_user=CORP_ID,
                agent_id=AGENT_ID,
                msg_id=self.runner.next_msg_id(),
                create_time=self.runner.create_time(),
            )
        )
        await self.runner.settle()
        return media_id

    async def event(self, event: str) -> None:
        await self.post(
            build_event(
                self.userid,
                event,
                to_user=CORP_ID,
                agent_id=AGENT_ID,
                create_time=self.runner.create_time(),
            )
        )
        await self.runner.settle()

    async def press(self, card: Card, key: str, *, settle: bool = True) -> None:
        code = self.fake.issue_response_code(card.task_id)
        await self.post(
            build_template_card_event(
                self.userid,
                card.task_id,
                key,
                code,
                to_user=CORP_ID,
                agent_id=AGENT_ID,
                create_time=self.runner.create_time(),
            )
        )
        if settle:
            await self.runner.settle()

    async def tap(self, label: str) -> None:
        """Press the newest live button whose text starts with ``label``."""
        card = self.live_card(label)
        key = next(k for t, k in card.buttons if t.startswith(label))
        await self.press(card, key)

    async def redeliver(self) -> int:
        """WeCom sends the last callback again (new envelope, same message)."""
        status, _ = await self.runner.post(self.last_plaintext)
        await self.runner.settle()
        return status


class WeComRunner:
    """One bot process with the WeCom channel, its callback server and outbox worker."""

    def __init__(
        self, fake: FakeWeComAPI, data_dir: Path, clock: FakeClock, *, url: str | None = None
    ) -> None:
        self.fake = fake
        self.clock = clock
        self.data_dir = data_dir
        self.url = url or sqlite_url(data_dir)
        self.files = FileEvidenceStore(data_dir / "evidence", max_bytes=20 * 1_048_576)
        self.crypto = CallbackCrypto(TOKEN, AES_KEY, CORP_ID)
        self._msg_ids = itertools.count(7_000_000_000_000_000_001)
        self.step_seconds = 3.0

    async def start(self) -> None:
        await upgrade(self.url)
        self.db = Database(self.url, clock=self.clock.utc, files=self.files)
        await self.db.open()
        self.engine = FlowEngine(
            self.db, StandardsCatalog.load(None), FlowSettings(), self.clock.utc
        )
        self.pacer = MemberPacer(
            clock=self.clock, sleep=self.clock.sleep, owners=member_locks(self.url)
        )
        self.channel = WeComChannel(
            corp_id=CORP_ID,
            agent_id=AGENT_ID,
            secret=SECRET,
            token=TOKEN,
            aes_key=AES_KEY,
            api_url=self.fake.url,
            engine=self.engine,
            db=self.db,
            files=self.files,
            clock=self.clock,
            pacer=self.pacer,
        )
        await self.channel.start()
        # Report files are rendered in a thread here (the bot uses a worker process).
        self.reports = ReportService(self.db, executor=ThreadPoolExecutor(max_workers=1))
        self.worker = OutboxWorker(
            self.db,
            Channel.WECOM,
            self.channel.send,
            clock=self.clock.utc,
            prepare=self.reports.prepare,
        )
        app = web.Application()
        self.channel.routes(app)
        self.http = web.AppRunner(app, access_log=None)
        await self.http.setup()
        site = web.TCPSite(self.http, "127.0.0.1", 0)
        await site.start()
        port = self.http.addresses[0][1]
        self.callback_url = f"http://127.0.0.1:{port}/wecom/callback"
        self.session = aiohttp.ClientSession()

    async def stop(self) -> None:
        await self.session.close()
        await self.channel.stop()
        await self.http.cleanup()
        await self.channel.close()
        await self.reports.close()
        await self.db.close()

    def member(self, userid: str) -> Member:
        return Member(self, userid)

    def next_msg_id(self) -> int:
        return next(self._msg_ids)

    def create_time(self) -> int:
        """Each member action happens a few seconds after the last one."""
        self.clock.advance(self.step_seconds)
        return int(self.clock())

    def signed(self, encrypted: str, timestamp: str | None = None) -> dict[str, str]:
        ts = timestamp or str(int(self.clock()))
        nonce = secrets.token_hex(5)
        return {
            "msg_signature": self.crypto.signature(ts, nonce, encrypted),
            "timestamp": ts,
            "nonce": nonce,
        }

    async def post(self, plaintext: bytes) -> tuple[int, str]:
        encrypted = self.crypto.encrypt(plaintext)
        body = build_envelope(encrypted, to_user=CORP_ID, agent_id=AGENT_ID)
        return await self.raw_post(self.signed(encrypted), body)

    async def raw_post(self, params: dict[str, str], body: bytes) -> tuple[int, str]:
        async with self.session.post(self.callback_url, params=params, data=body) as resp:
            return resp.status, await resp.text()

    async def get(self, params: dict[str, str]) -> tuple[int, str]:
        async with self.session.get(self.callback_url, params=params) as resp:
            return resp.status, await resp.text()

    async def settle(self) -> None:
        """Handle every accepted callback and deliver everything due, moving the clock on
        to the next retry when only delayed (paced) messages are left."""
        await self.channel.drain()
        for _ in range(10_000):
            if await self.worker.run_once():
                continue
            pending = (outbox.c.channel == Channel.WECOM) & (
                outbox.c.status == OutboxStatus.PENDING
            )
            async with self.db.read() as tx:
                count = sa.select(sa.func.count()).where(pending)
                if not (await tx.connection.execute(count)).scalar():
                    return
                later = sa.select(sa.func.min(outbox.c.not_before)).where(
                    pending, outbox.c.not_before > self.clock.utc()
                )
                due = (await tx.connection.execute(later)).scalar()
            assert due is not None, "pending messages that are due but never claimed"
            self.clock.now = due.timestamp() + 0.001
        raise AssertionError("outbox did not settle")

    async def seed(self) -> dict[str, Any]:
        """A site with an inspector, two responsible staff and a manager, bound by WeCom
        user id as `pinjian person add --wecom-userid` does."""
        async with self.db.transaction() as tx:
            site = await tx.sites.create("阳光花园", timezone="Asia/Shanghai")
            people = {}
            for name, role, userid in (
                ("王检查", Role.INSPECTOR, "wangjiancha"),
                ("张三", Role.RESPONSIBLE, "zhangsan"),
                ("李四", Role.RESPONSIBLE, None),
                ("赵经理", Role.MANAGER, "zhaojingli"),
            ):
                person = await tx.people.create(name)
                await tx.roles.grant(person.id, site.id, role)
                if userid is not None:
                    await tx.identities.bind(person.id, Channel.WECOM, userid, chat_id=userid)
                people[name] = person
        return {"site": site, "people": people}

    async def dead_or_pending(self) -> int:
        async with self.db.read() as tx:
            stmt = sa.select(sa.func.count()).where(
                outbox.c.channel == Channel.WECOM, outbox.c.status != OutboxStatus.SENT
            )
            return int((await tx.connection.execute(stmt)).scalar() or 0)
