"""Test helpers shared by the storage contract tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from storage.db import Tx


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
