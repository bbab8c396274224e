"""The inline SQLite driver: waiting for another process's write lock leaves the event loop
free, gives up after the timeout with SQLite's own error, and any sqlite URL uses it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

import storage.db
from storage.db import Database
from storage.engine import create_engine
from storage.migrate import upgrade
from storage.records import Channel, OutboxKind
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


async def test_the_wal_is_copied_into_the_database_file_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No commit of the bot's copies the WAL into the database file (that held up every
    chat for ~25 ms each time the WAL filled); a checkpoint in a thread does, every
    CHECKPOINT_SECONDS."""
    monkeypatch.setattr(storage.db, "CHECKPOINT_SECONDS", 0.3)
    path = tmp_path / "wal.db"
    url = f"sqlite:///{path}"
    await upgrade(url)
    db = Database(url)
    await db.open()

    def rows_in_the_file() -> int:
        # immutable=1 reads the database file alone, ignoring the WAL.
        file = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
        try:
            return int(file.execute("SELECT count(*) FROM people").fetchone()[0])
        finally:
            file.close()

    try:
        for connect in (db.transaction, db.read):
            async with connect() as tx:
                setting = await tx.connection.exec_driver_sql("PRAGMA wal_autocheckpoint")
                assert setting.scalar() == 0
        for n in range(40):
            async with db.transaction() as tx:
                await tx.people.create(f"员工{n}")
        assert rows_in_the_file() == 0
        for _ in range(50):
            if rows_in_the_file() == 40:
                break
            await asyncio.sleep(0.1)
        assert rows_in_the_file() == 40
    finally:
        await db.close()
