"""Coordination between bot processes on one PostgreSQL, with what the server offers: a
session advisory lock that one process holds (the Telegram poller), and LISTEN/NOTIFY to tell
the other processes that something changed (a web chat's new messages).

Each uses a connection of its own, outside the pool: a session lock lives exactly as long as
its connection, so a process that dies (even by SIGKILL) releases it when the server sees the
connection close. On SQLite there is one process: the lock is always this process's and a
notification has no one else to reach.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def _dsn(url: str) -> str:
    """The asyncpg DSN of a SQLAlchemy PostgreSQL URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for `name`."""
    digest = hashlib.sha256(f"pinjian:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def _connect(url: str) -> Any:
    return await asyncpg.connect(_dsn(url))


class Leadership:
    """One holder among the processes of a database for the lock `name`.

    `acquire` returns once this process holds it (at once on SQLite), trying again every
    `retry_seconds`; `lost` is set when the lock's connection ends (the server restarted, the
    network broke), after which another process may take it and the holder must stop.
    """

    def __init__(self, url: str, name: str, *, retry_seconds: float = RETRY_SECONDS) -> None:
        self.url = url
        self.name = name
        self.key = lock_key(name)
        self.retry_seconds = retry_seconds
        self.lost = asyncio.Event()
        self._conn: Any = None

    async def acquire(self) -> None:
        self.lost.clear()
        if not is_postgres(self.url):
            return
        while True:
            try:
                conn = await _connect(self.url)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("lock %s: cannot connect (%s); retrying", self.name, type(exc).__name__)
            else:
                if await conn.fetchval("SELECT pg_try_advisory_lock($1)", self.key):
                    conn.add_termination_listener(lambda _conn: self.lost.set())
                    self._conn = conn
                    log.info("lock %s: held by this process", self.name)
                    return
                await conn.close()
            await asyncio.sleep(self.retry_seconds)

    @property
    def held(self) -> bool:
        return self._conn is not None and not self.lost.is_set()

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()


Listener = Callable[[str], None]


class Notifications:
    """LISTEN/NOTIFY on one channel name. `publish` reaches every process listening on the
    same database, this one included; `on_message` gets each payload, and `on_reconnect` is
    called after the listening connection was lost and is back (notifications in between are
    lost: the listener catches up from the database)."""

    def __init__(
        self,
        url: str,
        channel: str,
        on_message: Listener,
        on_reconnect: Callable[[], None],
        *,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self.url = url
        self.channel = channel
        self.enabled = is_postgres(url)
        self._on_message = on_message
        self._on_reconnect = on_reconnect
        self.retry_seconds = retry_seconds
        self._conn: Any = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._dropped = asyncio.Event()

    async def start(self) -> None:
        """Listen (on PostgreSQL); a server that cannot be reached now is retried."""
        if not self.enabled:
            return
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            await self._listen()
        self._task = asyncio.create_task(self._keep(), name=f"listen-{self.channel}")

    async def _listen(self) -> None:
        conn = await _connect(self.url)
        self._dropped.clear()
        conn.add_termination_listener(lambda _conn: self._dropped.set())
        await conn.add_listener(self.channel, self._received)
        self._conn = conn

    def _received(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self._on_message(payload)

    async def _keep(self) -> None:
        while True:
            if self._conn is not None:
                await self._dropped.wait()
                self._conn = None
                log.warning("notifications %s: connection lost; reconnecting", self.channel)
            try:
                await self._listen()
            except (OSError, asyncpg.PostgresError):
                await asyncio.sleep(self.retry_seconds)
                continue
            self._on_reconnect()

    async def publish(self, payload: str) -> None:
        """Notify every listener (none on SQLite); a lost connection drops the notification,
        which the listeners' catch-up on reconnect covers."""
        if self._conn is None:
            return
        async with self._lock:
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await self._conn.execute("SELECT pg_notify($1, $2)", self.channel, payload)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()


class LockSet:
    """Session advisory locks this process takes and gives back by name, on one connection of
    its own; all are gone when that connection is (then `try_lock` starts afresh). On SQLite
    every lock is this process's."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        self.enabled = is_postgres(url)
        self._conn: Any = None
        self._held: set[str] = set()
        self._lock = asyncio.Lock()

    async def try_lock(self, name: str) -> bool:
        if not self.enabled:
            return True
        async with self._lock:
            if self._conn is None or self._conn.is_closed():
                self._held.clear()
                try:
                    self._conn = await _connect(self.url)
                except (OSError, asyncpg.PostgresError):
                    self._conn = None
                    return False
            if name in self._held:
                return True
            key = lock_key(f"{self.prefix}:{name}")
            try:
                taken = bool(await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", key))
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                return False
            if taken:
                self._held.add(name)
            return taken

    async def unlock(self, name: str) -> None:
        if not self.enabled:
            return
        async with self._lock:
            if name not in self._held or self._conn is None:
                return
            self._held.discard(name)
            key = lock_key(f"{self.prefix}:{name}")
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await self._conn.execute("SELECT pg_advisory_unlock($1)", key)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        self._held.clear()
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()
