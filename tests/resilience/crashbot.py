"""The real bot (`python -m bot run`) as a child process against the fake Bot API, killed with
SIGKILL at random moments and started again, and the people who keep using it meanwhile.

How a person copes with a crash: they wait for the answer to what they just did. If the bot
handled the update, the answer comes (from the outbox) once the bot is back. The bot stores
each fetched update in its inbox before it confirms it to Telegram, and hands stored updates
to its flows again on start; updates still waiting at Telegram are delivered again to the new
process by the fake, as Telegram does with unconfirmed updates. An update in none of these
places (processed events, inbox, waiting at Telegram) would be lost: the person would get no
answer and would send the same thing again. The test looks for such updates after each kill,
with the process gone, resends them so that it can go on, and counts them (it expects none).

A message the killed process had claimed from the outbox may have reached Telegram before the
row was marked sent; the new process sends it again (at-least-once delivery). Such rows are
noted at each kill so that the chat check can tell these duplicates from real ones.
"""

from __future__ import annotations

import asyncio
import os
import signal
import struct
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random

import sqlalchemy as sa

from storage.db import Database
from storage.evidence import FileEvidenceStore
from storage.migrate import upgrade
from storage.records import Channel, ExtensionStatus, OutboxStatus, Role, TaskStatus
from storage.tables import outbox, processed_events, tasks
from tests.fakes.telegram_api import FakeTelegramAPI, FakeUser, StoredMessage
from tests.fakes.telegram_media import grey_jpeg

SITE = "阳光花园"
PEOPLE = (
    ("王检查", Role.INSPECTOR, 5001),
    ("张三", Role.RESPONSIBLE, 5002),
    ("李四", Role.RESPONSIBLE, 5003),
    ("赵经理", Role.MANAGER, 5004),
)
STEP_TIMEOUT = 120.0
PICTURE = grey_jpeg(64, 48)


class Observer:
    """Reads (and, while the bot is dead, adjusts) the bot's database from the test."""

    def __init__(self, data_dir: Path) -> None:
        self.url = f"sqlite+aiosqlite:///{data_dir / 'pinjian.db'}"
        files = FileEvidenceStore(data_dir / "evidence", max_bytes=20 * 1_048_576)
        self.db = Database(self.url, files=files)

    async def processed(self, update_ids: list[int]) -> set[int]:
        keys = [f"telegram:u{u}" for u in update_ids]
        stmt = sa.select(processed_events.c.key).where(processed_events.c.key.in_(keys))
        async with self.db.read() as tx:
            found = {row[0] for row in await tx.connection.execute(stmt)}
        return {u for u in update_ids if f"telegram:u{u}" in found}

    async def stored(self, update_ids: list[int]) -> set[int]:
        """Updates fetched and kept in the inbox, to be handled again on start."""
        async with self.db.read() as tx:
            keys = {key for key, _ in await tx.inbox.pending(Channel.TELEGRAM)}
        return {u for u in update_ids if f"u{u}" in keys}

    async def pending(self, chat_id: int) -> int:
        stmt = sa.select(sa.func.count()).where(
            outbox.c.chat_id == str(chat_id), outbox.c.status == OutboxStatus.PENDING
        )
        async with self.db.read() as tx:
            return int(await tx.connection.scalar(stmt) or 0)

    async def drained(self) -> None:
        """Wait until nothing is waiting in the outbox."""
        stmt = sa.select(sa.func.count()).where(outbox.c.status == OutboxStatus.PENDING)
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            async with self.db.read() as tx:
                if not await tx.connection.scalar(stmt):
                    return
            assert time.monotonic() < deadline, "the outbox never ran dry"
            await asyncio.sleep(0.05)

    async def task_version(self, task_id: int) -> int:
        async with self.db.read() as tx:
            value = await tx.connection.scalar(
                sa.select(tasks.c.version).where(tasks.c.id == task_id)
            )
        assert value is not None
        return int(value)

    async def task_for(self, inspection_id: int, item_no: int) -> tuple[int, int]:
        """The id and 责任人 of the task made for an item."""
        stmt = sa.select(tasks.c.id, tasks.c.responsible_person_id).where(
            tasks.c.inspection_id == inspection_id, tasks.c.item_no == item_no
        )
        async with self.db.read() as tx:
            row = (await tx.connection.execute(stmt)).one()
        return int(row[0]), int(row[1])

    async def after_kill(self) -> set[int]:
        """With the bot dead: the outbox rows it had in flight, whose leases are then expired
        (what would otherwise happen by itself after the 60 s lease)."""
        claimed = (outbox.c.status == OutboxStatus.PENDING) & outbox.c.claimed_by.is_not(None)
        async with self.db.transaction() as tx:
            rows = await tx.connection.execute(sa.select(outbox.c.id).where(claimed))
            in_flight = {row[0] for row in rows}
            now = datetime.now(UTC)
            await tx.connection.execute(
                sa.update(outbox).where(claimed).values(claim_expires_at=now)
            )
        return in_flight


class BotProcess:
    """`python -m bot run` on the data directory, talking to the fake."""

    def __init__(self, fake: FakeTelegramAPI, data_dir: Path) -> None:
        self.fake = fake
        self.data_dir = data_dir
        self.log = data_dir / "bot.log"
        self.process: asyncio.subprocess.Process | None = None
        self.starts: list[float] = []

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PINJIAN_")}
        env.update(
            PINJIAN_DATA_DIR=str(self.data_dir),
            PINJIAN_HTTP_PORT="0",
            PINJIAN_WEB_ENABLED="false",
            PINJIAN_TELEGRAM_TOKEN=self.fake.token,
            PINJIAN_TELEGRAM_API_URL=self.fake.base_url,
            PINJIAN_TELEGRAM_FILE_URL=self.fake.base_file_url,
            PINJIAN_LOG_LEVEL="WARNING",
        )
        return env

    async def start(self) -> None:
        polls = len(self.fake.calls("getUpdates"))
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                env=self.env(),
                cwd=self.data_dir,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        await self.fake.wait_for(
            lambda: len(self.fake.calls("getUpdates")) > polls, timeout=60, message="bot start"
        )
        self.starts.append(time.time())

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def reap(self) -> None:
        """Kill the bot if it still runs (a failed test must not leave it behind)."""
        if self.process is not None and self.process.returncode is None:
            await self.kill()

    async def stop(self) -> int:
        """SIGTERM, as an operator stops it; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 60)


@dataclass
class TaskLedger:
    """What the people did to one task, as they would tell it."""

    id: int
    inspection: int
    item: int
    responsible: int
    status: TaskStatus = TaskStatus.OPEN
    moves: list[tuple[TaskStatus, TaskStatus]] = field(default_factory=list)
    fix_photos: list[bytes] = field(default_factory=list)
    fix_notes: list[str] = field(default_factory=list)
    extensions: list[ExtensionStatus] = field(default_factory=list)

    def move(self, to: TaskStatus) -> None:
        self.moves.append((self.status, to))
        self.status = to


@dataclass
class Ledger:
    """Everything the people did, to compare with the database at the end."""

    answers: dict[tuple[int, int], list[tuple[float | None, bool]]] = field(default_factory=dict)
    photos: dict[tuple[int, int], list[bytes]] = field(default_factory=dict)
    notes: dict[tuple[int, int], list[str]] = field(default_factory=dict)
    tasks: dict[int, TaskLedger] = field(default_factory=dict)
    inspections: list[int] = field(default_factory=list)
    updates: list[int] = field(default_factory=list)
    resumed_checks: int = 0
    resends: int = 0


class Crasher:
    """Kills the bot after random stretches of uptime and starts it again."""

    def __init__(
        self, bot: BotProcess, observer: Observer, fake: FakeTelegramAPI, rng: Random, kills: int
    ) -> None:
        self.bot = bot
        self.observer = observer
        self.fake = fake
        self.rng = rng
        self.kills = kills
        self.done = 0
        self.outstanding: dict[int, asyncio.Event] = {}
        self.tolerated: set[int] = set()
        self.lost = 0
        self.restarted = asyncio.Event()
        self.finished = asyncio.Event()

    async def run(self, users_done: asyncio.Event) -> None:
        """Kill at a random moment 0.3–2 s after the outbox last ran dry, so that every
        restart gets through its backlog once (a report takes a few seconds to render, and
        killing faster than that would only show that it never finishes)."""
        try:
            while self.done < self.kills and not users_done.is_set():
                await self.observer.drained()
                await asyncio.sleep(self.rng.uniform(0.3, 2.0))
                if users_done.is_set():
                    break
                await self.crash()
        finally:
            self.finished.set()

    async def crash(self) -> None:
        await self.bot.kill()
        self.done += 1
        self.tolerated |= await self.observer.after_kill()
        waiting = list(self.outstanding)
        handled = await self.observer.processed(waiting)
        stored = await self.observer.stored(waiting)
        queued = set(self.fake.pending_update_ids)
        for update_id in waiting:
            if update_id not in handled | stored | queued:
                self.lost += 1
                self.outstanding[update_id].set()
        await self.bot.start()
        self.restarted.set()
        self.restarted = asyncio.Event()


class Person:
    """One simulated person on Telegram."""

    def __init__(
        self, name: str, user: FakeUser, sim: Simulation, rng: Random, ledger: Ledger
    ) -> None:
        self.name = name
        self.user = user
        self.sim = sim
        self.rng = rng
        self.ledger = ledger

    async def act(self, send: Callable[[], Awaitable[int]]) -> None:
        """Do something; wait for the bot to handle it (doing it again if a crash lost it)
        and for its answer to arrive."""
        crasher = self.sim.crasher
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            update_id = await send()
            self.ledger.updates.append(update_id)
            lost = crasher.outstanding[update_id] = asyncio.Event()
            try:
                while not await self.sim.observer.processed([update_id]):
                    assert time.monotonic() < deadline, f"update {update_id} never handled"
                    if lost.is_set():
                        break
                    await asyncio.sleep(0.02)
            finally:
                del crasher.outstanding[update_id]
            if not lost.is_set():
                break
            self.ledger.resends += 1
        while await self.sim.observer.pending(self.user.id):
            assert time.monotonic() < deadline, f"{self.name}: answers never delivered"
            await asyncio.sleep(0.02)

    def messages(self) -> list[StoredMessage]:
        return self.sim.fake.messages(self.user.id)

    def find(self, prefix: str) -> tuple[StoredMessage, str] | None:
        """The newest message with a button whose payload starts with `prefix`."""
        for message in reversed(self.messages()):
            for _, data in message.buttons():
                if data and data.startswith(prefix):
                    return message, data
        return None

    async def press(self, prefix: str, label: str = "") -> str:
        """Press the newest button with this payload prefix (and label)."""
        found = next(
            (
                (message, data)
                for message in reversed(self.messages())
                for text, data in message.buttons()
                if data and data.startswith(prefix) and label in text
            ),
            None,
        )
        assert found is not None, f"{self.name}: no button {prefix!r} {label!r}"
        message, data = found
        await self.act(lambda: self.user.press(message, data))
        return data

    async def text(self, text: str) -> None:
        await self.act(lambda: self.user.send_text(text))

    async def command(self, command: str) -> None:
        await self.act(lambda: self.user.send_command(command))

    async def photo(self, data: bytes) -> None:
        await self.act(lambda: self.user.send_photo(data))


@dataclass
class Simulation:
    fake: FakeTelegramAPI
    bot: BotProcess
    observer: Observer
    crasher: Crasher
    ledger: Ledger
    seeded: Seeded
    people: dict[str, Person] = field(default_factory=dict)
    inspecting: bool = True


@dataclass
class Seeded:
    people: dict[str, int]
    reminders: list[tuple[int, datetime]]
    """(task id, due) of the seeded reminders."""


async def seed(data_dir: Path, reminders: int) -> Seeded:
    """The site and its people, bound to Telegram; tasks of 李四 with one reminder each, due
    from a minute ago to a minute from now."""
    url = f"sqlite+aiosqlite:///{data_dir / 'pinjian.db'}"
    await upgrade(url)
    db = Database(url)
    await db.open()
    planned = []
    async with db.transaction() as tx:
        site = await tx.sites.create(
            SITE, timezone="Asia/Shanghai", quiet_start="00:00", quiet_end="00:00"
        )
        people = {}
        for name, role, uid in PEOPLE:
            person = await tx.people.create(name)
            await tx.roles.grant(person.id, site.id, role)
            await tx.identities.bind(person.id, Channel.TELEGRAM, str(uid), chat_id=str(uid))
            people[name] = person
        now = datetime.now(UTC)
        for n in range(reminders):
            task = await tx.tasks.create(
                site.id,
                f"旧任务 {n}",
                created_by=None,
                due_date=now.date(),
                responsible_person_id=people["李四"].id,
            )
            due = now + timedelta(seconds=-60 + 120 * n / max(1, reminders - 1))
            await tx.reminders.schedule(task.id, people["李四"].id, "due", due)
            planned.append((task.id, due))
    await db.close()
    return Seeded({name: person.id for name, person in people.items()}, planned)


def jpeg(tag: str) -> bytes:
    """A small real JPEG, made unique by a comment segment carrying `tag`."""
    comment = tag.encode()
    return b"\xff\xd8\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + PICTURE[2:]
