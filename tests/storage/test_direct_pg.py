"""storage.direct_pg runs statements through asyncpg's own connection API: every kind of
statement the repositories run that way answers exactly what SQLAlchemy answers (rows, row
counts, Python types), and fails with the same exceptions."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql

from storage.base import Rows
from storage.db import Database, Tx
from storage.direct_pg import pg_plan
from storage.records import (
    Channel,
    EvidenceKind,
    EvidenceRole,
    OutboxKind,
    OutboxStatus,
    Severity,
    TaskStatus,
)
from storage.tables import evidence, outbox, people, processed_events, settings, sites, tasks
from tests.scratch_db import database_kinds
from tests.storage.helpers import FakeClock, World

AT = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
_keys = itertools.count()


@pytest.fixture(params=[kind for kind in database_kinds() if getattr(kind, "id", "") == "postgres"])
def dialect(request: pytest.FixtureRequest) -> str:
    """PostgreSQL only: the module is about asyncpg."""
    kind: str = request.param
    return kind


Answer = tuple[int, list[list[tuple[str, type, Any]]]]


def answer(result: Rows) -> Answer:
    """A result's row count and its rows as (column, Python type, value); a statement
    without result rows has none (SQLAlchemy's result refuses to be asked)."""
    if not getattr(result, "returns_rows", True):
        return result.rowcount, []
    rows = [
        [(key, type(value), value) for key, value in row._mapping.items()] for row in result.all()
    ]
    return result.rowcount, rows


async def both_ways(tx: Tx, stmt: sa.Executable, params: Mapping[str, Any]) -> list[Answer]:
    """`stmt` run directly twice (its first run prepares it and reads the result types, the
    second runs from asyncpg's statement cache) and through SQLAlchemy, each in a savepoint
    rolled back afterwards, so every run starts from the same rows."""
    conn = tx.connection
    driver = (await conn.get_raw_connection()).driver_connection
    direct = pg_plan(("test_direct_pg", next(_keys)), stmt, params, conn.dialect)
    assert direct is not None
    answers = []
    for run in range(3):
        savepoint = await conn.begin_nested()
        if run < 2:
            answers.append(answer(await direct.run(driver, params, conn)))
        else:
            answers.append(answer(await conn.execute(stmt, dict(params))))
        await savepoint.rollback()
    return answers


def same(answers: list[Answer]) -> Answer:
    direct, cached, expected = answers
    assert direct == expected
    assert cached == expected
    return expected


async def test_every_statement_kind_answers_what_sqlalchemy_answers(
    db: Database, world: World, clock: FakeClock
) -> None:
    async with db.transaction() as tx:
        await tx.events.record("old:1")
        await tx.events.record("old:2")
        site = sa.update(sites).where(sites.c.id == sa.bindparam("b_id")).returning(sites)
        rowcount, rows = same(
            await both_ways(
                tx,
                site,
                {
                    "b_id": world.site_a,
                    "latitude": 31.2304,
                    "longitude": None,
                    "settings": {"名称": "阳光", "层": [1, 2.5, None, True], "空": {}},
                },
            )
        )
        assert rowcount == 1
        assert dict((k, v) for k, _, v in rows[0])["latitude"] == 31.2304

        by_id = sa.select(people).where(people.c.id == sa.bindparam("b_id"))
        rowcount, rows = same(await both_ways(tx, by_id, {"b_id": world.inspector}))
        assert (rowcount, len(rows)) == (1, 1)
        assert (rowcount, rows) == same(await both_ways(tx, by_id, {"b_id": world.inspector}))
        assert same(await both_ways(tx, by_id, {"b_id": -1})) == (0, [])

        task = {
            "id": 900,
            "site_id": world.site_a,
            "inspection_id": None,
            "item_no": 3,
            "finding": "记录不全 <无签字> & 缺页",
            "score": 0.5,
            "severity": Severity.GENERAL,
            "responsible_person_id": world.responsible,
            "status": TaskStatus.OPEN,
            "due_date": date(2025, 3, 15),
            "remark": None,
            "created_by": world.inspector,
            "created_at": AT,
            "closed_at": None,
            "updated_at": AT,
            "version": 1,
        }
        _, rows = same(await both_ways(tx, sa.insert(tasks).returning(tasks), task))
        types = {key: kind for key, kind, _ in rows[0]}
        assert types["severity"] is Severity
        assert types["due_date"] is date
        assert types["created_at"] is datetime

        photo = {
            "id": 900,
            "sha256": "ab" * 32,
            "size": 5_000_000_000,
            "mime": "image/jpeg",
            "kind": EvidenceKind.PHOTO,
            "role": EvidenceRole.FINDING,
            "channel": Channel.TELEGRAM,
            "channel_file_ref": None,
            "caption": "照片",
            "inspection_id": None,
            "item_no": None,
            "task_id": None,
            "created_by": world.inspector,
            "created_at": AT,
            "taken_at": datetime(2025, 2, 28, 18, 30, 5),
            "phash": None,
            "latitude": 31.0,
            "longitude": 121.5,
        }
        same(await both_ways(tx, sa.insert(evidence).returning(evidence), photo))

        message = {
            "id": 900,
            "channel": Channel.TELEGRAM,
            "chat_id": "5001",
            "person_id": None,
            "kind": OutboxKind.SEND,
            "payload": {"text": "✓ 1. 1分 符合", "buttons": [["上一项", "P:1"]], "n": 1.5},
            "ref": None,
            "edit_of_ref": None,
            "not_before": AT,
            "created_at": AT,
            "attempts": 0,
            "last_error": None,
            "claimed_by": None,
            "claim_expires_at": None,
            "sent_at": None,
            "channel_message_id": None,
            "status": OutboxStatus.PENDING,
        }
        same(await both_ways(tx, sa.insert(outbox).returning(outbox), message))

        for value in ("字符串", [1, "二", None], 3, None):
            row = {"key": "k", "value": value, "updated_at": AT}
            same(await both_ways(tx, sa.insert(settings).returning(settings), row))

        deactivate = sa.update(people).where(people.c.id >= sa.bindparam("b_low"))
        assert same(await both_ways(tx, deactivate, {"b_low": 0, "active": False}))[0] == 4
        forget = sa.delete(processed_events).where(processed_events.c.at <= sa.bindparam("b_at"))
        assert same(await both_ways(tx, forget, {"b_at": clock.now})) == (2, [])
        record = postgresql.insert(processed_events).on_conflict_do_nothing(index_elements=["key"])
        assert same(await both_ways(tx, record, {"key": "old:1", "at": AT})) == (0, [])
        assert same(await both_ways(tx, record, {"key": "new", "at": AT})) == (1, [])

        computed = sa.select(
            sa.func.count().label("n"),
            sa.func.max(people.c.created_at).label("newest"),
            sa.type_coerce(sa.cast(sa.func.sum(people.c.id), sa.Numeric(10, 2)), sa.Float).label(
                "as_float"
            ),
            sa.cast(sa.func.sum(people.c.id), sa.Numeric(10, 2)).label("as_decimal"),
            sa.literal("常量").label("constant"),
        ).where(people.c.name != "不存在")
        _, rows = same(await both_ways(tx, computed, {}))
        assert [kind for _, kind, _ in rows[0]] == [int, datetime, float, Decimal, str]


async def test_errors_are_the_ones_sqlalchemy_raises(db: Database, world: World) -> None:
    duplicate = {"id": world.inspector, "name": "重复", "active": True, "is_admin": False}
    missing = {**duplicate, "id": 900, "name": None}
    too_long = {**duplicate, "id": 901, "name": "名" * 201}
    async with db.transaction() as tx:
        for row, expected in (
            (duplicate, sa.exc.IntegrityError),
            (missing, sa.exc.IntegrityError),
            (too_long, sa.exc.DBAPIError),
        ):
            values = {**row, "phone": None, "created_at": AT}
            raised = []
            for direct in (True, False):
                savepoint = await tx.connection.begin_nested()
                with pytest.raises(expected) as error:
                    await insert_person(tx, values, direct=direct)
                await savepoint.rollback()
                raised.append(error.value)
            via_asyncpg, via_sqlalchemy = raised
            assert type(via_asyncpg) is type(via_sqlalchemy)
            assert via_asyncpg.orig is not None and via_sqlalchemy.orig is not None
            assert type(via_asyncpg.orig) is type(via_sqlalchemy.orig)
            assert type(via_asyncpg.orig.__cause__) is type(via_sqlalchemy.orig.__cause__)
            assert str(via_asyncpg) == str(via_sqlalchemy)


async def insert_person(tx: Tx, values: Mapping[str, Any], *, direct: bool) -> None:
    """INSERT … RETURNING a person, through asyncpg directly or through SQLAlchemy."""
    conn = tx.connection
    insert = sa.insert(people).returning(people)
    if not direct:
        await conn.execute(insert, dict(values))
        return
    plan = pg_plan(("test_direct_pg", next(_keys)), insert, values, conn.dialect)
    assert plan is not None
    await plan.run((await conn.get_raw_connection()).driver_connection, values, conn)


async def test_repositories_run_hot_statements_on_asyncpg_from_the_first(
    db: Database, world: World
) -> None:
    """The transaction is begun on the server as it opens (storage.direct_pg.begin_now), so
    every hot statement goes to asyncpg directly, the first included, in that transaction:
    READ ONLY where asked, committed or rolled back as SQLAlchemy would."""
    through_sqlalchemy: list[str] = []

    def seen(*args: Any) -> None:
        through_sqlalchemy.append(args[2])

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with db.read() as tx:
            people_read = [await tx.people.get(world.inspector) for _ in range(5)]
            with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"):
                await tx.events.record("u-read-only")
        async with db.transaction() as tx:
            await tx.events.record("u-kept")
        with pytest.raises(RuntimeError):
            await record_then_fail(db, "u-rolled-back")
        async with db.read() as tx:
            seen_keys = [await tx.events.seen(key) for key in ("u-kept", "u-rolled-back")]
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    assert through_sqlalchemy == []
    assert people_read == [people_read[0]] * 5
    assert people_read[0] is not None and people_read[0].name == "王检查"
    assert seen_keys == [True, False]


async def record_then_fail(db: Database, key: str) -> None:
    async with db.transaction() as tx:
        await tx.events.record(key)
        raise RuntimeError("after the statement")


async def test_a_lost_connection_is_invalidated_as_sqlalchemy_does(
    db: Database, world: World
) -> None:
    """A statement that finds its connection gone raises with the connection invalidated,
    so the pool does not hand it out again and the next transaction works."""

    async def read_after_losing_the_connection() -> None:
        async with db.read() as tx:
            await tx.people.get(world.inspector)
            conn = tx.connection
            driver = (await conn.get_raw_connection()).driver_connection
            pid = await conn.scalar(sa.text("SELECT pg_backend_pid()"))
            async with db.engine.connect() as other:
                await other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            for _ in range(100):
                if driver.is_closed():
                    break
                await asyncio.sleep(0.05)
            await tx.people.get(world.inspector)

    with pytest.raises(sa.exc.InterfaceError) as error:
        await read_after_losing_the_connection()
    assert error.value.connection_invalidated
    assert "SELECT people.id" in str(error.value)
    async with db.read() as tx:
        person = await tx.people.get(world.inspector)
    assert person is not None and person.name == "王检查"
