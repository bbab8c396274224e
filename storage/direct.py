"""Hot statements executed through aiosqlite's own connection API.

Kept for the speed goal "capacity at N = 50 at least 0.5 of the echo bot" (docs/BENCHMARKS.md):
SQLAlchemy's aiosqlite adapter hands a statement to aiosqlite's thread several times
(cursor, execute, fetch, close) and adds its execution context and result metadata, and a
button press runs about twenty statements. A statement the repositories run often is
therefore compiled once by SQLAlchemy for the SQLite dialect — SQL text, the order of its
parameters, their bind processors and the result columns' result processors — and executed
with the same SQL text by aiosqlite on the transaction's own connection (the one SQLAlchemy
began, so it commits or rolls back with everything else), in one hand-over to its thread.
The values stored and read are exactly the ones SQLAlchemy would produce: the same compiled
statement and the same type processors do the work, only the per-call bookkeeping is skipped.
A statement run with many parameter sets (:meth:`storage.base.Repo._run_many`) goes to
aiosqlite's ``executemany``, all of them in one hand-over.

Statements this cannot run as they are (expanding IN lists, Python-side defaults) go through
SQLAlchemy as before (:meth:`storage.base.Repo._run`). PostgreSQL has its counterpart in
:mod:`storage.direct_pg`, sharing the compilation (:func:`compile_direct`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeEngine

_Processor = Callable[[Any], Any] | None


class DirectRow:
    """A result row: by position (``row[0]``, slices), by column key (``row.id``) and as
    ``row._mapping``, like SQLAlchemy's Row for the uses the repositories make of it."""

    __slots__ = ("_keys", "_values")

    def __init__(self, values: tuple[Any, ...], keys: tuple[str, ...]) -> None:
        self._values = values
        self._keys = keys

    @property
    def _mapping(self) -> dict[str, Any]:
        return dict(zip(self._keys, self._values, strict=True))

    def __getitem__(self, index: Any) -> Any:
        return self._values[index]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[self._keys.index(name)]
        except ValueError:
            raise AttributeError(name) from None


class DirectResult:
    """The rows of one executed statement (fetched at once) and its row count."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[DirectRow], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def all(self) -> Sequence[DirectRow]:
        return self._rows

    def one(self) -> DirectRow:
        if len(self._rows) != 1:
            raise LookupError(f"expected one row, got {len(self._rows)}")
        return self._rows[0]

    def one_or_none(self) -> DirectRow | None:
        if len(self._rows) > 1:
            raise LookupError(f"expected at most one row, got {len(self._rows)}")
        return self._rows[0] if self._rows else None

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None


@dataclass(frozen=True, slots=True)
class _Plan:
    compiled: Compiled
    results: tuple[tuple[int, Callable[[Any], Any]], ...]
    """The result processors there are, by column position (most columns have none)."""

    async def run(
        self, connection: aiosqlite.Connection, params: Mapping[str, Any]
    ) -> DirectResult:
        compiled = self.compiled
        args = compiled.args(params)
        try:
            if compiled.keys:
                fetched: list[Any] = list(await connection.execute_fetchall(compiled.sql, args))
                rowcount = len(fetched) if compiled.dml else -1
            else:
                # A statement without result rows has finished when execute returns: its
                # cursor holds nothing to release, so it is not closed (a second hand-over).
                cursor = await connection.execute(compiled.sql, args)
                fetched, rowcount = [], cursor.rowcount
        except sqlite3.Error as error:
            # The exception SQLAlchemy would raise (IntegrityError, OperationalError, …).
            raise DBAPIError.instance(compiled.sql, args, error, sqlite3.Error) from error
        results, keys = self.results, compiled.keys
        if not results:
            return DirectResult([DirectRow(raw, keys) for raw in fetched], rowcount)
        rows = []
        for raw in fetched:
            values = list(raw)
            for index, process in results:
                values[index] = process(values[index])
            rows.append(DirectRow(tuple(values), keys))
        return DirectResult(rows, rowcount)

    async def run_many(
        self, connection: aiosqlite.Connection, params_list: Sequence[Mapping[str, Any]]
    ) -> int:
        """Run the statement (one without result rows) once per parameter set, in order, in
        one hand-over to aiosqlite's thread; returns the rows changed in all."""
        sql = self.compiled.sql
        args = [self.compiled.args(params) for params in params_list]
        try:
            cursor = await connection.executemany(sql, args)
        except sqlite3.Error as error:
            raise DBAPIError.instance(sql, args, error, sqlite3.Error) from error
        return cursor.rowcount


_PLANS: dict[Hashable, _Plan | None] = {}

P = TypeVar("P")


def cached_plan(
    plans: dict[Hashable, P | None],
    key: Hashable,
    stmt: Executable,
    params: Mapping[str, Any],
    dialect: Dialect,
    make: Callable[[Compiled], P],
) -> P | None:
    """The plan `make` builds of `stmt` compiled for parameters named like `params`, kept in
    `plans` per statement key and parameter names (None: not eligible)."""
    cache_key = (key, tuple(params))
    if cache_key not in plans:
        compiled = compile_direct(stmt, sorted(params), dialect)
        plans[cache_key] = None if compiled is None else make(compiled)
    return plans[cache_key]


def plan(
    key: Hashable, stmt: Executable, params: Mapping[str, Any], dialect: Dialect
) -> _Plan | None:
    """The direct plan of `stmt` for parameters named like `params` (None: not eligible)."""

    def make(compiled: Compiled) -> _Plan:
        processors = (kind._cached_result_processor(dialect, None) for kind in compiled.types)
        return _Plan(compiled, tuple((i, p) for i, p in enumerate(processors) if p is not None))

    return cached_plan(_PLANS, key, stmt, params, dialect, make)


@dataclass(frozen=True, slots=True)
class Compiled:
    """What running a statement directly takes from SQLAlchemy's compilation of it."""

    sql: str
    names: tuple[str, ...]
    """The parameters in the order the SQL text takes them."""
    binds: tuple[_Processor, ...]
    constants: Mapping[str, Any]
    """Values bound in the statement itself, by parameter name."""
    keys: tuple[str, ...]
    types: tuple[TypeEngine[Any], ...]
    """The result columns' types, for their result processors."""
    dml: bool

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        """The positional arguments of the SQL text for `params`, bind processors applied."""
        args = []
        for name, bind in zip(self.names, self.binds, strict=True):
            value = params[name] if name in params else self.constants[name]
            args.append(value if bind is None else bind(value))
        return args


def compile_direct(stmt: Executable, names: list[str], dialect: Dialect) -> Compiled | None:
    """`stmt` compiled for `dialect` and parameters `names`, or None when it cannot run
    directly (expanding IN lists, Python-side defaults, tuple-valued parameters)."""
    if not isinstance(stmt, ClauseElement):
        return None
    compiled = stmt.compile(dialect=dialect, column_keys=names)
    if not isinstance(compiled, SQLCompiler) or compiled.positiontup is None:
        return None
    if (
        compiled.literal_execute_params
        or compiled.post_compile_params
        or compiled.insert_prefetch
        or compiled.update_prefetch
    ):
        return None
    order = tuple(compiled.positiontup)
    binds: list[_Processor] = []
    for name in order:
        processor = compiled._bind_processors.get(name)
        if processor is not None and not callable(processor):
            return None  # a tuple-valued parameter
        binds.append(processor)
    constants = {
        name: bind.effective_value
        for name, bind in compiled.binds.items()
        if not bind.required and bind.callable is None
    }
    columns = compiled._result_columns
    return Compiled(
        sql=compiled.string,
        names=order,
        binds=tuple(binds),
        constants=constants,
        keys=tuple(column.keyname for column in columns),
        types=tuple(column.type for column in columns),
        dml=bool(compiled.isinsert or compiled.isupdate or compiled.isdelete),
    )
