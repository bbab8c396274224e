"""Test helpers shared by the storage contract tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosqlite
import pytest
import sqlalchemy as sa

from storage.db import Database, Tx
from storage.direct_pg import PgPlan


@dataclass
class FakeClock:
    """A clock the test moves by hand."""

    now: datetime = field(default_factory=lambda: datetime(2025, 3, 1, 2, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def snapshot(title: str = "社区文化管理", items: int = 3) -> dict[str, object]:
    """A small standard in the JSON shape of standards.schema.Standard."""
    return {
        "id": "culture",
        "version": "1",
        "title": title,
        "sections": [
            {
                "code": "一",
                "title": "客户管理",
                "items": [
                    {
                        "no": no,
                        "content": f"第{no}项要求",
                        "rule": "符合1分，部分符合0.5分，不符合0分",
                        "max_score": 1.0,
                        "levels": [
                            {"score": 1.0, "label": "符合"},
                            {"score": 0.5, "label": "部分符合"},
                            {"score": 0.0, "label": "不符合"},
                        ],
                        "method": "现场检查",
                    }
                    for no in range(1, items + 1)
                ],
            }
        ],
    }


@dataclass(frozen=True)
class World:
    site_a: int
    site_b: int
    inspector: int
    responsible: int
    manager: int
    admin: int
    standard: int


async def column(tx: Tx, table: sa.Table, name: str, **where: Any) -> list[Any]:
    """The column's values of the rows matching `where`, by id (read straight from the table,
    for what no product code asks the repositories)."""
    stmt = sa.select(table.c[name]).order_by(table.c.id)
    for key, value in where.items():
        stmt = stmt.where(table.c[key] == value)
    return list(await tx.connection.scalars(stmt))


async def set_columns(tx: Tx, table: sa.Table, row_id: int, **values: Any) -> None:
    """Write the row's columns directly (test data no product code writes this way)."""
    await tx.connection.execute(sa.update(table).where(table.c.id == row_id).values(**values))


class Statements:
    """The statements a database runs on its write engine while `recording`, each as (SQL,
    number of parameter sets): through SQLAlchemy, and those run through the driver directly
    (storage.direct on SQLite, storage.direct_pg on PostgreSQL)."""

    def __init__(self, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[tuple[str, int]] = []
        self._db = db
        self._monkeypatch = monkeypatch

    def on(self, table: str) -> list[tuple[str, int]]:
        """The statements that name `table`, as (first word, parameter sets)."""
        return [(sql.split()[0], sets) for sql, sets in self.seen if f" {table}" in sql]

    @contextmanager
    def recording(self) -> Iterator[None]:
        def through_sqlalchemy(*args: Any) -> None:
            _, _, statement, parameters, _, executemany = args
            self.seen.append((statement, len(parameters) if executemany else 1))

        engine = self._db.engine.sync_engine
        sa.event.listen(engine, "before_cursor_execute", through_sqlalchemy)
        with self._monkeypatch.context() as patch:
            for name in ("execute", "execute_fetchall", "executemany"):
                patch.setattr(aiosqlite.Connection, name, self._spy(name))
            patch.setattr(PgPlan, "run", self._spy_pg(PgPlan.run))
            patch.setattr(PgPlan, "run_many", self._spy_pg_many(PgPlan.run_many))
            try:
                yield
            finally:
                sa.event.remove(engine, "before_cursor_execute", through_sqlalchemy)

    def _spy_pg(self, run: Callable[..., Any]) -> Callable[..., Any]:
        def spy(plan: PgPlan, connection: Any, params: Any, owner: Any) -> Any:
            self.seen.append((plan._compiled.sql, 1))
            return run(plan, connection, params, owner)

        return spy

    def _spy_pg_many(self, run_many: Callable[..., Any]) -> Callable[..., Any]:
        def spy(plan: PgPlan, connection: Any, params_list: Any, owner: Any) -> Any:
            self.seen.append((plan._compiled.sql, len(params_list)))
            return run_many(plan, connection, params_list, owner)

        return spy

    def _spy(self, name: str) -> Callable[..., Any]:
        original = getattr(aiosqlite.Connection, name)
        many = name == "executemany"

        def spy(connection: aiosqlite.Connection, sql: str, parameters: Any = None) -> Any:
            if many:
                parameters = list(parameters)
            self.seen.append((sql, len(parameters) if many else 1))
            return original(connection, sql, parameters)

        return spy
