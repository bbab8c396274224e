"""SQLite for the asyncio engine, run on the event loop's own thread.

aiosqlite runs every statement on a helper thread and wakes the event loop with the result,
about a third of a millisecond per statement, and while a write transaction waits for those
wake-ups it holds SQLite's single write lock across many turns of the loop. A statement on a
local SQLite file takes microseconds, so this dialect calls the standard ``sqlite3`` module
directly: a transaction that awaits nothing but the database now runs from BEGIN to COMMIT
without giving up the loop, and each statement costs what SQLite costs.

SQLAlchemy's asyncio layer insists that every execute awaits something, so each statement
passes one await that completes at once (:func:`_awaited`), which never yields to the loop.

The one wait that could block the loop is another process (the CLI, a backup) holding the
write lock; :func:`begin_immediate` therefore polls for it with ``asyncio.sleep`` and SQLite's
own busy timeout stays short.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Any

from sqlalchemy import pool
from sqlalchemy.dialects.sqlite.base import SQLiteExecutionContext
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.engine.interfaces import ConnectArgsType, DBAPICursor
from sqlalchemy.util.concurrency import await_, in_greenlet

DRIVER = "pinjian"
# How long one attempt may block the loop inside SQLite's busy handler.
BUSY_SLICE_MS = 50
_RETRY_PAUSE_S = 0.01


async def _nothing() -> None:
    return None


def _awaited() -> None:
    if in_greenlet():
        await_(_nothing())


class _Cursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> _Cursor:
        _awaited()
        return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> _Cursor:
        _awaited()
        return super().executemany(sql, parameters)

    async def _async_soft_close(self) -> None:
        """Asked for by SQLAlchemy's asyncio results; rows are read lazily on this thread
        anyway, so there is nothing to fetch ahead."""


class _Connection(sqlite3.Connection):
    def cursor(self, factory: Any = _Cursor) -> Any:
        return super().cursor(factory)


class _ExecutionContext(SQLiteExecutionContext):
    def create_server_side_cursor(self) -> DBAPICursor:
        # A sqlite3 cursor steps through its rows as they are fetched: streaming as is.
        return self._dbapi_connection.cursor()


class InlineSQLiteDialect(SQLiteDialect_pysqlite):
    """``sqlite+pinjian://``: the pysqlite dialect, usable by ``create_async_engine``."""

    driver = DRIVER
    is_async = True
    supports_statement_cache = True
    supports_server_side_cursors = True
    execution_ctx_cls = _ExecutionContext

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        if cls._is_url_file_db(url):
            return pool.AsyncAdaptedQueuePool
        return pool.StaticPool

    def create_connect_args(self, url: URL) -> ConnectArgsType:
        args, kwargs = super().create_connect_args(url)
        # Connections are used on the loop's thread, but the pool may close one elsewhere.
        kwargs["check_same_thread"] = False
        kwargs["factory"] = _Connection
        return args, kwargs


def begin_immediate(connection: sqlite3.Connection, timeout_s: float) -> None:
    """BEGIN IMMEDIATE, waiting for another process's write lock without blocking the loop
    for more than one busy slice at a time (inside SQLAlchemy's greenlet)."""
    deadline = time.monotonic() + timeout_s
    while not _began(connection, deadline, can_wait=in_greenlet()):
        await_(asyncio.sleep(_RETRY_PAUSE_S))


async def begin_immediate_async(connection: sqlite3.Connection, timeout_s: float) -> None:
    """BEGIN IMMEDIATE from plain asyncio code, waiting for another process's write lock in
    busy slices with the loop free in between."""
    deadline = time.monotonic() + timeout_s
    while True:
        if _began(connection, deadline, can_wait=True):
            return
        await asyncio.sleep(_RETRY_PAUSE_S)


def _began(connection: sqlite3.Connection, deadline: float, *, can_wait: bool) -> bool:
    """One attempt; False when another process holds the lock and there is time to wait."""
    try:
        connection.execute("BEGIN IMMEDIATE")
        return True
    except sqlite3.OperationalError as error:
        busy = getattr(error, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED")
        if not busy or not can_wait or time.monotonic() >= deadline:
            raise
    return False
