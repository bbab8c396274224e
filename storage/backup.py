"""Online backup and restore of the database and its evidence files.

A backup is a directory:
- ``manifest.json``: format, dialect, schema revision, row count per table, evidence hashes;
- ``pinjian.db`` (from SQLite, taken with the sqlite3 online backup API) or ``data.jsonl``
  (from PostgreSQL: every table in dependency order, one JSON object per row, read in one
  REPEATABLE READ snapshot);
- ``evidence/``: every evidence file the backed-up rows refer to, in the store's layout.

Restore reads either data format into either dialect, so a backup also moves a company from
SQLite to PostgreSQL. It refuses a non-empty target unless forced, writes all rows in one
transaction, and checks the counts and the evidence hashes against the manifest.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import shutil
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import NullPool

from storage.base import Clock, utc_now
from storage.engine import BUSY_TIMEOUT_MS, WRITE_OPTION, create_engine, sqlite_path
from storage.errors import StorageError
from storage.evidence import EvidenceStore, FileEvidenceStore
from storage.migrate import head_revision, known_revisions, upgrade
from storage.tables import TABLES_IN_ORDER, UtcDateTime, evidence

log = logging.getLogger(__name__)

FORMAT = "pinjian-backup/1"
MANIFEST = "manifest.json"
SQLITE_FILE = "pinjian.db"
JSONL_FILE = "data.jsonl"
EVIDENCE_DIR = "evidence"
_BATCH = 2000
_TABLES = {table.name: table for table in TABLES_IN_ORDER}


class BackupError(StorageError):
    """A backup cannot be written or restored; the message says why."""


@dataclass(frozen=True)
class EvidenceEntry:
    sha256: str
    size: int


@dataclass(frozen=True)
class Manifest:
    dialect: str
    schema_revision: str
    created_at: str
    data_file: str
    tables: dict[str, int]
    evidence: list[EvidenceEntry]
    missing_evidence: list[str] = field(default_factory=list)
    format: str = FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        try:
            raw = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BackupError(
                f"备份目录中没有可读的 {MANIFEST} / no readable {MANIFEST}: {exc}"
            ) from None
        if raw.get("format") != FORMAT:
            raise BackupError(f"不是品检备份 / not a Pinjian backup (format {raw.get('format')!r})")
        raw["evidence"] = [EvidenceEntry(**entry) for entry in raw["evidence"]]
        return cls(**raw)


async def backup(
    url: str, files: EvidenceStore, target: Path, *, clock: Clock = utc_now
) -> Manifest:
    """Write a consistent copy of the database at `url` and its evidence files to `target`
    (a new or empty directory) while the program keeps running."""
    await asyncio.to_thread(_prepare, target)
    source = sqlite_path(url)
    if source is not None:
        await asyncio.to_thread(_sqlite_backup, source, target / SQLITE_FILE)
        data_url, data_file = f"sqlite:///{target / SQLITE_FILE}", SQLITE_FILE
    else:
        data_url, data_file = url, JSONL_FILE
    engine = create_engine(data_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await _snapshot_options(conn)
            async with conn.begin():
                revision = await _revision(conn)
                counts = await _counts(conn)
                hashes = list(await conn.scalars(sa.select(evidence.c.sha256).distinct()))
                if data_file == JSONL_FILE:
                    await _dump_jsonl(conn, target / JSONL_FILE)
    finally:
        await engine.dispose()
    entries, missing = await _copy_evidence(
        files, FileEvidenceStore(target / EVIDENCE_DIR, max_bytes=2**63), sorted(hashes)
    )
    manifest = Manifest(
        dialect=engine.dialect.name,
        schema_revision=revision,
        created_at=clock().isoformat(),
        data_file=data_file,
        tables=counts,
        evidence=entries,
        missing_evidence=missing,
    )
    await asyncio.to_thread((target / MANIFEST).write_text, manifest.to_json(), "utf-8")
    return manifest


async def restore(url: str, files: EvidenceStore, source: Path, *, force: bool = False) -> Manifest:
    """Restore the backup in `source` into the database at `url` (created or upgraded to
    the current schema first) and its evidence into `files`."""
    manifest = await asyncio.to_thread(Manifest.read, source)
    if manifest.schema_revision not in known_revisions():
        raise BackupError(
            f"备份的数据库结构 {manifest.schema_revision} 比本程序新 / backup schema "
            f"{manifest.schema_revision} is newer than this program ({head_revision()})"
        )
    if manifest.data_file == JSONL_FILE and manifest.schema_revision != head_revision():
        raise BackupError(
            f"该备份的结构版本为 {manifest.schema_revision}：请用当时的程序版本恢复后再升级 / "
            f"this backup has schema {manifest.schema_revision}: restore it with the Pinjian "
            f"version that wrote it, then run `pinjian db upgrade`"
        )
    backup_files = FileEvidenceStore(source / EVIDENCE_DIR, max_bytes=2**63)
    for entry in manifest.evidence:
        await _verified(backup_files, entry.sha256)
    await upgrade(url)
    if not force and not await _is_empty(url):
        raise _not_empty()
    for entry in manifest.evidence:
        await files.put(await _verified(backup_files, entry.sha256))
    with tempfile.TemporaryDirectory(prefix="pinjian-restore-") as scratch:
        rows = _rows(source, manifest, Path(scratch))
        await _load(url, rows, manifest, force=force)
    for entry in manifest.evidence:
        await _verified(files, entry.sha256)
    return manifest


def _prepare(target: Path) -> None:
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"备份目录不是空的 / backup directory is not empty: {target}")
    target.mkdir(parents=True, exist_ok=True)


def _sqlite_backup(source: Path, target: Path) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


async def _snapshot_options(conn: AsyncConnection) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    else:
        await conn.execution_options(**{WRITE_OPTION: False})


async def _revision(conn: AsyncConnection) -> str:
    revision = await conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
    if revision is None:
        raise BackupError("数据库没有结构版本 / database has no schema revision")
    return str(revision)


async def _counts(conn: AsyncConnection) -> dict[str, int]:
    counts = {}
    for table in TABLES_IN_ORDER:
        count = await conn.scalar(sa.select(sa.func.count()).select_from(table))
        counts[table.name] = int(count or 0)
    return counts


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")


async def _dump_jsonl(conn: AsyncConnection, path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for table in TABLES_IN_ORDER:
            result = await conn.stream(sa.select(table).order_by(*table.primary_key.columns))
            async for row in result.mappings():
                # ASCII with \u escapes: a lone surrogate kept in a JSON column (json.loads
                # gives one back) cannot be written as UTF-8, its escape can.
                line = json.dumps({"t": table.name, "r": dict(row)}, default=_encode)
                out.write(line + "\n")


async def _copy_evidence(
    files: EvidenceStore, target: FileEvidenceStore, hashes: Iterable[str]
) -> tuple[list[EvidenceEntry], list[str]]:
    entries, missing = [], []
    for digest in hashes:
        if not await files.exists(digest):
            log.warning("evidence file %s is referenced but missing from the store", digest)
            missing.append(digest)
            continue
        stored = await target.put(await files.get(digest))
        if stored.sha256 != digest:
            raise BackupError(f"evidence file {digest} is corrupt in the store")
        entries.append(EvidenceEntry(digest, stored.size))
    return entries, missing


async def _verified(store: EvidenceStore, digest: str) -> bytes:
    if not await store.exists(digest):
        raise BackupError(f"缺少证据文件 / evidence file missing: {digest}")
    data = await store.get(digest)
    if hashlib.sha256(data).hexdigest() != digest:
        raise BackupError(f"证据文件已损坏 / evidence file corrupt: {digest}")
    return data


def _decode(table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
    for column in table.columns:
        value = row.get(column.name)
        if value is None:
            continue
        if isinstance(column.type, UtcDateTime | sa.DateTime):
            row[column.name] = datetime.fromisoformat(value)
        elif isinstance(column.type, sa.Date):
            row[column.name] = date.fromisoformat(value)
    return row


async def _rows(
    source: Path, manifest: Manifest, scratch: Path
) -> AsyncIterator[tuple[sa.Table, dict[str, Any]]]:
    """Every backed-up row as (table, values), parents before children."""
    if manifest.data_file == JSONL_FILE:
        with (source / JSONL_FILE).open(encoding="utf-8") as lines:
            for line in lines:
                item = json.loads(line)
                table = _TABLES[item["t"]]
                yield table, _decode(table, item["r"])
        return
    copy = scratch / SQLITE_FILE
    await asyncio.to_thread(shutil.copyfile, source / manifest.data_file, copy)
    copy_url = f"sqlite:///{copy}"
    await upgrade(copy_url)
    engine = create_engine(copy_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(**{WRITE_OPTION: False})
            for table in TABLES_IN_ORDER:
                result = await conn.stream(sa.select(table).order_by(*table.primary_key.columns))
                async for row in result.mappings():
                    yield table, dict(row)
    finally:
        await engine.dispose()


async def _load(
    url: str,
    rows: AsyncIterator[tuple[sa.Table, dict[str, Any]]],
    manifest: Manifest,
    *,
    force: bool,
) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            if not force and any((await _counts(conn)).values()):
                raise _not_empty()
            for table in reversed(TABLES_IN_ORDER):
                await conn.execute(sa.delete(table))
            batch: list[dict[str, Any]] = []
            current: sa.Table | None = None
            async for table, values in rows:
                if table is not current or len(batch) >= _BATCH:
                    await _flush(conn, current, batch)
                    current, batch = table, []
                batch.append(values)
            await _flush(conn, current, batch)
            if conn.dialect.name == "postgresql":
                await _reset_sequences(conn)
            restored = await _counts(conn)
            expected = {name: manifest.tables.get(name, 0) for name in restored}
            if restored != expected:
                raise BackupError(f"恢复后行数不符 / row counts differ: {restored} != {expected}")
    finally:
        await engine.dispose()


def _not_empty() -> BackupError:
    return BackupError(
        "目标数据库不是空的，如确要覆盖请加 --force / "
        "the target database is not empty: use --force to replace its contents"
    )


async def _is_empty(url: str) -> bool:
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await _snapshot_options(conn)
            return not any((await _counts(conn)).values())
    finally:
        await engine.dispose()


async def _flush(
    conn: AsyncConnection, table: sa.Table | None, batch: list[dict[str, Any]]
) -> None:
    if table is not None and batch:
        await conn.execute(sa.insert(table), batch)


async def _reset_sequences(conn: AsyncConnection) -> None:
    """Explicit ids were inserted; move each id sequence past the largest one."""
    for table in TABLES_IN_ORDER:
        if "id" not in table.c:
            continue
        await conn.execute(
            sa.text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
            )
        )
