"""Fixtures shared by the suites that run on SQLite and, when PINJIAN_TEST_POSTGRES_URL names a
server, on PostgreSQL too: `database_url` is a migrated scratch database of the test's kind."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.scratch_db import PG_ENV, PgServer, database_kinds, sqlite_url


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
