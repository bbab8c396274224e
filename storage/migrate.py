"""Schema versions: upgrade any older database to head, and refuse unknown schemas."""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from storage.engine import WRITE_OPTION, create_engine, mask_url, sqlite_path
from storage.errors import SchemaMismatch

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None
    return head


def known_revisions() -> list[str]:
    """Every revision this program can migrate from, oldest first."""
    return [script.revision for script in reversed(list(_scripts().walk_revisions()))]


async def current_revision(engine: AsyncEngine) -> str | None:
    """The database's schema revision; None for a database never migrated (e.g. empty)."""
    async with engine.connect() as conn:
        await conn.execution_options(**{WRITE_OPTION: False})
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


async def check_schema(engine: AsyncEngine) -> None:
    """Raise SchemaMismatch unless the database is exactly at this program's head."""
    current, head = await current_revision(engine), head_revision()
    if current == head:
        return
    if current is None:
        raise SchemaMismatch(
            f"数据库尚未初始化，请运行 `pinjian db upgrade` / database has no schema "
            f"(this program needs schema {head}): run `pinjian db upgrade`"
        )
    if current in known_revisions():
        raise SchemaMismatch(
            f"数据库结构版本 {current} 低于本程序所需的 {head}，请运行 `pinjian db upgrade` / "
            f"database schema {current} is older than this program ({head}): "
            "run `pinjian db upgrade`"
        )
    raise SchemaMismatch(
        f"数据库结构版本 {current} 比本程序 ({head}) 新或未知，请升级程序 / "
        f"database schema {current} is newer than this program ({head}) or unknown: "
        "install the newer Pinjian that wrote it"
    )


async def upgrade(url: str, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate the database at `url` to `revision`; returns (before, after).

    The whole upgrade is one transaction holding the write lock, so a bot or CLI running at
    the same time waits instead of seeing a half-migrated schema. On SQLite, foreign keys
    are off during the upgrade (table rebuilds need that) and checked afterwards.
    """
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, foreign_keys=False, poolclass=NullPool)
    try:
        before = await current_revision(engine)
        if before is not None and before not in known_revisions():
            await check_schema(engine)
        async with engine.connect() as conn:
            await conn.run_sync(lambda sync: command.upgrade(_config(sync), revision))
            if engine.dialect.name == "sqlite":
                problems = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
                if problems:
                    raise SchemaMismatch(f"foreign key check failed after upgrade: {problems[:5]}")
            await conn.commit()
        after = await current_revision(engine)
    finally:
        await engine.dispose()
    log.info("database %s upgraded from %s to %s", mask_url(url), before, after)
    return before, after
