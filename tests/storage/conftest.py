"""Fixtures running the storage contract suite on SQLite always and on PostgreSQL when
PINJIAN_TEST_POSTGRES_URL names a server (each test gets its own fresh database there)."""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.db import Database
from storage.evidence import FileEvidenceStore
from storage.migrate import upgrade
from storage.records import Role
from tests.scratch_db import PgServer, database_kinds
from tests.storage.helpers import FakeClock, World, snapshot

MAX_TEST_UPLOAD = 1_000_000
_names = itertools.count()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "pinjian.db"
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(params=database_kinds())
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
