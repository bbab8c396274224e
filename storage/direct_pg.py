"""Hot statements executed through asyncpg's own connection API: PostgreSQL's
:mod:`storage.direct`.

Kept for the speed goal "paced load, 300 inspectors, PostgreSQL: bot-side p99 < 50 ms"
(docs/BENCHMARKS.md): per statement SQLAlchemy builds an execution context, a cursor
adapter and result metadata, and hops through a greenlet, and a button press runs about
twenty statements on a host that also runs the PostgreSQL server. A statement the
repositories run often is therefore compiled once by SQLAlchemy for the asyncpg dialect —
SQL text with its ``$n::TYPE`` casts, the order of its parameters, their bind processors —
and executed with the same SQL text by asyncpg on the transaction's own connection, in
asyncpg's statement cache. What SQLAlchemy's asyncpg adapter does besides is kept: the
JSON and JSONB codecs it registers on each connection apply to this connection too; the
result processors are chosen by the result columns' PostgreSQL types, as SQLAlchemy
chooses them (they are read once per statement, from its first preparation); row counts
come from the command status; errors are translated by the adapter's own table and raised
as the DBAPIError SQLAlchemy would raise (IntegrityError, …).

SQLAlchemy's asyncpg adapter begins the transaction on the connection lazily, with its first
statement; :func:`begin_now` begins it as the transaction opens instead (the same call the
adapter makes), so that statement too can run directly. Until asyncpg reports a transaction
open (:meth:`storage.base.Repo._run`) statements go through SQLAlchemy, as do statements
that cannot run directly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, NoReturn

import asyncpg
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from storage.direct import Compiled, DirectResult, DirectRow, cached_plan

_STATUS = re.compile(r"(?:SELECT|UPDATE|DELETE|INSERT \d+) (\d+)")
"""The row count in a command status, as SQLAlchemy's asyncpg cursor reads it."""

_Results = tuple[tuple[int, Callable[[Any], Any]], ...]


class PgPlan:
    """One statement compiled for the asyncpg dialect, run on asyncpg connections."""

    __slots__ = ("_compiled", "_dialect", "_results")

    def __init__(self, compiled: Compiled, dialect: Dialect) -> None:
        self._compiled = compiled
        self._dialect = dialect
        self._results: _Results | None = None
        """The result processors there are, by column position; None until the statement
        was first prepared (they depend on the columns' PostgreSQL types)."""

    @property
    def returns_rows(self) -> bool:
        return bool(self._compiled.keys)

    async def run(
        self, connection: asyncpg.Connection, params: Mapping[str, Any], owner: AsyncConnection
    ) -> DirectResult:
        """Run on `connection`, the driver's connection under SQLAlchemy's `owner` (which is
        invalidated when the statement finds the connection lost, as SQLAlchemy does)."""
        compiled = self._compiled
        args = compiled.args(params)
        try:
            if not compiled.keys:
                status: str = await connection.execute(compiled.sql, *args)
                return DirectResult([], _rowcount(status))
            if self._results is None:
                statement = await connection.prepare(compiled.sql)
                self._results = self._processors(statement.get_attributes())
                fetched: list[Any] = await statement.fetch(*args)
            else:
                fetched = await connection.fetch(compiled.sql, *args)
        except Exception as error:
            await self._raise(error, args, connection, owner)
        # A statement with result rows reports as many in its status (SELECT n, UPDATE n, …).
        return DirectResult(self._rows(fetched, self._results), len(fetched))

    async def run_many(
        self,
        connection: asyncpg.Connection,
        params_list: Sequence[Mapping[str, Any]],
        owner: AsyncConnection,
    ) -> None:
        """Run the statement (one without result rows) once per parameter set, in order, as
        asyncpg's executemany (one round trip); asyncpg counts no rows for it."""
        sql = self._compiled.sql
        args = [self._compiled.args(params) for params in params_list]
        try:
            await connection.executemany(sql, args)
        except Exception as error:
            await self._raise(error, args, connection, owner)

    def _rows(self, fetched: list[Any], results: _Results) -> list[DirectRow]:
        keys = self._compiled.keys
        if not results:
            return [DirectRow(tuple(record), keys) for record in fetched]
        rows = []
        for record in fetched:
            values = list(record)
            for index, process in results:
                values[index] = process(values[index])
            rows.append(DirectRow(tuple(values), keys))
        return rows

    def _processors(self, attributes: Sequence[Any]) -> _Results:
        """The result processors SQLAlchemy picks for the result columns, given the type
        of each in PostgreSQL (by oid, as in a cursor's description)."""
        found = []
        for index, (kind, attribute) in enumerate(
            zip(self._compiled.types, attributes, strict=True)
        ):
            process = kind._cached_result_processor(self._dialect, attribute.type.oid)
            if process is not None:
                found.append((index, process))
        return tuple(found)

    async def _raise(
        self,
        error: Exception,
        args: list[Any],
        connection: asyncpg.Connection,
        owner: AsyncConnection,
    ) -> NoReturn:
        """Raise what SQLAlchemy raises for `error`: asyncpg's errors translated by the
        adapter's own table and wrapped like SQLAlchemy does (IntegrityError, …); a lost
        connection is invalidated, so the pool does not hand it out again."""
        dbapi = self._dialect.loaded_dbapi
        try:
            AsyncAdapt_asyncpg_connection._handle_exception_no_connection(dbapi, error)
        except dbapi.Error as adapted:
            # SQLAlchemy's asyncpg dialect tells a disconnect by the connection being closed.
            lost = connection.is_closed()
            if lost:
                await owner.invalidate(adapted)
            raise DBAPIError.instance(
                self._compiled.sql,
                tuple(args),
                adapted,
                dbapi.Error,
                connection_invalidated=lost,
                dialect=self._dialect,
            ) from adapted


async def begin_now(adapted: DBAPIConnection | None) -> None:
    """Begin the transaction of `adapted` (a pooled connection's DBAPI connection) on the
    server now rather than with its first statement, as SQLAlchemy's asyncpg adapter begins
    it (its isolation level and READ ONLY included), so that every statement of the
    transaction can run directly; the adapter then commits or rolls back as it would have."""
    if isinstance(adapted, AsyncAdapt_asyncpg_connection) and adapted._transaction is None:
        await adapted._start_transaction()


def _rowcount(status: str) -> int:
    match = _STATUS.match(status)
    return int(match.group(1)) if match else -1


_PLANS: dict[Hashable, PgPlan | None] = {}


def pg_plan(
    key: Hashable, stmt: Executable, params: Mapping[str, Any], dialect: Dialect
) -> PgPlan | None:
    """The direct plan of `stmt` for parameters named like `params` (None: not eligible)."""
    return cached_plan(
        _PLANS, key, stmt, params, dialect, lambda compiled: PgPlan(compiled, dialect)
    )
