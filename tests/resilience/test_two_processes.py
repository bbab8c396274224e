"""Two `pinjian run` processes on one PostgreSQL, each on its own port, as behind a load
balancer: an inspection is driven through Telegram's webhook and the web chat alternating
between them, one is killed with SIGKILL in the middle, and the survivor finishes it.
Every answer and photo is stored once, every message is delivered once and in order, and the
web page on the survivor shows what the dead process queued. Both start after a weekly digest
fell due: it goes out once, from whichever claims the week."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from bot.demo import seed_demo
from bot.flows.manager import DIGEST_JOB
from storage.db import Database
from storage.evidence import FileEvidenceStore
from storage.records import Channel, OutboxKind, OutboxStatus
from storage.tables import answers, evidence, job_runs, outbox
from tests.fakes.telegram_api import FakeTelegramAPI, FakeUser
from tests.scratch_db import PG_SKIP_REASON, PgServer
from tests.web.conftest import free_port
from tests.web.helpers import ApiClient

SECRET = "two-processes-secret"
TELEGRAM_USER = 5001
ANSWERED_BEFORE_KILL = 6
ANSWERED_AFTER_KILL = 6


@pytest.fixture
async def pg_url(pg_server: PgServer | None) -> AsyncIterator[str]:
    if pg_server is None:
        pytest.skip(PG_SKIP_REASON)
    url = await pg_server.create(migrated=True)
    yield url
    await pg_server.drop(url)


class Process:
    """One `pinjian run` with its own port, sharing the database and the data directory."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.log = (log_dir / f"{name}.log").open("w")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            env={**env, "PINJIAN_HTTP_PORT": str(self.port)},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_healthy(self) -> None:
        for _ in range(1200):
            assert self.popen.poll() is None, f"{self.name} exited: {self.output()}"
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            subprocess.run(["sleep", "0.1"], check=True)
        raise AssertionError(f"{self.name} did not start: {self.output()}")

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.log.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


class Company:
    """The test's view of the shared database and of the two processes."""

    def __init__(self, db: Database, fake: FakeTelegramAPI, processes: list[Process]) -> None:
        self.db = db
        self.fake = fake
        self.processes = processes
        self.posted = 0

    async def post(self, process: Process, update_id: int) -> None:
        """Deliver an update to `process`'s webhook as Telegram does, and wait until it is
        handled and everything it caused is delivered."""
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{process.base}/telegram/webhook",
                json=self.fake.update(update_id),
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            ) as response,
        ):
            assert response.status == 200, await response.text()
        self.posted += 1
        await self.fake.wait_for(lambda: self.settled(update_id), timeout=30)

    async def settled(self, update_id: int) -> bool:
        async with self.db.read() as tx:
            if not await tx.events.seen(f"telegram:u{update_id}"):
                return False
            return await tx.outbox.pending_count(Channel.TELEGRAM) == 0

    def keyboard(self) -> Any:
        for message in reversed(self.fake.messages(TELEGRAM_USER)):
            if message.buttons():
                return message
        raise AssertionError(self.fake.dump())

    async def tap(self, user: FakeUser, process: Process, prefix: str) -> None:
        message = self.keyboard()
        data = next(d for t, d in message.buttons() if d and t.startswith(prefix))
        await self.post(process, await user.press(message, data))


async def test_two_processes_one_killed_mid_inspection(
    pg_url: str, data_dir: Path, tmp_path: Path
) -> None:
    db = Database(pg_url, files=FileEvidenceStore(data_dir / "evidence", max_bytes=20_000_000))
    await db.open()
    async with db.transaction() as tx:
        logins = await seed_demo(tx, "Asia/Shanghai")
        assert logins is not None
        (inspector,) = await tx.people.find_by_name("王检查")
        await tx.identities.bind(
            inspector.id, Channel.TELEGRAM, str(TELEGRAM_USER), chat_id=str(TELEGRAM_USER)
        )
        # The digest ran here before (an earlier week), so this week's is due at start.
        assert await tx.jobs.claim(DIGEST_JOB, "2000-W01")
    tokens = {login.name: login.token for login in logins}
    async with FakeTelegramAPI() as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PINJIAN_")}
        env.update(
            PINJIAN_DATA_DIR=str(data_dir),
            PINJIAN_DATABASE_URL=pg_url,
            PINJIAN_TELEGRAM_TOKEN=fake.token,
            PINJIAN_TELEGRAM_API_URL=fake.base_url,
            PINJIAN_TELEGRAM_FILE_URL=fake.base_file_url,
            PINJIAN_TELEGRAM_WEBHOOK_URL="https://bot.example.invalid/telegram/webhook",
            PINJIAN_TELEGRAM_WEBHOOK_SECRET=SECRET,
            PINJIAN_LOG_LEVEL="WARNING",
        )
        processes = [Process(name, env, tmp_path) for name in ("a", "b")]
        try:
            for process in processes:
                await asyncio.to_thread(process.wait_healthy)
            await run_the_inspection(Company(db, fake, processes), tokens)
        finally:
            for process in processes:
                process.stop()
            await db.close()


async def run_the_inspection(company: Company, tokens: dict[str, str]) -> None:
    a, b = company.processes
    fake = company.fake
    user = fake.user(TELEGRAM_USER, "王检查")
    await company.post(a, await user.send_command("inspect"))
    await company.tap(user, b, "阳光花园")
    turn = [a, b]
    photo = b"\xff\xd8\xff\xe0" + os.urandom(64)
    async with aiohttp.ClientSession() as http:
        web = {p.name: ApiClient(http, p.base, tokens["赵经理"]) for p in (a, b)}
        for n in range(ANSWERED_BEFORE_KILL):
            if n == 2:
                await company.post(turn[n % 2], await user.send_photo(photo))
            await company.tap(user, turn[n % 2], "1分")
            assert await web[turn[n % 2].name].text(f"/help {n}") == 200
        # A's web messages are delivered (queued by A or B): the dead process's queue is in
        # the outbox, and the web chat's transcript is that outbox.
        await fake.wait_for(lambda: web_settled(company), timeout=30)
        before = [m["text"] for m in await web["b"].history()]

        # The last update A got is redelivered to B after A dies, as Telegram retries a
        # webhook that did not answer.
        last = await user.press(
            company.keyboard(),
            next(d for t, d in company.keyboard().buttons() if d and t.startswith("1分")),
        )
        await company.post(a, last)
        a.popen.send_signal(signal.SIGKILL)
        a.popen.wait()
        await company.post(b, last)
        for _ in range(ANSWERED_AFTER_KILL - 1):
            await company.tap(user, b, "1分")

        shown = [m["text"] for m in await web["b"].history()]
        assert shown == before, "the survivor's page shows what the dead process queued"
        sent_to_a = [f"/help {n}" for n in range(0, ANSWERED_BEFORE_KILL, 2)]
        assert all(text in shown for text in sent_to_a)
        assert [t for t in shown if t.startswith("/help")] == [
            f"/help {n}" for n in range(ANSWERED_BEFORE_KILL)
        ], "each web message stored once, in order"
    await check_stored_once(company, photo_count=1)
    await check_delivered_once_in_order(company)
    await check_digest_once(company)


async def web_settled(company: Company) -> bool:
    async with company.db.read() as tx:
        return await tx.outbox.pending_count(Channel.WEB) == 0


async def check_stored_once(company: Company, photo_count: int) -> None:
    async with company.db.read() as tx:
        conn = tx.connection
        rows = (await conn.execute(sa.select(answers.c.inspection_id, answers.c.item_no))).all()
        photos = await conn.scalar(sa.select(sa.func.count()).select_from(evidence))
    answered = ANSWERED_BEFORE_KILL + ANSWERED_AFTER_KILL
    assert len(rows) == len(set(rows)) == answered, "every answer stored once"
    assert photos == photo_count, "the photo stored once"


async def check_delivered_once_in_order(company: Company) -> None:
    """What Telegram got for the chat is the outbox, each row once, in the outbox's order."""
    stmt = (
        sa.select(outbox.c.kind, outbox.c.status, outbox.c.payload)
        .where(outbox.c.channel == Channel.TELEGRAM, outbox.c.chat_id == str(TELEGRAM_USER))
        .order_by(outbox.c.id)
    )
    async with company.db.read() as tx:
        rows = (await tx.connection.execute(stmt)).all()
    assert rows and all(row.status == OutboxStatus.SENT for row in rows)
    queued = [row.payload["text"] for row in rows if row.kind == OutboxKind.SEND]
    sent = [
        call.params["text"]
        for call in company.fake.calls("sendMessage")
        if str(call.params.get("chat_id")) == str(TELEGRAM_USER)
    ]
    assert len(queued) > ANSWERED_BEFORE_KILL + ANSWERED_AFTER_KILL, "a question per item"
    assert sent == queued, "every message delivered once, in order"


async def check_digest_once(company: Company) -> None:
    """Both processes looked for the due digest at start; one claimed the week and sent it."""
    async with company.db.read() as tx:
        conn = tx.connection
        weeks = (
            (await conn.execute(sa.select(job_runs.c.period).where(job_runs.c.job == DIGEST_JOB)))
            .scalars()
            .all()
        )
        digests = (
            await conn.execute(
                sa.select(outbox.c.channel, outbox.c.chat_id).where(
                    outbox.c.kind == OutboxKind.SEND,
                    outbox.c.payload["text"].as_string().startswith("<b>品质周报</b>"),
                )
            )
        ).all()
    assert len(weeks) == 2, f"this week claimed once beside the earlier one: {weeks}"
    assert digests, "the digest due at start was sent"
    assert len(digests) == len(set(digests)), "each manager got the digest once"
