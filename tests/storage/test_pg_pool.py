"""The PostgreSQL connection pool: a burst of transactions reuses the connections it keeps,
a transaction costs no round trip to check its connection, and a connection the server
closed while pooled is never handed to a transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from storage.db import Database
from tests.scratch_db import database_kinds
from tests.storage.helpers import FakeClock, World


@pytest.fixture(params=[kind for kind in database_kinds() if getattr(kind, "id", "") == "postgres"])
def dialect(request: pytest.FixtureRequest) -> str:
    """PostgreSQL only: the pool's settings and checks are PostgreSQL's."""
    kind: str = request.param
    return kind


@pytest.fixture
async def one_connection(db_url: str, clock: FakeClock, world: World) -> AsyncIterator[Database]:
    """A database whose pool keeps one connection: sequential transactions share it."""
    database = Database(db_url, clock=clock, pool_size=1)
    await database.open()
    yield database
    await database.close()


async def test_a_burst_of_transactions_reuses_the_pools_connections(
    db: Database, world: World
) -> None:
    """Twelve transactions at once, five times over: the connections opened for the first
    burst serve the later ones (with five kept, each burst opened and closed seven, a
    server process each)."""
    connects: list[object] = []
    event.listen(db.engine.sync_engine.pool, "connect", lambda *_: connects.append(1))

    async def read_a_while() -> None:
        async with db.read() as tx:
            assert await tx.people.get(world.inspector) is not None
            await asyncio.sleep(0.05)

    for _ in range(5):
        await asyncio.gather(*(read_a_while() for _ in range(12)))
    assert 1 <= len(connects) <= 12


async def test_a_transaction_sends_no_ping(one_connection: Database, world: World) -> None:
    """Checking out the pooled connection costs nothing on the wire: a transaction sends its
    BEGIN, its statements and its COMMIT, not SQLAlchemy's pre-ping (BEGIN; ; ROLLBACK)."""
    async with one_connection.transaction() as tx:
        driver = (await tx.connection.get_raw_connection()).driver_connection
    sent: list[str] = []

    def logged(record: Any) -> None:
        sent.append(record.query.strip())

    driver.add_query_logger(logged)
    try:
        for _ in range(3):
            async with one_connection.transaction() as tx:
                assert await tx.people.get(world.inspector) is not None
    finally:
        driver.remove_query_logger(logged)
    assert sent, "the transactions ran on the pooled connection"
    assert not [query for query in sent if query in ("", ";") or query.startswith("ROLLBACK")]
    assert sum(query.startswith("COMMIT") for query in sent) == 3
    assert sum(query.startswith("BEGIN") for query in sent) == 3


async def test_a_connection_the_server_closed_while_pooled_is_not_handed_out(
    one_connection: Database, world: World
) -> None:
    """The server ends the pooled connection's process (a restart does the same to all):
    the next transaction gets a new connection and works."""
    async with one_connection.read() as tx:
        conn = tx.connection
        driver = (await conn.get_raw_connection()).driver_connection
        pid = await conn.scalar(sa.text("SELECT pg_backend_pid()"))
    other = create_async_engine(one_connection.url, poolclass=NullPool)
    try:
        async with other.connect() as admin:
            await admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await other.dispose()
    for _ in range(100):
        if driver.is_closed():
            break
        await asyncio.sleep(0.05)
    assert driver.is_closed()
    async with one_connection.transaction() as tx:
        person = await tx.people.get(world.inspector)
        new_pid = await tx.connection.scalar(sa.text("SELECT pg_backend_pid()"))
    assert person is not None and person.name == "王检查"
    assert new_pid != pid
