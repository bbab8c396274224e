"""Migrations: empty and older databases reach head; unknown schemas are refused."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.pool import NullPool

from storage.db import Database
from storage.engine import create_engine
from storage.errors import SchemaMismatch
from storage.migrate import _config, head_revision, known_revisions, upgrade
from storage.records import InspectionStatus, Role
from storage.tables import metadata, section_summaries
from tests.storage.conftest import Urls

T0 = "2024-05-01 08:00:00"
ROWS_0001 = [
    "INSERT INTO people (name, phone, active, is_admin, created_at)"
    f" VALUES ('张伟', '138', TRUE, FALSE, '{T0}')",
    "INSERT INTO sites (name, address, timezone, quiet_start, quiet_end, settings, active,"
    f" created_at) VALUES ('阳光小区', '', 'Asia/Shanghai', '21:00', '08:00', '{{}}', TRUE,"
    f" '{T0}')",
    f"INSERT INTO roles (person_id, site_id, role, active, created_at) VALUES (1, 1, 'manager',"
    f" TRUE, '{T0}')",
    "INSERT INTO standards (std_id, version, title, content_hash, snapshot, created_at)"
    f" VALUES ('culture', '1', 'T', 'h', '{{\"id\": \"culture\"}}', '{T0}')",
    "INSERT INTO inspections (site_id, standard_id, std_id, inspector_id, status,"
    " started_at, completed_at, score, max_score, updated_at) VALUES"
    f" (1, 1, 'culture', 1, 'completed', '{T0}', '{T0}', 61.5, 62, '{T0}')",
    "INSERT INTO answers (inspection_id, item_no, score, max_score, not_applicable,"
    " level_label, details, answered_by, answered_at, revision) VALUES"
    f" (1, 3, 0.5, 1, FALSE, '有回访制度', '{{}}', 1, '{T0}', 1)",
    "INSERT INTO notes (inspection_id, item_no, text, created_by, created_at)"
    f" VALUES (1, 3, '回访记录缺失', 1, '{T0}')",
    "INSERT INTO evidence (sha256, size, mime, kind, role, inspection_id, item_no,"
    f" created_by, created_at) VALUES ('{'a' * 64}', 10, 'image/jpeg', 'photo', 'finding',"
    f" 1, 3, 1, '{T0}')",
    "INSERT INTO processed_events (key, at) VALUES ('tg:1', '" + T0 + "')",
    "INSERT INTO conversations (person_id, channel, chat_id, state, version, updated_at)"
    " VALUES (1, 'telegram', '1', '{\"summaries\": {\"1:一\": true, \"7:二\": true}}', 3,"
    f" '{T0}')",
]


async def _execute(url: str, *statements: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()


async def _open(url: str) -> Database:
    db = Database(url)
    await db.open()
    return db


async def test_empty_database_upgrades_to_head(urls: Urls) -> None:
    url = await urls.new(migrated=False)
    with pytest.raises(SchemaMismatch, match="pinjian db upgrade"):
        await _open(url)
    assert await upgrade(url) == (None, head_revision())
    assert await upgrade(url) == (head_revision(), head_revision())
    db = await _open(url)
    try:
        async with db.transaction() as tx:
            await tx.people.create("first")
    finally:
        await db.close()


async def test_schema_at_head_matches_the_table_definitions(urls: Urls) -> None:
    """What the migrations build is exactly what storage/tables.py declares."""
    url = await urls.new(migrated=False)
    await upgrade(url)
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), metadata
                )
            )
    finally:
        await engine.dispose()
    assert diff == []


async def test_older_database_with_data_upgrades_and_keeps_it(urls: Urls) -> None:
    url = await urls.new(migrated=False)
    assert known_revisions() == [
        "0001",
        "0002",
        "0003",
        "0004",
        "0005",
        "0006",
        "0007",
        "0008",
        "0009",
        "0010",
        "0011",
        "0012",
        "0013",
    ]
    await upgrade(url, "0001")
    await _execute(url, *ROWS_0001)
    with pytest.raises(SchemaMismatch) as caught:
        await _open(url)
    assert "database schema 0001 is older than this program (0013)" in str(caught.value)
    assert "pinjian db upgrade" in str(caught.value)
    assert await upgrade(url) == ("0001", "0013")
    db = await _open(url)
    try:
        async with db.transaction() as tx:
            person = await tx.people.get(1)
            assert person is not None
            assert person.name == "张伟"
            inspection = await tx.inspections.get(1)
            assert inspection is not None
            assert inspection.status is InspectionStatus.COMPLETED
            assert inspection.score == 61.5
            answer = await tx.answers.get(1, 3)
            assert answer is not None
            assert (answer.score, answer.level_label) == (0.5, "有回访制度")
            assert [n.text for n in await tx.notes.for_item(1, 3)] == ["回访记录缺失"]
            assert (await tx.evidence.count_by_item(1)) == {3: 1}
            assert await tx.events.seen("tg:1")
            # The section summary the conversation noted as sent (inspection 7 is unknown).
            carried = (await tx.connection.execute(sa.select(section_summaries))).all()
            assert [(r.inspection_id, r.section_code) for r in carried] == [(1, "一")]
            assert carried[0].sent_at.tzinfo is not None
            assert not await tx.inspections.first_section_summary(1, "一")
            assert await tx.inspections.first_section_summary(1, "二")
            task = await tx.tasks.create(
                1, "补回访", created_by=1, due_date=date(2024, 5, 8), inspection_id=1, item_no=3
            )
            await tx.notes.add("task note", created_by=1, task_id=task.id)
            assert [n.text for n in await tx.notes.for_task(task.id)] == ["task note"]
            site = await tx.sites.create("新项目", timezone="Asia/Shanghai")
            assert site.id == 2
            (grant,) = await tx.roles.for_person(1)
            assert (grant.site_id, grant.region_id, grant.role) == (1, None, Role.MANAGER)
            region = await tx.regions.create("华东")
            await tx.sites.set_region(1, region.id)
            assert await tx.roles.people_with_role(1, Role.MANAGER) != []
    finally:
        await db.close()


async def test_unknown_schema_is_refused(urls: Urls) -> None:
    url = await urls.new()
    await _execute(url, "UPDATE alembic_version SET version_num = '0099_future'")
    with pytest.raises(SchemaMismatch) as caught:
        await _open(url)
    assert "0099_future is newer than this program (0013)" in str(caught.value)
    with pytest.raises(SchemaMismatch):
        await upgrade(url)


async def test_downgrade_to_0001_and_back(urls: Urls) -> None:
    url = await urls.new()
    engine = create_engine(url, foreign_keys=False, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(lambda sync: command.downgrade(_config(sync), "0001"))
            await conn.commit()
    finally:
        await engine.dispose()
    assert await upgrade(url) == ("0001", "0013")


ROWS_0008 = [
    "INSERT INTO settings (key, value, updated_at) VALUES ('reminders',"
    f' \'{{"at": "08:30", "escalate_after_days": 2, "escalate_every_days": 5}}\', \'{T0}\')',
    'UPDATE sites SET settings = \'{"reminders": {"escalate_every_days": 3}}\' WHERE id = 1',
    "INSERT INTO tasks (site_id, finding, status, due_date, version, created_at, updated_at,"
    f" severity) VALUES (1, '墙面污渍', 'open', '2024-05-08', 1, '{T0}', '{T0}', 'general')",
    "INSERT INTO task_events (task_id, at, kind, data) VALUES"
    f" (1, '{T0}', 'escalated', '{{\"kind\": \"escalate\", \"to\": 1}}')",
    "INSERT INTO reminders (task_id, person_id, kind, due_at, attempts, created_at) VALUES"
    f" (1, 1, 'overdue', '{T0}', 0, '{T0}'), (1, 1, 'escalate', '{T0}', 0, '{T0}')",
]


async def test_0009_turns_the_escalation_settings_into_the_ladder(urls: Urls) -> None:
    """escalate_after_days 2 (first told on day 3 overdue) starts the ladder on day 3; the
    weekly repeat goes; an earlier escalation counts as reached up to the company; the task's
    old-style reminders are cancelled for the daily check to plan anew."""
    url = await urls.new(migrated=False)
    await upgrade(url, "0008")
    await _execute(url, *ROWS_0001, *ROWS_0008)
    assert await upgrade(url) == ("0008", "0013")
    db = await _open(url)
    try:
        async with db.read() as tx:
            company = await tx.settings.all()
            site = await tx.sites.get(1)
            (event,) = await tx.tasks.events(1)
            reminders = await tx.reminders.for_task(1)
            replan = await tx.tasks.open_without_pending_reminders(limit=10)
    finally:
        await db.close()
    assert company == {
        "reminders": {"at": "08:30", "ladder": [[3, "site"], [5, "region"], [9, "company"]]}
    }
    assert site is not None and site.settings == {"reminders": {}}
    assert event.data == {"kind": "escalate", "to": 1, "level": "company"}
    assert all(r.cancelled_at is not None for r in reminders)
    assert [t.id for t in replan] == [1]
