"""Processed idempotency keys of incoming events."""

from __future__ import annotations

import sqlalchemy as sa

from storage.base import Repo
from storage.errors import DuplicateEvent
from storage.tables import processed_events


class EventRepo(Repo):
    __slots__ = ()

    async def record(self, key: str) -> None:
        """Record the key or raise DuplicateEvent. A concurrent transaction with the same key
        waits on the unique key (PostgreSQL) or the write lock (SQLite), then sees it too."""
        stmt = self._insert_ignoring_conflict(
            processed_events, ("key",), {"key": key, "at": self._now()}
        )
        if (await self._conn.execute(stmt)).rowcount != 1:
            raise DuplicateEvent(key)

    async def seen(self, key: str) -> bool:
        stmt = sa.select(processed_events.c.key).where(processed_events.c.key == key)
        return await self._one(stmt) is not None
