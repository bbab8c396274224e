"""Processed idempotency keys of incoming events."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from storage.base import Repo
from storage.errors import DuplicateEvent
from storage.tables import processed_events


class EventRepo(Repo):
    __slots__ = ()

    async def record(self, key: str) -> None:
        """Record the key or raise DuplicateEvent. A concurrent transaction with the same key
        waits on the unique key (PostgreSQL) or the write lock (SQLite), then sees it too."""
        result = await self._run(
            ("events.record", self._ctx.dialect),
            lambda: self._dialect_insert(processed_events).on_conflict_do_nothing(
                index_elements=["key"]
            ),
            {"key": key, "at": self._now()},
        )
        if result.rowcount != 1:
            raise DuplicateEvent(key)

    async def prune(self, before: datetime, *, limit: int = 5000) -> int:
        """Forget up to `limit` keys recorded before `before`; returns how many went. A key
        forgotten could be handled again, so keep them longer than any channel redelivers."""
        oldest = (
            sa.select(processed_events.c.key)
            .where(processed_events.c.at < before)
            .order_by(processed_events.c.at)
            .limit(limit)
        )
        stmt = sa.delete(processed_events).where(
            processed_events.c.key.in_(oldest.scalar_subquery())
        )
        return (await self._conn.execute(stmt)).rowcount

    async def seen(self, key: str) -> bool:
        result = await self._run(
            "events.seen",
            lambda: sa.select(processed_events.c.key).where(
                processed_events.c.key == sa.bindparam("b_key")
            ),
            {"b_key": key},
        )
        return result.one_or_none() is not None
