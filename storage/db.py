"""The Database: transactions with a repository per area, and event idempotency."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.admin import AuditRepo, SettingsRepo
from storage.base import Clock, Ctx, utc_now
from storage.confirmations import ConfirmationRepo
from storage.conversations import ConversationRepo
from storage.direct_pg import begin_now
from storage.engine import (
    WRITE_OPTION,
    checkpoint,
    create_engine,
    mask_url,
    sqlite_path,
)
from storage.errors import StorageError
from storage.events import EventRepo
from storage.evidence import EvidenceStore
from storage.groups import GroupRepo
from storage.inbox import InboxRepo
from storage.inspections import AnswerRepo, EvidenceRepo, InspectionRepo, NoteRepo
from storage.jobs import JobRunRepo
from storage.migrate import check_schema
from storage.outbox import OutboxRepo
from storage.people import IdentityRepo, InviteRepo, PersonRepo, RegionRepo, RoleRepo, SiteRepo
from storage.plans import OccurrenceRepo, PlanRepo
from storage.records import Channel
from storage.reminders import ReminderRepo
from storage.standards import StandardRepo
from storage.tasks import TaskRepo

log = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 1.0


class Tx:
    """One transaction with a repository per area, all on the same connection."""

    def __init__(self, ctx: Ctx) -> None:
        self._ctx = ctx
        self.events = EventRepo(ctx)
        self.inbox = InboxRepo(ctx)
        self.regions = RegionRepo(ctx)
        self.sites = SiteRepo(ctx)
        self.people = PersonRepo(ctx)
        self.roles = RoleRepo(ctx)
        self.identities = IdentityRepo(ctx)
        self.invites = InviteRepo(ctx)
        self.standards = StandardRepo(ctx)
        self.inspections = InspectionRepo(ctx)
        self.answers = AnswerRepo(ctx)
        self.notes = NoteRepo(ctx)
        self.evidence = EvidenceRepo(ctx)
        self.tasks = TaskRepo(ctx)
        self.confirmations = ConfirmationRepo(ctx)
        self.reminders = ReminderRepo(ctx)
        self.plans = PlanRepo(ctx)
        self.occurrences = OccurrenceRepo(ctx)
        self.conversations = ConversationRepo(ctx)
        self.outbox = OutboxRepo(ctx)
        self.groups = GroupRepo(ctx)
        self.audit = AuditRepo(ctx)
        self.settings = SettingsRepo(ctx)
        self.jobs = JobRunRepo(ctx)

    @property
    def connection(self) -> AsyncConnection:
        """The raw connection, for storage internals and tests; flows never use it."""
        return self._ctx.conn

    @property
    def queued_channels(self) -> frozenset[Channel]:
        """The channels this transaction queued outbox messages for (whose outbox workers
        have something to send once it commits)."""
        written = (message.channel for message in self._ctx.queued)
        return frozenset(written) | {row["channel"] for row in self._ctx.unwritten}

    def queued_count(self, channel: Channel) -> int:
        """How many outbox messages this transaction queued for `channel`."""
        written = sum(1 for message in self._ctx.queued if message.channel == channel)
        return written + sum(1 for row in self._ctx.unwritten if row["channel"] == channel)

    def now(self) -> datetime:
        """The database clock's current time (aware UTC)."""
        return self._ctx.now()


class Database:
    """The program's database, chosen by URL (SQLite file or PostgreSQL).

    ``async with db.transaction(event_key) as tx`` writes: commit on clean exit, rollback on
    an exception, and DuplicateEvent on entry when the event was processed before.
    ``async with db.read() as tx`` reads. Do not nest transactions of one Database.
    """

    def __init__(
        self,
        url: str,
        *,
        clock: Clock = utc_now,
        files: EvidenceStore | None = None,
        pool_size: int | None = None,
    ) -> None:
        self._url = url
        self._clock = clock
        self._files = files
        self._pool_size = pool_size
        self._engine: AsyncEngine | None = None
        self._read_engine: AsyncEngine | None = None
        self._checkpointer: asyncio.Task[None] | None = None
        self._write_lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"Database({mask_url(self._url)!r})"

    @property
    def url(self) -> str:
        """The URL this database was opened with (it may hold a password: never log it)."""
        return self._url

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise StorageError("database is not open")
        return self._engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def files(self) -> EvidenceStore:
        """The evidence file store this database's evidence rows refer to."""
        if self._files is None:
            raise StorageError("no evidence store configured")
        return self._files

    def now(self) -> datetime:
        return self._clock()

    async def open(self, *, check: bool = True) -> None:
        """Connect; with `check`, refuse (SchemaMismatch) a schema this program does not know."""
        path = sqlite_path(self._url)
        # A file database is checkpointed by this process in a thread (_checkpoints), not
        # by whichever commit fills the WAL: this process's other writers would wait for it.
        autocheckpoint = path is None
        pool: dict[str, Any] = {} if self._pool_size is None else {"pool_size": self._pool_size}
        engine = create_engine(self._url, autocheckpoint=autocheckpoint, **pool)
        try:
            if check:
                await check_schema(engine)
        except BaseException:
            await engine.dispose()
            raise
        self._engine = engine
        # On SQLite reads get connections of their own: a connection switched between
        # reading and writing recompiles its statements (see storage.engine).
        self._read_engine = engine
        if path is not None:
            self._read_engine = create_engine(self._url, autocheckpoint=autocheckpoint, **pool)
            self._checkpointer = asyncio.create_task(self._checkpoints(path))
        # SQLite has one writer at a time anyway: queue this process's writers here, in
        # order, instead of in SQLite's busy handler (which polls with growing sleeps);
        # other processes still wait in the busy handler, in aiosqlite's thread.
        self._write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        log.info("database open: %s", mask_url(self._url))

    async def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpointer
            self._checkpointer = None
        if self._read_engine is not None and self._read_engine is not self._engine:
            await self._read_engine.dispose()
        self._read_engine = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def _checkpoints(self, path: Path) -> None:
        """Copy the WAL into the database every CHECKPOINT_SECONDS, off the event loop."""
        while True:
            await asyncio.sleep(CHECKPOINT_SECONDS)
            try:
                await asyncio.to_thread(checkpoint, path)
            except sqlite3.Error as error:
                log.warning("checkpoint of %s failed: %s", path.name, error)

    @asynccontextmanager
    async def transaction(self, event_key: str | None = None) -> AsyncIterator[Tx]:
        async with (
            self._write_lock or contextlib.nullcontext(),
            self._begin(write=True, event_key=event_key) as tx,
        ):
            yield tx

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        async with self._begin(write=False, event_key=None) as tx:
            yield tx

    @asynccontextmanager
    async def _begin(self, *, write: bool, event_key: str | None) -> AsyncIterator[Tx]:
        engine = self.engine if write or self._read_engine is None else self._read_engine
        async with engine.connect() as conn:
            options: dict[str, object] = {WRITE_OPTION: write}
            if not write and self.dialect == "postgresql":
                options["postgresql_readonly"] = True
            await conn.execution_options(**options)
            async with conn.begin():
                pooled = await conn.get_raw_connection()
                driver = pooled.driver_connection
                raw = driver if isinstance(driver, aiosqlite.Connection) else None
                pg = driver if isinstance(driver, asyncpg.Connection) else None
                if pg is not None:
                    await begin_now(pooled.dbapi_connection)
                tx = Tx(Ctx(conn, self._clock, self.dialect, raw, pg))
                if event_key is not None:
                    await tx.events.record(event_key)
                yield tx
                await tx.outbox.flush()
