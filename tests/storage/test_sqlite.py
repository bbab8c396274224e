"""SQLite through SQLAlchemy's aiosqlite dialect: the settings every connection gets, write
transactions that take the write lock up front, waiting for another process's lock with the
event loop free (and giving up after the busy timeout), WAL checkpoints off the loop, and hot
statements through aiosqlite's own API."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
import sqlalchemy as sa

import storage.db
import storage.engine
from storage.db import Database
from storage.engine import create_engine
from storage.migrate import upgrade
from storage.records import Channel, OutboxKind, Role
from storage.tables import people, roles


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> tuple[Database, Path]:
    path = tmp_path / "pinjian.db"
    await upgrade(f"sqlite+aiosqlite:///{path}")
    return Database(f"sqlite+aiosqlite:///{path}"), path


async def test_every_sqlite_url_runs_on_aiosqlite(tmp_path: Path) -> None:
    for url in (f"sqlite+aiosqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"):
        engine = create_engine(url)
        try:
            assert engine.dialect.driver == "aiosqlite"
            assert engine.url.drivername == "sqlite+aiosqlite"
            async with engine.connect() as conn:
                raw = (await conn.get_raw_connection()).driver_connection
                assert type(raw).__module__.startswith("aiosqlite")
        finally:
            await engine.dispose()


async def test_every_connection_has_wal_foreign_keys_and_the_busy_timeout(
    sqlite_db: tuple[Database, Path],
) -> None:
    db, _ = sqlite_db
    await db.open()
    expected = {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": storage.engine.BUSY_TIMEOUT_MS,
        "synchronous": 1,  # NORMAL
        "wal_autocheckpoint": 0,  # storage.db checkpoints in a thread
    }
    try:
        for connect in (db.transaction, db.read):
            async with connect() as tx:
                for pragma, value in expected.items():
                    got = await tx.connection.exec_driver_sql(f"PRAGMA {pragma}")
                    assert got.scalar() == value, pragma
        with pytest.raises(sa.exc.IntegrityError):
            async with db.transaction() as tx:
                await tx.connection.execute(
                    sa.insert(roles).values(
                        person_id=999, role=Role.INSPECTOR, active=True, created_at=db.now()
                    )
                )
    finally:
        await db.close()


async def test_a_write_transaction_holds_the_write_lock_from_its_start(
    sqlite_db: tuple[Database, Path],
) -> None:
    """BEGIN IMMEDIATE: the lock is taken before the first statement, so no writer ever
    needs to upgrade a read lock (how SQLite writers deadlock); a read takes no lock."""
    db, path = sqlite_db
    await db.open()
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        async with db.transaction():
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        async with db.read() as tx:
            await tx.outbox.pending_count()
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
    finally:
        other.close()
        await db.close()


async def test_writer_waits_for_another_process_without_blocking_the_loop(
    sqlite_db: tuple[Database, Path],
) -> None:
    db, path = sqlite_db
    await db.open()
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")

        async def write() -> None:
            async with db.transaction(event_key="wait:1") as tx:
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


async def test_the_wait_for_the_lock_gives_up_after_the_busy_timeout(
    sqlite_db: tuple[Database, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage.engine, "BUSY_TIMEOUT_MS", 200)
    db, path = sqlite_db
    await db.open()
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        started = asyncio.get_running_loop().time()
        with pytest.raises(sa.exc.OperationalError, match="database is locked"):
            async with db.transaction(event_key="busy:1") as tx:
                await tx.people.create("等不到")
        assert asyncio.get_running_loop().time() - started < 5
        other.execute("ROLLBACK")
        async with db.transaction(event_key="busy:1") as tx:  # nothing of it was kept
            await tx.people.create("等到了")
        async with db.read() as tx:
            assert [p.name for p in await tx.people.find_by_name("等到了")] == ["等到了"]
    finally:
        other.close()
        await db.close()


async def test_the_wal_is_copied_into_the_database_file_off_the_event_loop(
    sqlite_db: tuple[Database, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No commit of the bot's copies the WAL into the database file (this process's other
    writers would wait for it); a checkpoint in a thread does, every CHECKPOINT_SECONDS."""
    monkeypatch.setattr(storage.db, "CHECKPOINT_SECONDS", 0.3)
    db, path = sqlite_db
    await db.open()

    def rows_in_the_file() -> int:
        # immutable=1 reads the database file alone, ignoring the WAL.
        file = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
        try:
            return int(file.execute("SELECT count(*) FROM people").fetchone()[0])
        finally:
            file.close()

    try:
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


async def test_hot_statements_run_through_aiosqlite_with_sqlalchemys_sql(
    sqlite_db: tuple[Database, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """storage.direct runs a repository's hot statements through aiosqlite's own connection
    API, with the SQL text SQLAlchemy compiles for them, in the transaction SQLAlchemy began."""
    db, _ = sqlite_db
    await db.open()
    seen: list[str] = []
    fetchall = aiosqlite.Connection.execute_fetchall

    async def spy(self: aiosqlite.Connection, sql: str, parameters: Any = None) -> Any:
        seen.append(sql)
        return await fetchall(self, sql, parameters)

    monkeypatch.setattr(aiosqlite.Connection, "execute_fetchall", spy)
    try:

        async def roll_back() -> None:
            async with db.transaction() as tx:
                await tx.people.create("回滚")
                raise RuntimeError

        with pytest.raises(RuntimeError):
            await roll_back()
        async with db.transaction() as tx:
            kept = await tx.people.create("直连")
        async with db.read() as tx:
            assert await tx.people.find_by_name("回滚") == []
            person = await tx.people.get(kept.id)
            assert person is not None
            assert person.name == "直连"
            assert person.created_at == kept.created_at
    finally:
        await db.close()
    by_id = sa.select(people).where(people.c.id == sa.bindparam("b_id"))
    assert str(by_id.compile(dialect=db_dialect())) in seen


def db_dialect() -> sa.Dialect:
    return create_engine("sqlite+aiosqlite://").dialect
