"""Transactions: commit/rollback, idempotent events, read-only reads, concurrent writers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage.db import Database
from storage.engine import mask_url
from storage.errors import DuplicateEvent
from storage.records import Channel, OutboxKind
from storage.tables import outbox, people, processed_events
from tests.storage.helpers import FakeClock, World

ROOT = Path(__file__).resolve().parents[2]


async def _count(db: Database, table: sa.Table) -> int:
    async with db.read() as tx:
        return int(await tx.connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def _handle(db: Database, key: str, world: World, text: str) -> None:
    """What a flow does for one incoming event: state, answer-ish row, outbox, one tx."""
    async with db.transaction(event_key=key) as tx:
        conv = await tx.conversations.get(world.inspector, Channel.TELEGRAM, "42")
        await tx.conversations.save(
            world.inspector,
            Channel.TELEGRAM,
            "42",
            {"last": text},
            expected_version=conv.version if conv else 0,
        )
        await tx.outbox.enqueue(Channel.TELEGRAM, "42", OutboxKind.SEND, {"text": text})


async def test_redelivered_event_changes_nothing(
    db: Database, world: World, clock: FakeClock
) -> None:
    await _handle(db, "tg:update:1", world, "first")
    before = (await _count(db, outbox), await _count(db, processed_events))
    with pytest.raises(DuplicateEvent) as caught:
        await _handle(db, "tg:update:1", world, "second")
    assert caught.value.key == "tg:update:1"
    assert (await _count(db, outbox), await _count(db, processed_events)) == before
    async with db.read() as tx:
        conv = await tx.conversations.get(world.inspector, Channel.TELEGRAM, "42")
        assert conv is not None
        assert conv.state == {"last": "first"}
        assert conv.version == 1
        assert await tx.events.seen("tg:update:1")
        assert not await tx.events.seen("tg:update:2")


async def test_failed_event_is_not_recorded_and_can_be_redelivered(
    db: Database, world: World
) -> None:
    async def crash_midway() -> None:
        async with db.transaction(event_key="wecom:msg:9") as tx:
            await tx.outbox.enqueue(Channel.WECOM, "u1", OutboxKind.SEND, {"text": "x"})
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await crash_midway()
    assert await _count(db, outbox) == 0
    await _handle(db, "wecom:msg:9", world, "retry")
    assert await _count(db, outbox) == 1


async def test_concurrent_duplicates_end_as_duplicate_event(
    db: Database, db_url: str, world: World
) -> None:
    """Two processes handle the same redelivered update at once: one wins, one is ignored."""
    first, second = Database(db_url), Database(db_url)
    await first.open()
    await second.open()
    entered = asyncio.Event()

    async def slow_winner() -> None:
        async with first.transaction(event_key="tg:update:7") as tx:
            await tx.people.create("winner")
            entered.set()
            await asyncio.sleep(0.3)

    async def late_duplicate() -> str:
        await entered.wait()
        try:
            async with second.transaction(event_key="tg:update:7") as tx:
                await tx.people.create("duplicate")
        except DuplicateEvent:
            return "duplicate"
        return "processed"

    try:
        _, outcome = await asyncio.gather(slow_winner(), late_duplicate())
    finally:
        await first.close()
        await second.close()
    assert outcome == "duplicate"
    async with db.read() as tx:
        assert [p.name for p in await tx.people.find_by_name("winner")] == ["winner"]
        assert await tx.people.find_by_name("duplicate") == []


async def test_direct_and_sqlalchemy_statements_commit_and_roll_back_together(
    db: Database,
) -> None:
    """On SQLite hot statements run on the connection directly (storage/direct.py) and the
    rest through SQLAlchemy, in one transaction: both kinds stay or go together."""

    class Boom(Exception):
        pass

    async def fail_midway() -> None:
        async with db.transaction(event_key="mixed:1") as tx:
            await tx.people.create("回滚")
            await tx.settings.set("company_name", "回滚物业")
            raise Boom

    with pytest.raises(Boom):
        await fail_midway()
    assert await _count(db, people) == 0
    async with db.read() as tx:
        assert await tx.settings.get("company_name") is None
    async with db.transaction(event_key="mixed:1") as tx:
        await tx.people.create("保留")
        await tx.settings.set("company_name", "保留物业")
    assert await _count(db, people) == 1
    async with db.read() as tx:
        assert await tx.settings.get("company_name") == "保留物业"
    with pytest.raises(DuplicateEvent):
        async with db.transaction(event_key="mixed:1"):
            pass


async def test_read_transactions_refuse_writes(db: Database) -> None:
    with pytest.raises(sa.exc.DBAPIError):
        async with db.read() as tx:
            await tx.people.create("sneaky")
    assert await _count(db, people) == 0


async def test_clock_is_injected(db: Database, clock: FakeClock) -> None:
    clock.advance(days=3)
    async with db.transaction() as tx:
        assert tx.now() == clock.now
        person = await tx.people.create("x")
    assert person.created_at == clock.now
    assert db.now() == clock.now


async def test_old_event_keys_are_pruned_oldest_first_in_batches(
    db: Database, clock: FakeClock
) -> None:
    for n in range(5):
        async with db.transaction(event_key=f"tg:{n}"):
            pass
        clock.advance(hours=1)
    cutoff = clock.now - timedelta(hours=2, minutes=30)
    async with db.transaction() as tx:
        assert await tx.events.prune(cutoff, limit=2) == 2
        assert await tx.events.prune(cutoff, limit=2) == 1
        assert await tx.events.prune(cutoff) == 0
    async with db.read() as tx:
        assert [await tx.events.seen(f"tg:{n}") for n in range(5)] == [False] * 3 + [True] * 2
    async with db.transaction(event_key="tg:0"):
        pass


def test_urls_are_masked() -> None:
    masked = mask_url("postgresql+asyncpg://pinjian:s3cret@db.example:5432/pinjian")
    assert "s3cret" not in masked
    assert masked == "postgresql+asyncpg://pinjian:***@db.example:5432/pinjian"
    assert "s3cret" not in repr(Database("postgresql+asyncpg://u:s3cret@h/d"))


async def _writer(db: Database, label: str, count: int) -> None:
    for n in range(count):
        async with db.transaction(event_key=f"{label}:{n}") as tx:
            person = await tx.people.create(f"{label}-{n}")
            await tx.outbox.enqueue(
                Channel.WEB, label, OutboxKind.SEND, {"n": n}, person_id=person.id
            )


async def _reader(db: Database, rounds: int) -> None:
    for _ in range(rounds):
        async with db.read() as tx:
            await tx.people.all()
        await asyncio.sleep(0)


async def test_concurrent_writers_neither_deadlock_nor_lose_writes(db_url: str) -> None:
    """Bot, scheduler and CLI as three Database objects on one file (or one PostgreSQL
    database), each with several concurrent writers and readers."""
    databases = [Database(db_url) for _ in range(3)]
    for database in databases:
        await database.open()
    try:
        jobs = [
            _writer(database, f"{name}{worker}", 25)
            for database, name in zip(databases, ("bot", "scheduler", "cli"), strict=True)
            for worker in range(4)
        ]
        jobs += [_reader(database, 30) for database in databases]
        await asyncio.wait_for(asyncio.gather(*jobs), timeout=60)
        assert await _count(databases[0], people) == 3 * 4 * 25
        assert await _count(databases[1], outbox) == 3 * 4 * 25
        assert await _count(databases[2], processed_events) == 3 * 4 * 25
    finally:
        for database in databases:
            await database.close()


async def test_writers_in_separate_processes(db: Database, db_url: str) -> None:
    """Two more OS processes (e.g. the CLI) write while this one does."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.storage.writer_process",
            db_url,
            f"proc{n}",
            "40",
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
        )
        for n in range(2)
    ]
    await _writer(db, "main", 40)
    for proc in procs:
        _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode == 0, err.decode()
    assert await _count(db, people) == 120
    assert await _count(db, outbox) == 120
