"""Backup and restore: every table and every evidence file survives a round trip."""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from bot.cli import main as cli
from storage.backup import BackupError, Manifest, _dump_jsonl, backup, restore
from storage.db import Database
from storage.engine import create_engine
from storage.evidence import FileEvidenceStore
from storage.migrate import current_revision
from storage.people import web_external_id
from storage.records import (
    Channel,
    EvidenceKind,
    EvidenceRole,
    GroupKind,
    OutboxKind,
    PlanEvery,
    PlanKind,
    Role,
    TaskStatus,
)
from storage.tables import TABLES_IN_ORDER
from tests.storage.conftest import PgServer, Urls
from tests.storage.helpers import FakeClock, World

BIG = 1_000_000
PHOTOS = [b"\xff\xd8 photo one", b"\xff\xd8 photo two", b"%PDF a document"]


async def populate(db: Database, world: World, clock: FakeClock) -> None:
    """At least one row in every table, and evidence files in the store."""
    stored = [await db.files.put(data) for data in PHOTOS]
    async with db.transaction(event_key="tg:update:1") as tx:
        await tx.identities.bind(world.inspector, Channel.TELEGRAM, "1001", chat_id="1001")
        await tx.inbox.add(Channel.TELEGRAM, [("u2", {"update_id": 2, "message": {"text": "好"}})])
        await tx.identities.bind(world.manager, Channel.WEB, web_external_id("token"))
        region = await tx.regions.create("华东")
        await tx.sites.set_region(world.site_a, region.id)
        await tx.roles.grant(world.manager, None, Role.MANAGER, region_id=region.id)
        await tx.invites.create(
            "INV1",
            world.responsible,
            expires_at=clock.now + timedelta(days=3),
            role=Role.RESPONSIBLE,
            site_id=world.site_a,
        )
        inspection = await tx.inspections.start(world.site_a, world.standard, world.inspector)
        await tx.answers.set(inspection.id, 1, answered_by=world.inspector, score=1, max_score=1)
        await tx.answers.set(
            inspection.id,
            2,
            answered_by=world.inspector,
            score=0.5,
            max_score=1,
            details={"samples": [True, False]},
            level_label="部分符合",
        )
        await tx.answers.set(inspection.id, 2, answered_by=world.inspector, score=0, max_score=1)
        await tx.notes.add(
            "缺记录", created_by=world.inspector, inspection_id=inspection.id, item_no=2
        )
        for file, kind in zip(
            stored, (EvidenceKind.PHOTO, EvidenceKind.PHOTO, EvidenceKind.DOCUMENT), strict=True
        ):
            await tx.evidence.add(
                file.sha256,
                file.size,
                mime="image/jpeg",
                kind=kind,
                created_by=world.inspector,
                channel=Channel.TELEGRAM,
                channel_file_ref="AgAD",
                inspection_id=inspection.id,
                item_no=2,
            )
        await tx.inspections.first_section_summary(inspection.id, "一")
        await tx.inspections.complete(inspection.id, score=1, max_score=2)
        await tx.confirmations.open(
            inspection.id, world.site_a, deadline=clock.now, remind_at=clock.now
        )
        await tx.confirmations.file_appeal(
            inspection.id, 2, reason="已有记录", filed_by=world.manager, score_before=0
        )
        task = await tx.tasks.create(
            world.site_a,
            "缺记录",
            created_by=world.inspector,
            due_date=date(2025, 3, 8),
            responsible_person_id=world.responsible,
            inspection_id=inspection.id,
            item_no=2,
        )
        await tx.evidence.add(
            stored[0].sha256,
            stored[0].size,
            mime="image/jpeg",
            kind=EvidenceKind.PHOTO,
            created_by=world.responsible,
            task_id=task.id,
            role=EvidenceRole.FIX,
            taken_at=datetime(2025, 3, 1, 9, 30),
        )
        await tx.notes.add("已整改", created_by=world.responsible, task_id=task.id)
        await tx.tasks.transition(task.id, 1, TaskStatus.REVIEW, actor_id=world.responsible)
        await tx.tasks.request_extension(
            task.id, world.responsible, date(2025, 3, 15), reason="材料未到"
        )
        await tx.reminders.schedule(task.id, world.responsible, "due_in_3d", clock.now)
        await tx.conversations.save(
            world.inspector, Channel.TELEGRAM, "1001", {"flow": "idle"}, expected_version=0
        )
        await tx.outbox.enqueue(Channel.TELEGRAM, "1001", OutboxKind.SEND, {"text": "你好"})
        await tx.audit.record("cli", "site.create", target="site:1")
        await tx.settings.set("grade_bands", {"优秀": 90})
        plan = await tx.plans.create(
            site_id=world.site_a,
            region_id=None,
            std_id="culture",
            every=PlanEvery.WEEK,
            window_from=1,
            window_to=5,
            kind=PlanKind.SELF,
            inspector_ids=[world.inspector],
        )
        await tx.occurrences.ensure(
            plan.id, world.site_a, date(2025, 3, 3), clock.now, clock.now + timedelta(days=5)
        )
        await tx.occurrences.take_up((await tx.occurrences.to_open(clock.now))[0].id, inspection.id)
        await tx.jobs.claim("monthly-bulletin", "2025-02")
        await tx.groups.add(
            GroupKind.WECOM, site_id=world.site_a, webhook_key="k-1", title="项目群"
        )
        await tx.groups.create_code(region_id=region.id)


async def dump(url: str) -> dict[str, list[dict[str, Any]]]:
    db = Database(url)
    await db.open()
    try:
        async with db.read() as tx:
            return {
                table.name: [
                    dict(row)
                    for row in (
                        await tx.connection.execute(
                            sa.select(table).order_by(*table.primary_key.columns)
                        )
                    ).mappings()
                ]
                for table in TABLES_IN_ORDER
            }
    finally:
        await db.close()


async def _files_of(store: FileEvidenceStore) -> dict[str, bytes]:
    return {digest: await store.get(digest) async for digest in store.hashes()}


async def test_round_trip_keeps_every_table_and_file(
    db: Database, db_url: str, world: World, clock: FakeClock, urls: Urls, tmp_path: Path
) -> None:
    await populate(db, world, clock)
    original = await dump(db_url)
    assert all(original[table.name] for table in TABLES_IN_ORDER), "populate misses a table"
    manifest = await backup(db_url, db.files, tmp_path / "backup")
    assert manifest.schema_revision == "0013"
    assert manifest.tables == {name: len(rows) for name, rows in original.items()}
    assert sorted(e.sha256 for e in manifest.evidence) == sorted(await _files_of(db.files))  # type: ignore[arg-type]

    target_url = await urls.new(migrated=False)
    target_files = FileEvidenceStore(tmp_path / "restored-evidence", max_bytes=BIG)
    restored = await restore(target_url, target_files, tmp_path / "backup")
    assert restored == manifest
    assert await dump(target_url) == original
    assert await _files_of(target_files) == await _files_of(db.files)  # type: ignore[arg-type]

    target = Database(target_url)
    await target.open()
    try:
        async with target.transaction() as tx:
            person = await tx.people.create("restored ids continue")
        assert person.id == max(row["id"] for row in original["people"]) + 1
    finally:
        await target.close()


async def test_restore_refuses_a_non_empty_database_unless_forced(
    db: Database, db_url: str, world: World, clock: FakeClock, tmp_path: Path
) -> None:
    await populate(db, world, clock)
    original = await dump(db_url)
    await backup(db_url, db.files, tmp_path / "backup")
    async with db.transaction() as tx:
        await tx.people.create("added after the backup")
    with pytest.raises(BackupError, match="--force"):
        await restore(db_url, db.files, tmp_path / "backup")
    await restore(db_url, db.files, tmp_path / "backup", force=True)
    assert await dump(db_url) == original


async def test_damaged_backups_are_refused_before_touching_the_target(
    db: Database, db_url: str, world: World, clock: FakeClock, urls: Urls, tmp_path: Path
) -> None:
    await populate(db, world, clock)
    manifest = await backup(db_url, db.files, tmp_path / "backup")
    with pytest.raises(BackupError, match="not empty"):
        await backup(db_url, db.files, tmp_path / "backup")
    victim = FileEvidenceStore(tmp_path / "backup" / "evidence", max_bytes=BIG).path(
        manifest.evidence[0].sha256
    )
    victim.write_bytes(b"tampered")
    target_url = await urls.new(migrated=False)
    with pytest.raises(BackupError, match="corrupt"):
        await restore(
            target_url, FileEvidenceStore(tmp_path / "t", max_bytes=BIG), tmp_path / "backup"
        )
    victim.unlink()
    with pytest.raises(BackupError, match="missing"):
        await restore(
            target_url, FileEvidenceStore(tmp_path / "t", max_bytes=BIG), tmp_path / "backup"
        )
    engine = create_engine(target_url, poolclass=NullPool)
    try:
        assert await current_revision(engine) is None
    finally:
        await engine.dispose()
    with pytest.raises(BackupError, match="manifest"):
        await restore(target_url, FileEvidenceStore(tmp_path / "t", max_bytes=BIG), tmp_path)


async def test_missing_evidence_is_reported_in_the_manifest(
    db: Database, db_url: str, world: World, clock: FakeClock, tmp_path: Path
) -> None:
    await populate(db, world, clock)
    lost = await db.files.put(PHOTOS[1])
    assert isinstance(db.files, FileEvidenceStore)
    db.files.path(lost.sha256).unlink()
    manifest = await backup(db_url, db.files, tmp_path / "backup")
    assert manifest.missing_evidence == [lost.sha256]
    saved = Manifest.read(tmp_path / "backup")
    assert saved == manifest


async def test_backup_while_the_bot_writes(
    db: Database, db_url: str, world: World, urls: Urls, tmp_path: Path
) -> None:
    stop = asyncio.Event()

    async def keep_writing() -> int:
        n = 0
        while not stop.is_set():
            async with db.transaction(event_key=f"busy:{n}") as tx:
                await tx.outbox.enqueue(Channel.WEB, "w", OutboxKind.SEND, {"n": n})
            n += 1
            await asyncio.sleep(0)
        return n

    writer = asyncio.create_task(keep_writing())
    await asyncio.sleep(0.05)
    manifest = await backup(db_url, db.files, tmp_path / "backup")
    stop.set()
    written = await writer
    assert 0 < manifest.tables["outbox"] <= written
    assert manifest.tables["outbox"] == manifest.tables["processed_events"]
    target_url = await urls.new(migrated=False)
    await restore(target_url, FileEvidenceStore(tmp_path / "t", max_bytes=BIG), tmp_path / "backup")


async def test_backup_moves_between_sqlite_and_postgresql(
    pg_server: PgServer | None, sqlite_template: Path, tmp_path: Path, clock: FakeClock
) -> None:
    if pg_server is None:
        pytest.skip("needs PINJIAN_TEST_POSTGRES_URL")
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    await asyncio.to_thread(shutil.copyfile, sqlite_template, tmp_path / "a.db")
    files = FileEvidenceStore(tmp_path / "ev", max_bytes=BIG)
    db = Database(sqlite_url, clock=clock, files=files)
    await db.open()
    try:
        async with db.transaction() as tx:
            site = await tx.sites.create("阳光小区", timezone="Asia/Shanghai")
            person = await tx.people.create("王")
            standard = await tx.standards.ensure("s", "1", "t", "h", {"x": 1})
        world = World(site.id, site.id, person.id, person.id, person.id, person.id, standard.id)
        await populate(db, world, clock)
    finally:
        await db.close()
    original = await dump(sqlite_url)
    await backup(sqlite_url, files, tmp_path / "from-sqlite")
    pg_url = await pg_server.create(migrated=False)
    await restore(
        pg_url, FileEvidenceStore(tmp_path / "pg-ev", max_bytes=BIG), tmp_path / "from-sqlite"
    )
    assert await dump(pg_url) == original
    manifest = await backup(pg_url, files, tmp_path / "from-pg")
    assert manifest.data_file == "data.jsonl"
    back_url = f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"
    await restore(
        back_url, FileEvidenceStore(tmp_path / "b-ev", max_bytes=BIG), tmp_path / "from-pg"
    )
    assert await dump(back_url) == original


async def test_cli_db_commands(
    urls: Urls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = await urls.new(migrated=False)
    monkeypatch.setenv("PINJIAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PINJIAN_DATABASE_URL", url)

    def run(*argv: str) -> tuple[int, str]:
        code = cli(["db", *argv])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    code, out = await asyncio.to_thread(run, "status")
    assert code == 1
    assert "pinjian db upgrade" in out
    code, out = await asyncio.to_thread(run, "upgrade")
    assert code == 0
    assert "数据库已升级到最新版本 (schema 0013)" in out
    code, out = await asyncio.to_thread(run, "status")
    assert (code, "up to date" in out) == (0, True)
    code, out = await asyncio.to_thread(run, "backup", str(tmp_path / "bk"))
    assert code == 0
    assert "备份完成" in out
    assert json.loads((tmp_path / "bk" / "manifest.json").read_text())["schema_revision"] == "0013"
    code, out = await asyncio.to_thread(run, "restore", str(tmp_path / "bk"))
    assert code == 0
    assert "恢复完成" in out
    code, out = await asyncio.to_thread(run, "backup", str(tmp_path / "bk"))
    assert code == 2
    assert "not empty" in out


async def test_a_row_holding_a_lone_surrogate_is_dumped_and_read_back(
    db: Database, db_url: str, dialect: str, tmp_path: Path
) -> None:
    """SQLite's JSON column can hold a lone surrogate (as its escape); the JSON-lines dump (the
    PostgreSQL backup's data file, run here on the SQLite database) writes and reads it back."""
    if dialect != "sqlite":
        pytest.skip("PostgreSQL's jsonb refuses a lone surrogate")
    payload = {"message": {"text": "hello \ud800 world"}}
    async with db.transaction() as tx:
        await tx.inbox.add(Channel.TELEGRAM, [("u9", payload)])
    engine = create_engine(db_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await _dump_jsonl(conn, tmp_path / "data.jsonl")
    finally:
        await engine.dispose()
    lines = (tmp_path / "data.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line)["r"] for line in lines if json.loads(line)["t"] == "inbox"]
    assert [row["payload"] for row in rows] == [payload]
