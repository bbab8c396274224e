"""What every repository shares: the transaction's connection, the clock and row mapping."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

Clock = Callable[[], datetime]
AnyRow = sa.Row[*tuple[Any, ...]]


def utc_now() -> datetime:
    return datetime.now(UTC)


class _Record(Protocol):
    def __init__(self, **kwargs: Any) -> None: ...


R = TypeVar("R", bound=_Record)


@dataclass(frozen=True, slots=True)
class Ctx:
    """One open transaction: its connection, the clock and the dialect name."""

    conn: AsyncConnection
    clock: Clock
    dialect: str

    def now(self) -> datetime:
        return self.clock()


class Repo:
    """Base of the per-area repositories; all of one Tx share one Ctx."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: Ctx) -> None:
        self._ctx = ctx

    @property
    def _conn(self) -> AsyncConnection:
        return self._ctx.conn

    def _now(self) -> datetime:
        return self._ctx.clock()

    async def _insert(self, table: sa.Table, values: Mapping[str, Any]) -> AnyRow:
        stmt = sa.insert(table).values(**values).returning(table)
        row: AnyRow = (await self._conn.execute(stmt)).one()
        return row

    async def _update(
        self, table: sa.Table, where: sa.ColumnElement[bool], values: Mapping[str, Any]
    ) -> AnyRow | None:
        stmt = sa.update(table).where(where).values(**values).returning(table)
        row: AnyRow | None = (await self._conn.execute(stmt)).one_or_none()
        return row

    async def _one(self, stmt: sa.Select[*tuple[Any, ...]]) -> AnyRow | None:
        row: AnyRow | None = (await self._conn.execute(stmt)).one_or_none()
        return row

    async def _all(self, stmt: sa.Select[*tuple[Any, ...]]) -> Sequence[AnyRow]:
        rows: Sequence[AnyRow] = (await self._conn.execute(stmt)).all()
        return rows

    def _dialect_insert(self, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT that knows the dialect's ON CONFLICT clauses."""
        if self._ctx.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    def _insert_ignoring_conflict(
        self, table: sa.Table, index_elements: Iterable[str], values: Mapping[str, Any]
    ) -> postgresql.Insert | sqlite.Insert:
        """INSERT … ON CONFLICT (cols) DO NOTHING."""
        stmt = self._dialect_insert(table).values(**values)
        return stmt.on_conflict_do_nothing(index_elements=list(index_elements))


def lease(
    table: sa.Table, due: sa.Select[Any], *, now: datetime, worker_id: str, lease_seconds: float
) -> sa.Update:
    """UPDATE … RETURNING that leases the rows `due` selects (already `FOR UPDATE SKIP
    LOCKED`) to a worker: the shared shape of the outbox's and the reminders' claims."""
    return (
        sa.update(table)
        .where(table.c.id.in_(due.scalar_subquery()))
        .values(
            claimed_by=worker_id,
            claim_expires_at=now + timedelta(seconds=lease_seconds),
            attempts=table.c.attempts + 1,
        )
        .returning(table)
    )


def to_record(cls: type[R], row: AnyRow) -> R:
    return cls(**row._mapping)


def to_records(cls: type[R], rows: Iterable[AnyRow]) -> list[R]:
    return [cls(**row._mapping) for row in rows]
