"""What one 「1分」 tap on an item card asks of the database, pinned: a read folded into
another cannot creep back unnoticed (the tap is most of the N = 50 capacity and PostgreSQL
p99 goals' load, docs/BENCHMARKS.md). The outbox's own statements are the outbox's business
(tests/test_delivery.py) and are left out here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import aiosqlite
import pytest
import sqlalchemy as sa

from bot.core.events import EventKind
from storage import direct, direct_pg
from tests.flows.harness import Harness
from tests.flows.test_inspection import STANDARD, begin, inspector

_TABLE = re.compile(r"^(SELECT\b.*?\bFROM|INSERT INTO|UPDATE|DELETE FROM) (\w+)", re.DOTALL)


@dataclass(frozen=True)
class Statement:
    summary: str
    direct: bool


def summary(sql: str) -> str:
    """`SELECT answers`, `INSERT outbox`, …: a statement's verb and first table."""
    found = _TABLE.match(sql)
    assert found is not None, sql
    return f"{found.group(1).split()[0]} {found.group(2)}"


@contextmanager
def recording(
    engine: sa.Engine | type[sa.Engine], monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[Statement]]:
    """The statements run, in order, each with the way it took: through SQLAlchemy or
    through the driver directly (storage.direct on SQLite, storage.direct_pg on PostgreSQL).
    `engine` is the engine watched, or the Engine class for all of them."""
    seen: list[Statement] = []

    def executed(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        if _TABLE.match(statement):
            seen.append(Statement(summary(statement), direct=False))

    run = direct._Plan.run
    run_pg = direct_pg.PgPlan.run

    async def run_direct(
        self: direct._Plan, connection: aiosqlite.Connection, params: Any
    ) -> direct.DirectResult:
        seen.append(Statement(summary(self.compiled.sql), direct=True))
        return await run(self, connection, params)

    async def run_direct_pg(
        self: direct_pg.PgPlan, connection: Any, params: Any, owner: Any
    ) -> direct.DirectResult:
        seen.append(Statement(summary(self._compiled.sql), direct=True))
        return await run_pg(self, connection, params, owner)

    monkeypatch.setattr(direct._Plan, "run", run_direct)
    monkeypatch.setattr(direct_pg.PgPlan, "run", run_direct_pg)
    sa.event.listen(engine, "before_cursor_execute", executed)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", executed)


async def test_a_level_tap_reads_in_three_statements(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    await user.tap(f"1分 {STANDARD.items[0].levels[0].label}")
    tap = user.chat.with_buttons().button(f"1分 {STANDARD.items[1].levels[0].label}")
    event = user._event(EventKind.BUTTON, payload=tap, callback_id="cb-pinned")
    with recording(harness.db.engine.sync_engine, monkeypatch) as seen:
        await harness.send(event, flush=False)
    assert [s.summary for s in seen if not s.summary.endswith(" outbox")] == [
        "INSERT processed_events",
        "SELECT identities",
        "SELECT inspections",
        "SELECT answers",
        "INSERT answers",
        "INSERT answer_revisions",
        "UPDATE inspections",
        "UPDATE conversations",
    ]
    if harness.db.dialect == "sqlite":
        # Each in one hand-over to aiosqlite's thread, none through SQLAlchemy's cursor.
        assert [s.summary for s in seen if not s.direct] == []
    await harness.flush()
    assert "第 3/62 项" in user.chat.with_buttons().text


async def test_a_losing_tap_opens_the_task_set_up_on_what_the_item_path_read(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """「0分」 opens the task set-up; its photo count is the one read with the inspection."""
    user, _ = await inspector(harness)
    await begin(user)
    await user.tap(f"1分 {STANDARD.items[0].levels[0].label}")
    tap = user.chat.with_buttons().button(f"0分 {STANDARD.items[1].levels[-1].label}")
    event = user._event(EventKind.BUTTON, payload=tap, callback_id="cb-pinned")
    with recording(harness.db.engine.sync_engine, monkeypatch) as seen:
        await harness.send(event, flush=False)
    assert [s.summary for s in seen if not s.summary.endswith(" outbox")] == [
        "INSERT processed_events",
        "SELECT identities",
        "SELECT inspections",
        "SELECT answers",
        "INSERT answers",
        "INSERT answer_revisions",
        "SELECT people",
        "SELECT settings",
        "UPDATE inspections",
        "UPDATE conversations",
    ]
    await harness.flush()
    assert "责任人" in user.chat.with_buttons().text
