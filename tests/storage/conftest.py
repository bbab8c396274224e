"""Fixtures running the storage contract suite on SQLite always and on PostgreSQL when
PINJIAN_TEST_POSTGRES_URL names a server (each test gets its own fresh database there)."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from storage.db import Database
from storage.evidence import FileEvidenceStore
from storage.migrate import upgrade
from storage.records import Role
from tests.storage.helpers import FakeClock, World, snapshot

PG_ENV = "PINJIAN_TEST_POSTGRES_URL"
PG_SKIP_REASON = (
    f"PostgreSQL contract tests skipped: {PG_ENV} is not set "
    "(e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test)"
)
MAX_TEST_UPLOAD = 1_000_000
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
        await self._admin(f"CREATE DATABASE {name}{template}")
        self.created.append(name)
        return self.url_for(name)

    async def drop(self, name_or_url: str) -> None:
        name = make_url(name_or_url).database if "://" in name_or_url else name_or_url
        await self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    async def setup_template(self) -> None:
        await self._admin(f"DROP DATABASE IF EXISTS {self.template} WITH (FORCE)")
        await self._admin(f"CREATE DATABASE {self.template}")
        await upgrade(self.url_for(self.template))

    async def teardown(self) -> None:
        for name in [*self.created, self.template]:
            await self.drop(name)


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


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "pinjian.db"
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


def _kinds() -> list[object]:
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgres",
            id="postgres",
            marks=pytest.mark.skipif(not os.environ.get(PG_ENV), reason=PG_SKIP_REASON),
        ),
    ]


@pytest.fixture(params=_kinds())
def dialect(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


class Urls:
    """Makes database URLs of the test's dialect: migrated to head, or empty."""

    def __init__(self, dialect: str, tmp_path: Path, template: Path, pg: PgServer | None) -> None:
        self.dialect = dialect
        self._tmp = tmp_path
        self._template = template
        self._pg = pg

    async def new(self, *, migrated: bool = True) -> str:
        if self.dialect == "postgres":
            assert self._pg is not None
            return await self._pg.create(migrated=migrated)
        path = self._tmp / f"db{next(_names)}.db"
        if migrated:
            shutil.copyfile(self._template, path)
        return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def urls(dialect: str, tmp_path: Path, sqlite_template: Path, pg_server: PgServer | None) -> Urls:
    return Urls(dialect, tmp_path, sqlite_template, pg_server)


@pytest.fixture
async def db_url(urls: Urls) -> str:
    return await urls.new()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def files(tmp_path: Path) -> FileEvidenceStore:
    return FileEvidenceStore(tmp_path / "evidence", max_bytes=MAX_TEST_UPLOAD)


@pytest.fixture
async def db(db_url: str, clock: FakeClock, files: FileEvidenceStore) -> AsyncIterator[Database]:
    database = Database(db_url, clock=clock, files=files)
    await database.open()
    yield database
    await database.close()


@pytest.fixture
async def world(db: Database) -> World:
    async with db.transaction() as tx:
        site_a = await tx.sites.create("阳光小区", timezone="Asia/Shanghai", address="一路1号")
        site_b = await tx.sites.create("月亮花园", timezone="Asia/Shanghai")
        inspector = await tx.people.create("王检查", phone="13800000001")
        responsible = await tx.people.create("张伟", phone="13800000002")
        manager = await tx.people.create("李经理")
        admin = await tx.people.create("管理员", is_admin=True)
        for person, role in (
            (inspector, Role.INSPECTOR),
            (responsible, Role.RESPONSIBLE),
            (manager, Role.MANAGER),
        ):
            await tx.roles.grant(person.id, site_a.id, role)
        await tx.roles.grant(inspector.id, site_b.id, Role.INSPECTOR)
        standard = await tx.standards.ensure("culture", "1", "社区文化管理", "h1", snapshot())
    return World(
        site_a=site_a.id,
        site_b=site_b.id,
        inspector=inspector.id,
        responsible=responsible.id,
        manager=manager.id,
        admin=admin.id,
        standard=standard.id,
    )
