"""Fixtures shared by the suites that run on SQLite and, when PINJIAN_TEST_POSTGRES_URL names a
server, on PostgreSQL too: `database_url` is a migrated scratch database of the test's kind.

Which tests run on PostgreSQL as well: those through which the flows and the channel adapters
use the database (every flow test, the journeys, receiving, the inbox, the outbox, pacing, the
processes). Tests marked `database_neutral` run on SQLite only: they check rendering, transport,
crypto, hostile files or the page in a browser, and what they ask of the database is a few
statements the others already run on PostgreSQL; also the calendar simulations (a quarter of
plans, a month of reminders), which run the same sweep thousands of times. This keeps the
PostgreSQL pass to a fraction of the suite's time instead of doubling it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from bot.cli.run_cmd import new_event_loop
from tests.scratch_db import PG_ENV, PgServer, database_kinds, sqlite_url


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Every async test runs on the event loop `pinjian run` runs on (uvloop's)."""
    return {"loop": new_event_loop}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    neutral = [
        item
        for item in items
        if item.get_closest_marker("database_neutral") is not None
        and getattr(item, "callspec", None) is not None
        and item.callspec.params.get("database_kind") == "postgres"  # type: ignore[attr-defined]
    ]
    if neutral:
        config.hook.pytest_deselected(items=neutral)
        dropped = set(map(id, neutral))
        items[:] = [item for item in items if id(item) not in dropped]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer | None]:
    url = os.environ.get(PG_ENV)
    if not url:
        yield None
        return
    server = PgServer(url)
    asyncio.run(server.setup_template())
    yield server
    asyncio.run(server.teardown())


@pytest.fixture(params=database_kinds())
def database_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
async def database_url(
    database_kind: str, tmp_path: Path, pg_server: PgServer | None
) -> AsyncIterator[str]:
    """A migrated database for the test: a SQLite file in tmp_path, or a PostgreSQL database
    copied from the session's template (dropped after the test)."""
    if database_kind == "sqlite":
        yield sqlite_url(tmp_path)
        return
    assert pg_server is not None
    url = await pg_server.create(migrated=True)
    yield url
    await pg_server.drop(url)
