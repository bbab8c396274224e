"""Engine creation with the SQLite settings the whole program relies on, and URL helpers."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import aiosqlite
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import await_only

SQLITE_DRIVER = "aiosqlite"
BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "pinjian_write"
# A PostgreSQL engine keeps this many connections open and opens up to PG_OVERFLOW more while
# as many transactions run at once; those are closed again when returned. With fewer kept
# open, every burst of taps (300 inspectors, docs/BENCHMARKS.md) opened and closed connections
# several times a second, each a new server process. Per bot process at most 20, plus 3 of
# its own (docs/SCALING.md): three processes stay within PostgreSQL's default 100.
PG_POOL_SIZE = 15
PG_OVERFLOW = 5


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***, fit for logs and messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparseable database URL>"


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for another dialect or an in-memory database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def create_engine(
    url: str, *, foreign_keys: bool = True, autocheckpoint: bool = True, **kwargs: Any
) -> AsyncEngine:
    """An async engine. SQLite runs on aiosqlite (``sqlite+aiosqlite://`` as given; a bare
    ``sqlite://`` names no driver and gets aiosqlite), with these guarantees:

    - WAL, foreign keys (unless `foreign_keys` is False), ``synchronous = NORMAL``, and a
      busy timeout of BUSY_TIMEOUT_MS: a connection waiting for another process's write
      lock waits in aiosqlite's thread, so the event loop stays free, and gives up after
      the timeout with SQLite's own "database is locked".
    - BEGIN is emitted by us, not by the driver (SQLAlchemy's documented recipe). Write
      transactions begin with BEGIN IMMEDIATE (execution option ``pinjian_write=False``
      makes a read-only one): taking the write lock up front means a writer waits for it
      instead of failing on a lock upgrade, which is how SQLite writers deadlock.
    - Read-only transactions set ``query_only``, so a stray write fails loudly instead of
      taking the write lock.
    """
    parsed = make_url(url)
    pooled = "poolclass" not in kwargs
    postgresql = parsed.get_backend_name() == "postgresql"
    if postgresql and pooled:
        kwargs.setdefault("pool_size", PG_POOL_SIZE)
        kwargs.setdefault("max_overflow", PG_OVERFLOW)
    if parsed.drivername == "sqlite":
        parsed = parsed.set(drivername=f"sqlite+{SQLITE_DRIVER}")
    if sqlite_path(url) is not None and pooled:
        kwargs.setdefault("pool_use_lifo", True)
    engine = create_async_engine(parsed, **kwargs)
    if postgresql:
        event.listen(engine.sync_engine.pool, "checkout", _drop_closed)
    if engine.dialect.name != "sqlite":
        return engine
    pragmas = (
        f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
        "PRAGMA journal_mode = WAL",
        f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}",
        "PRAGMA synchronous = NORMAL",
        # Without: the commit that fills the WAL copies it into the database while this
        # process's other writers wait (storage.db checkpoints in a thread instead).
        *(() if autocheckpoint else ("PRAGMA wal_autocheckpoint = 0",)),
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, True)
        # Setting the pragma expires every prepared statement of the connection, so it is
        # only set when it changes (storage.db gives reads connections of their own).
        info = conn.connection.info
        if info.get("query_only") is not (not write):
            conn.exec_driver_sql("PRAGMA query_only = " + ("0" if write else "1"))
            info["query_only"] = not write
        # Through aiosqlite itself: one hand-over to its thread instead of the three of the
        # SQLAlchemy cursor (for the N = 50 capacity goal, docs/BENCHMARKS.md), raising what
        # SQLAlchemy would ("database is locked" as OperationalError).
        begin = "BEGIN IMMEDIATE" if write else "BEGIN"
        driver = conn.connection.driver_connection
        assert isinstance(driver, aiosqlite.Connection)
        try:
            await_only(driver.execute(begin))
        except sqlite3.Error as error:
            raise DBAPIError.instance(begin, (), error, sqlite3.Error) from error

    return engine


def _drop_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled PostgreSQL connection the server closed meanwhile (a restart, a terminated
    backend) is not handed out: the pool opens a new one instead (SQLAlchemy's documented
    use of DisconnectionError at checkout). asyncpg notices a closed socket by itself, so
    this costs no round trip, where SQLAlchemy's pool_pre_ping costs three per transaction
    (BEGIN, a query, ROLLBACK), about a third of a tap's round trips to the server."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("connection closed by the server while pooled")


def checkpoint(path: Path) -> None:
    """Copy the WAL into the database file as far as no reader needs it (PASSIVE: waits for
    nobody, blocks nobody). Blocking: run it in a thread."""
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    finally:
        connection.close()
