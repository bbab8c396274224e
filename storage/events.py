"""Processed idempotency keys of incoming events."""

from __future__ import annotations

import sqlalchemy as sa

from storage.base import Repo, prepared
from storage.errors import DuplicateEvent
from storage.tables import processed_events


class EventRepo(Repo):
    __slots__ = ()

    async def record(self, key: str) -> None:
        """Record the key or raise DuplicateEvent. A concurrent transaction with the same key
        waits on the unique key (PostgreSQL) or the write lock (SQLite), then sees it too."""
        stmt = prepared(
            ("events.record", self._ctx.dialect),
            lambda: self._dialect_insert(processed_events).on_conflict_do_nothing(
                index_elements=["key"]
            ),
        )
        if (await self._conn.execute(stmt, {"key": key, "at": self._now()})).rowcount != 1:
            raise DuplicateEvent(key)

    async def seen(self, key: str) -> bool:
        stmt = sa.select(processed_events.c.key).where(processed_events.c.key == key)
        return await self._one(stmt) is not None
