"""What every repository shares: the transaction's connection, the clock and row mapping."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import aiosqlite
import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from storage.direct import plan
from storage.direct_pg import pg_plan
from storage.records import OutboxMessage

Clock = Callable[[], datetime]
AnyRow = sa.Row[*tuple[Any, ...]]


def utc_now() -> datetime:
    return datetime.now(UTC)


class _Record(Protocol):
    def __init__(self, **kwargs: Any) -> None: ...


R = TypeVar("R", bound=_Record)
S = TypeVar("S")

_PREPARED: dict[Hashable, Any] = {}


def prepared(key: Hashable, build: Callable[[], S]) -> S:
    """The statement `build` makes, made once per `key` and reused with bound parameters.

    Building a statement and its cache key is most of what a statement costs SQLAlchemy on
    SQLite; a statement object that is reused is built once and its cache key memoised.
    Keys name the statement (and the dialect where the statement depends on it).
    """
    stmt = _PREPARED.get(key)
    if stmt is None:
        stmt = _PREPARED[key] = build()
    return stmt


def padded(values: Iterable[S]) -> list[S]:
    """`values` (at least one) padded to a power of two with the last one again: a statement
    with a bind parameter per value then takes one of a few fixed shapes, each run directly
    by the driver (:mod:`storage.direct`), which a statement with an expanding IN list is not
    (for the N = 50 capacity goal, docs/BENCHMARKS.md). Repeated values change no IN test."""
    found = list(values)
    size = 1 << (len(found) - 1).bit_length()
    return found + found[-1:] * (size - len(found))


class Rows(Protocol):
    """What a statement run by :meth:`Repo._run` answers (SQLAlchemy's result, or
    :class:`storage.direct.DirectResult` when run directly)."""

    @property
    def rowcount(self) -> int: ...

    def one(self) -> Any: ...

    def one_or_none(self) -> Any: ...

    def all(self) -> Sequence[Any]: ...

    def scalar(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class Ctx:
    """One open transaction: its connection, the clock and the dialect name; also the
    driver's connection underneath, for :mod:`storage.direct` (aiosqlite, on SQLite) or
    :mod:`storage.direct_pg` (asyncpg, on PostgreSQL)."""

    conn: AsyncConnection
    clock: Clock
    dialect: str
    raw: aiosqlite.Connection | None = None
    pg: asyncpg.Connection | None = None
    queued: list[OutboxMessage] = field(default_factory=list)
    """The outbox messages this transaction queued and wrote, in order."""
    unwritten: list[dict[str, Any]] = field(default_factory=list)
    """The outbox messages it queued after those, not written yet (their columns), in order
    (:meth:`storage.outbox.OutboxRepo.add`)."""

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

    async def _run(
        self, key: Hashable, build: Callable[[], Executable], params: Mapping[str, Any]
    ) -> Rows:
        """Run the statement `build` makes (built once per `key`, see :func:`prepared`) with
        bound `params`; through aiosqlite or asyncpg directly where it can
        (:mod:`storage.direct`, :mod:`storage.direct_pg`)."""
        stmt = prepared(key, build)
        raw = self._ctx.raw
        if raw is not None:
            direct = plan(key, stmt, params, self._conn.dialect)
            if direct is not None:
                return await direct.run(raw, params)
        pg = self._ctx.pg
        # Until SQLAlchemy began the transaction (with its first statement), asyncpg has none.
        if pg is not None and pg.is_in_transaction():
            direct_pg = pg_plan(key, stmt, params, self._conn.dialect)
            if direct_pg is not None:
                return await direct_pg.run(pg, params, self._conn)
        return await self._conn.execute(stmt, dict(params))

    async def _run_many(
        self,
        key: Hashable,
        build: Callable[[], Executable],
        params_list: Sequence[Mapping[str, Any]],
    ) -> int | None:
        """Run the statement `build` makes (one without result rows) once per parameter set,
        in order, as one executemany: on SQLite in one hand-over to aiosqlite's thread, on
        PostgreSQL in one round trip (through aiosqlite or asyncpg directly where it can).
        All sets name the same parameters. Returns the rows changed in all, or None where
        the driver does not count them (PostgreSQL's executemany)."""
        if not params_list:
            return 0
        stmt = prepared(key, build)
        raw = self._ctx.raw
        if raw is not None:
            direct = plan(key, stmt, params_list[0], self._conn.dialect)
            if direct is not None:
                return await direct.run_many(raw, params_list)
        pg = self._ctx.pg
        if pg is not None and pg.is_in_transaction():
            direct_pg = pg_plan(key, stmt, params_list[0], self._conn.dialect)
            if direct_pg is not None and not direct_pg.returns_rows:
                await direct_pg.run_many(pg, params_list, self._conn)
                return None
        result = await self._conn.execute(stmt, [dict(params) for params in params_list])
        counted = len(params_list) == 1 or self._conn.dialect.supports_sane_multi_rowcount
        return result.rowcount if counted else None

    async def _insert(self, table: sa.Table, values: Mapping[str, Any]) -> AnyRow:
        result = await self._run(
            ("insert", table.name), lambda: sa.insert(table).returning(table), values
        )
        row: AnyRow = result.one()
        return row

    async def _update(
        self, table: sa.Table, where: sa.ColumnElement[bool], values: Mapping[str, Any]
    ) -> AnyRow | None:
        """UPDATE … SET `values` (given as parameters, so only `where` is built per call)."""
        stmt = sa.update(table).where(where).returning(table)
        row: AnyRow | None = (await self._conn.execute(stmt, dict(values))).one_or_none()
        return row

    async def _update_by_id(
        self, table: sa.Table, row_id: int, values: Mapping[str, Any]
    ) -> AnyRow | None:
        """UPDATE … SET `values` WHERE id = `row_id`, RETURNING the row."""
        result = await self._run(
            ("update_by_id", table.name),
            lambda: sa.update(table).where(table.c.id == sa.bindparam("b_id")).returning(table),
            {**values, "b_id": row_id},
        )
        row: AnyRow | None = result.one_or_none()
        return row

    async def _by_id(self, table: sa.Table, row_id: int) -> AnyRow | None:
        result = await self._run(
            ("by_id", table.name),
            lambda: sa.select(table).where(table.c.id == sa.bindparam("b_id")),
            {"b_id": row_id},
        )
        row: AnyRow | None = result.one_or_none()
        return row

    async def _rows_by(
        self, table: sa.Table, column: str, value: Any, order_by: tuple[str, ...]
    ) -> Sequence[AnyRow]:
        """The rows whose `column` equals `value`, ordered by the `order_by` columns."""
        result = await self._run(
            ("rows_by", table.name, column, order_by),
            lambda: (
                sa.select(table)
                .where(table.c[column] == sa.bindparam("b_value"))
                .order_by(*(table.c[name] for name in order_by))
            ),
            {"b_value": value},
        )
        rows: Sequence[AnyRow] = result.all()
        return rows

    async def _item_rows(
        self, table: sa.Table, inspection_id: int, item_no: int
    ) -> Sequence[AnyRow]:
        """The rows of one item of an inspection (notes, evidence), oldest first."""
        result = await self._run(
            ("item_rows", table.name),
            lambda: (
                sa.select(table)
                .where(
                    table.c.inspection_id == sa.bindparam("b_inspection"),
                    table.c.item_no == sa.bindparam("b_item"),
                )
                .order_by(table.c.id)
            ),
            {"b_inspection": inspection_id, "b_item": item_no},
        )
        rows: Sequence[AnyRow] = result.all()
        return rows

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


def lease(table: sa.Table, due: sa.Select[Any], *, worker_id: Any, expires: Any) -> sa.Update:
    """UPDATE … RETURNING that leases the rows `due` selects (already `FOR UPDATE SKIP
    LOCKED`) to a worker until `expires` (values or bound parameters): the shared shape of
    the outbox's and the reminders' claims."""
    return (
        sa.update(table)
        .where(table.c.id.in_(due.scalar_subquery()))
        .values(claimed_by=worker_id, claim_expires_at=expires, attempts=table.c.attempts + 1)
        .returning(table)
    )


def lease_until(now: datetime, lease_seconds: float) -> datetime:
    return now + timedelta(seconds=lease_seconds)


def to_record(cls: type[R], row: AnyRow) -> R:
    return cls(**row._mapping)


def to_records(cls: type[R], rows: Iterable[AnyRow]) -> list[R]:
    return [cls(**row._mapping) for row in rows]


def split_row(row: Sequence[Any], *tables: sa.Table) -> list[dict[str, Any]]:
    """The values of a row selecting every column of `tables` (joined, in that order), per
    table by column name: their names collide (``id``)."""
    parts: list[dict[str, Any]] = []
    start = 0
    for table in tables:
        keys = table.c.keys()
        parts.append(dict(zip(keys, row[start : start + len(keys)], strict=True)))
        start += len(keys)
    return parts
