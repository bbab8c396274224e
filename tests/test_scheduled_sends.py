"""The weekly digest and the monthly 通报 go out exactly once per week and month, whatever
the number of schedulers on one database, and are caught up after downtime."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.bulletins import BulletinService
from bot.core.report_request import ReportFormat, bulletin_requested
from bot.core.schedule import last_monthly, last_weekly, week_label
from bot.flows.manager import weekly_digest
from bot.flows.reminder_sweep import ReminderSweeper
from bot.reports.bulletin_model import BulletinModel
from bot.scheduler import Scheduler
from storage.db import Database
from storage.evidence import FileEvidenceStore
from storage.migrate import upgrade
from storage.records import GroupKind, OutboxMessage, Role
from storage.tables import outbox
from tests.reports.bulletin_data import at, build_history

ZONE = "Asia/Shanghai"


@pytest.fixture
async def url(tmp_path: Path) -> str:
    address = f"sqlite+aiosqlite:///{tmp_path / 'pinjian.db'}"
    await upgrade(address)
    await build_history(address)
    return address


async def fake_draw(model: BulletinModel, fmt: ReportFormat) -> bytes:
    return f"{model.title} {model.scope} {fmt.value}".encode()


async def rows(url: str) -> list[dict[str, Any]]:
    db = Database(url)
    await db.open()
    try:
        async with db.read() as tx:
            found = await tx.connection.execute(
                sa.select(outbox.c.chat_id, outbox.c.kind, outbox.c.payload).order_by(outbox.c.id)
            )
            return [dict(r._mapping) for r in found]
    finally:
        await db.close()


def test_due_moments() -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(ZONE)
    # Sunday 2026-12-06 10:00 in Shanghai: Monday's 09:00 was the 30th of November.
    now = at("2026-12-06T02:00")
    assert last_weekly(now, zone, "mon", "09:00") == datetime(2026, 11, 30, 9, tzinfo=zone)
    assert last_weekly(now, zone, "sun", "10:00") == datetime(2026, 12, 6, 10, tzinfo=zone)
    assert last_weekly(now, zone, "sun", "10:01") == datetime(2026, 11, 29, 10, 1, tzinfo=zone)
    assert week_label(datetime(2026, 11, 30, 9, tzinfo=zone)) == "2026-W49"
    assert last_monthly(now, zone, 1, "09:00") == datetime(2026, 12, 1, 9, tzinfo=zone)
    assert last_monthly(at("2026-12-01T00:59"), zone, 1, "09:00") == datetime(
        2026, 11, 1, 9, tzinfo=zone
    )


async def test_two_schedulers_send_each_period_once(url: str, tmp_path: Path) -> None:
    """Two bot processes' schedulers on one database, started at 09:00 on December 1st:
    November's 通报 and the week's digest go out once; October's, missed while the bot was
    down, was caught up on November 20th and is not sent again. On the first start (October
    20th) nothing that fell due before is sent."""
    clock = {"now": at("2026-10-20T02:00")}

    def now() -> datetime:
        return clock["now"]

    files = FileEvidenceStore(tmp_path / "evidence", max_bytes=10_000_000)
    bases = [Database(url, clock=now, files=files) for _ in range(2)]
    for db in bases:
        await db.open()
    try:
        async with bases[0].transaction() as tx:
            # 赵总 manages 华东 too: the company's 通报, which has it, is all 赵总 gets.
            boss = (await tx.people.find_by_name("赵总"))[0]
            region = await tx.regions.by_name("华东")
            assert region is not None
            await tx.roles.grant(boss.id, None, Role.MANAGER, region_id=region.id)
        services = [BulletinService(db, draw=fake_draw) for db in bases]
        assert [await s.send_monthly() for s in services] == [0, 0]
        assert await weekly_digest(bases[0], now, ZONE) == 0
        clock["now"] = at("2026-11-20T02:00")
        assert sorted([await s.send_monthly() for s in services]) == [0, 2]
        clock["now"] = at("2026-12-01T00:59")
        assert [await s.send_monthly() for s in services] == [0, 0]
        clock["now"] = at("2026-12-01T01:00")
        woken = asyncio.Event()
        schedulers = [
            Scheduler(
                ReminderSweeper(db, now),
                ZONE,
                on_sent=woken.set,
                digest=lambda db=db: weekly_digest(db, now, ZONE),
                bulletin=service.send_monthly,
            )
            for db, service in zip(bases, services, strict=True)
        ]
        for scheduler in schedulers:
            scheduler.start()
        await asyncio.wait_for(woken.wait(), 10)
        await asyncio.sleep(0.5)
        for scheduler in schedulers:
            await scheduler.stop()
    finally:
        for db in bases:
            await db.close()
    found = await rows(url)
    months = Counter(
        (r["chat_id"], wanted[0], wanted[1])
        for r in found
        if (wanted := bulletin_requested(r["payload"])) is not None
        and wanted[2] is ReportFormat.PDF
    )
    # 赵总 (503) the company's, 钱经理 (504) 华东's; 孙经理 (505), a site's manager, none.
    assert months == {
        ("503", "2026-10", None): 1,
        ("504", "2026-10", 1): 1,
        ("503", "2026-11", None): 1,
        ("504", "2026-11", 1): 1,
    }
    summaries = [r["payload"]["text"] for r in found if "📢" in r["payload"].get("text", "")]
    assert len(summaries) == 4
    assert any("2026年11月品质检查通报</b>（华东区域）" in s for s in summaries)
    digests = [r["chat_id"] for r in found if "品质周报" in r["payload"].get("text", "")]
    assert sorted(digests) == ["503", "504", "505"]


async def test_the_file_is_drawn_once_when_the_row_is_sent(url: str, tmp_path: Path) -> None:
    files = FileEvidenceStore(tmp_path / "evidence", max_bytes=10_000_000)
    db = Database(url, clock=lambda: at("2026-12-01T01:00"), files=files)
    await db.open()
    drawn: list[str] = []

    async def draw(model: BulletinModel, fmt: ReportFormat) -> bytes:
        drawn.append(fmt.value)
        return await fake_draw(model, fmt)

    try:
        service = BulletinService(db, draw=draw)
        async with db.transaction() as tx:
            await tx.jobs.claim("monthly-bulletin", "2026-10")  # it has run before
        assert await service.send_monthly() == 2
        async with db.read() as tx:
            queued = await tx.connection.execute(sa.select(outbox).order_by(outbox.c.id))
            messages = [OutboxMessage(**r._mapping) for r in queued]
        prepared = [await service.prepare(m) for m in messages]
        documents = [p for p in prepared if p.get("document")]
        assert [p["document_name"] for p in documents] == [
            "品质检查通报_全公司_2026-11.xlsx",
            "品质检查通报_全公司_2026-11.pdf",
            "品质检查通报_华东区域_2026-11.xlsx",
            "品质检查通报_华东区域_2026-11.pdf",
        ]
        assert (
            await files.get(documents[3]["document"])
            == "2026年11月品质检查通报 华东区域 pdf".encode()
        )
        assert drawn == ["xlsx", "pdf", "xlsx", "pdf"]
        await service.prepare(messages[2])
        assert len(drawn) == 4
    finally:
        await db.close()


async def test_the_regions_project_group_gets_its_pdf_once(url: str, tmp_path: Path) -> None:
    """A region with a WeCom group robot and one with none: the month's 通报 of 华东 goes into
    华东's group as a PDF with the summary as its caption, once whatever the schedulers do."""
    files = FileEvidenceStore(tmp_path / "evidence", max_bytes=10_000_000)
    db = Database(url, clock=lambda: at("2026-12-01T01:00"), files=files)
    await db.open()
    try:
        async with db.transaction() as tx:
            await tx.jobs.claim("monthly-bulletin", "2026-10")
            region = await tx.regions.by_name("华东")
            assert region is not None
            group = await tx.groups.add(
                GroupKind.WECOM, region_id=region.id, webhook_key="k-east", title="华东群"
            )
        service = BulletinService(db, draw=fake_draw)
        assert await service.send_monthly() == 2
        assert await service.send_monthly() == 0
        async with db.read() as tx:
            queued = await tx.connection.execute(sa.select(outbox).order_by(outbox.c.id))
            messages = [OutboxMessage(**r._mapping) for r in queued]
        posts = [m for m in messages if m.chat_id == f"g{group.id}"]
        assert [bulletin_requested(m.payload) for m in posts] == [
            ("2026-11", region.id, ReportFormat.PDF)
        ]
        assert "2026年11月品质检查通报" in posts[0].payload["text"]
        assert "请在与品检的私聊中处理" in posts[0].payload["text"]
        prepared = await service.prepare(posts[0])
        assert prepared["document_name"] == "品质检查通报_华东区域_2026-11.pdf"
    finally:
        await db.close()
