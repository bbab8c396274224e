"""Scratch databases for tests: a SQLite file in the test's directory, or a fresh PostgreSQL
database copied from a migrated template when PINJIAN_TEST_POSTGRES_URL names a server."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from storage.migrate import upgrade

PG_ENV = "PINJIAN_TEST_POSTGRES_URL"
PG_SKIP_REASON = (
    f"PostgreSQL tests skipped: {PG_ENV} is not set "
    "(e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test)"
)
_names = itertools.count()


class PgServer:
    """Creates and drops throwaway databases through an admin connection."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.template = f"pj_tmpl_{os.getpid()}"
        self.created: list[str] = []

    async def _admin(self, *statements: str) -> None:
        engine = create_async_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                for statement in statements:
                    await conn.exec_driver_sql(statement)
        finally:
            await engine.dispose()

    def url_for(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    async def create(self, *, migrated: bool) -> str:
        name = f"pj_{os.getpid()}_{next(_names)}"
        template = f" TEMPLATE {self.template}" if migrated else ""
        # A scratch database need not wait for the disk on every commit.
        await self._admin(
            f"CREATE DATABASE {name}{template}",
            f"ALTER DATABASE {name} SET synchronous_commit = off",
        )
        self.created.append(name)
        return self.url_for(name)

    async def drop(self, name_or_url: str) -> None:
        name = make_url(name_or_url).database if "://" in name_or_url else name_or_url
        await self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if name in self.created:
            self.created.remove(name)

    async def setup_template(self) -> None:
        await self._admin(f"DROP DATABASE IF EXISTS {self.template} WITH (FORCE)")
        await self._admin(f"CREATE DATABASE {self.template}")
        await upgrade(self.url_for(self.template))

    async def teardown(self) -> None:
        for name in [*self.created, self.template]:
            await self.drop(name)


def database_kinds() -> list[object]:
    """SQLite always; PostgreSQL when the environment names a server."""
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgres",
            id="postgres",
            marks=pytest.mark.skipif(not os.environ.get(PG_ENV), reason=PG_SKIP_REASON),
        ),
    ]


def sqlite_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / 'pinjian.db'}"
