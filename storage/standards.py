"""Stored standards: every distinct content of a standard is kept forever as its own row."""

from __future__ import annotations

import sqlalchemy as sa

from storage.base import Repo, to_record
from storage.records import JsonDict, StoredStandard
from storage.tables import standards


class StandardRepo(Repo):
    __slots__ = ()

    async def ensure(
        self, std_id: str, version: str, title: str, content_hash: str, snapshot: JsonDict
    ) -> StoredStandard:
        """The row for this exact content, created if new. An edited standard (a new hash)
        gets a new row, so inspections pinned to the old row keep their snapshot."""
        stmt = self._insert_ignoring_conflict(
            standards,
            ("std_id", "content_hash"),
            {
                "std_id": std_id,
                "version": version,
                "title": title,
                "content_hash": content_hash,
                "snapshot": snapshot,
                "created_at": self._now(),
            },
        )
        await self._conn.execute(stmt)
        row = await self._one(
            sa.select(standards).where(
                standards.c.std_id == std_id, standards.c.content_hash == content_hash
            )
        )
        assert row is not None
        return to_record(StoredStandard, row)

    async def get(self, standard_id: int) -> StoredStandard | None:
        row = await self._by_id(standards, standard_id)
        return to_record(StoredStandard, row) if row else None

    async def content_hash(self, standard_id: int) -> str | None:
        """The content hash of a stored standard, without its snapshot: a reader that parsed
        that content already (`standards.pinned`) need not read and decode it again."""
        result = await self._run(
            "standards.content_hash",
            lambda: sa.select(standards.c.content_hash).where(
                standards.c.id == sa.bindparam("b_id")
            ),
            {"b_id": standard_id},
        )
        found: str | None = result.scalar()
        return found

    async def latest(self, std_id: str) -> StoredStandard | None:
        """The most recently stored content of the standard."""
        stmt = (
            sa.select(standards)
            .where(standards.c.std_id == std_id)
            .order_by(standards.c.id.desc())
            .limit(1)
        )
        row = await self._one(stmt)
        return to_record(StoredStandard, row) if row else None
