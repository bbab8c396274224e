"""The inline SQLite driver: waiting for another process's write lock leaves the event loop
free, gives up after the timeout with SQLite's own error, and any sqlite URL uses it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from storage import Channel, Database, OutboxKind, upgrade
from storage.engine import create_engine
from storage.sqlite_inline import DRIVER, begin_immediate


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> tuple[Database, Path]:
    path = tmp_path / "inline.db"
    await upgrade(f"sqlite+aiosqlite:///{path}")
    return Database(f"sqlite:///{path}"), path


async def test_every_sqlite_url_runs_on_the_inline_driver(tmp_path: Path) -> None:
    for url in (f"sqlite:///{tmp_path}/a.db", f"sqlite+aiosqlite:///{tmp_path}/b.db"):
        engine = create_engine(url)
        try:
            assert engine.dialect.driver == DRIVER
            async with engine.connect() as conn:
                assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        finally:
            await engine.dispose()


async def test_writer_waits_for_another_process_without_blocking_the_loop(
    sqlite_db: tuple[Database, Path],
) -> None:
    db, path = sqlite_db
    await db.open()
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")

        async def write() -> None:
            async with db.transaction(event_key="inline:1") as tx:
                await tx.outbox.enqueue(Channel.WEB, "c1", OutboxKind.SEND, {"text": "好"})

        writer = asyncio.create_task(write())
        await asyncio.sleep(0.3)
        # The writer is still waiting for the lock, yet this coroutine runs and can read.
        assert not writer.done()
        async with db.read() as tx:
            assert await tx.outbox.pending_count() == 0
        other.execute("COMMIT")
        await asyncio.wait_for(writer, 10)
        async with db.read() as tx:
            assert await tx.outbox.pending_count() == 1
    finally:
        other.close()
        await db.close()


def test_lock_wait_gives_up_with_sqlites_busy_error(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    waiter = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError) as caught:
            begin_immediate(waiter, timeout_s=0)
        assert caught.value.sqlite_errorname == "SQLITE_BUSY"
        assert not waiter.in_transaction
    finally:
        holder.close()
        waiter.close()
