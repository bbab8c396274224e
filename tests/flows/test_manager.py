"""Managers' on-demand views (/stats, /overdue) and the weekly digest."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from bot.bulletins import BulletinService
from bot.core.report_request import ReportFormat, requested
from bot.flows.manager import weekly_digest
from bot.reports.bulletin_model import BulletinModel
from standards.loader import BUILTIN_DIR, load_file
from storage.records import Role
from storage.tables import outbox
from tests.flows.harness import Harness

STANDARD = load_file(BUILTIN_DIR / "community-culture.yaml")


async def completed(harness: Harness, site_id: int, inspector_id: int, score: float) -> int:
    async with harness.db.transaction() as tx:
        stored = await tx.standards.ensure(
            std_id=STANDARD.id,
            version=STANDARD.version,
            title=STANDARD.title,
            content_hash=STANDARD.content_hash(),
            snapshot=STANDARD.to_json_dict(),
        )
        inspection = await tx.inspections.start(site_id, stored.id, inspector_id)
        for no in (5, 9):
            await tx.answers.set(inspection.id, no, answered_by=inspector_id, score=0, max_score=1)
        await tx.inspections.complete(inspection.id, score=score, max_score=60)
    harness.clock.advance(days=1)
    return inspection.id


async def test_stats_ranks_sites_with_trend_and_task_counts(harness: Harness) -> None:
    seeded = await harness.seed()
    people = seeded["people"]
    manager = harness.user(104)
    await manager.command("start", seeded["codes"]["赵经理"])
    async with harness.db.transaction() as tx:
        await tx.roles.grant(people["赵经理"].id, seeded["other"].id, Role.MANAGER)
        await tx.tasks.create(
            seeded["site"].id,
            "地面有污渍",
            created_by=people["王检查"].id,
            due_date=date(2026, 11, 1),
            responsible_person_id=people["张三"].id,
        )
    await completed(harness, seeded["site"].id, people["王检查"].id, 48)
    await completed(harness, seeded["site"].id, people["王检查"].id, 54)
    await completed(harness, seeded["other"].id, people["钱其他"].id, 57)
    await manager.command("stats")
    text = manager.chat.last.text
    assert text.index("翠湖苑") < text.index("阳光花园")
    assert "1. 翠湖苑：95.0% 优秀" in text
    assert "2. 阳光花园：90.0% 优秀 较上次 ↑ 10.0 个百分点" in text
    assert "未完成 1 项，逾期 1 项" in text
    await manager.command("overdue")
    listing = manager.chat.last.text
    assert "逾期整改任务</b>（共 1 项）" in listing
    assert "· #1 · 张三 · 已逾期 4 天（2026-11-01）" in listing


async def test_stats_and_overdue_are_for_managers_only(harness: Harness) -> None:
    seeded = await harness.seed()
    inspector = harness.user(101)
    await inspector.command("start", seeded["codes"]["王检查"])
    await inspector.command("stats")
    assert inspector.chat.last.text == "您没有权限进行这个操作。"
    await inspector.command("overdue")
    assert inspector.chat.last.text == "您没有权限进行这个操作。"


async def test_weekly_digest_reaches_each_manager(harness: Harness) -> None:
    seeded = await harness.seed()
    people = seeded["people"]
    manager = harness.user(104)
    await manager.command("start", seeded["codes"]["赵经理"])
    async with harness.db.transaction() as tx:
        for due in (date(2026, 11, 1), date(2026, 12, 1)):
            await tx.tasks.create(
                seeded["site"].id,
                "问题",
                created_by=people["王检查"].id,
                due_date=due,
                responsible_person_id=people["李四"].id,
            )
    await completed(harness, seeded["site"].id, people["王检查"].id, 51)
    harness.clock.advance(days=2)
    # The first run on a database only notes the week: nothing due before it is sent.
    week_before = harness.clock() - timedelta(days=7)
    assert await weekly_digest(harness.db, lambda: week_before, "Asia/Shanghai") == 0
    sent = await weekly_digest(harness.db, harness.clock, "Asia/Shanghai")
    await harness.flush()
    assert sent == 1
    # The week is claimed: asking again (another process, a restart) sends nothing.
    assert await weekly_digest(harness.db, harness.clock, "Asia/Shanghai") == 0
    digest = manager.chat.last.text
    assert "<b>品质周报</b>" in digest
    assert "阳光花园</b>：最近得分率 85.0%" in digest
    assert "李四：未完成 2 项，逾期 1 项" in digest
    assert "1. 第5项 客户服务电话管理规范,并严格有效执行和记录,建… — 1 次" in digest


async def report_rows(harness: Harness, chat_id: str) -> list[tuple[int, str]]:
    async with harness.db.read() as tx:
        rows = (
            await tx.connection.execute(
                sa.select(outbox.c.payload).where(outbox.c.chat_id == chat_id)
            )
        ).all()
    found = [requested(row.payload) for row in rows]
    return [(r[0], r[1].value) for r in found if r is not None]


async def test_report_sends_the_latest_files_of_a_managed_site(harness: Harness) -> None:
    seeded = await harness.seed()
    people = seeded["people"]
    manager = harness.user(104)
    await manager.command("start", seeded["codes"]["赵经理"])
    async with harness.db.transaction() as tx:
        await tx.roles.grant(people["赵经理"].id, seeded["other"].id, Role.MANAGER)
    await manager.command("report", "翠湖苑")
    assert manager.chat.last.text == "翠湖苑 还没有已完成的检查，暂无报告。"
    await completed(harness, seeded["site"].id, people["王检查"].id, 50)
    latest = await completed(harness, seeded["site"].id, people["王检查"].id, 55)
    await manager.command("report")
    assert "请选择要查看报告的项目" in manager.chat.last.text
    await manager.tap("阳光花园")
    assert "正在生成 阳光花园 最近一次检查" in manager.chat.last.text
    assert sorted(await report_rows(harness, "104")) == [
        (latest, "pdf"),
        (latest, "png"),
        (latest, "xlsx"),
    ]
    outsider = harness.user(105)
    await outsider.command("start", seeded["codes"]["钱其他"])
    await outsider.command("report")
    assert outsider.chat.last.text == "您没有权限进行这个操作。"
    screen = manager.chat.with_buttons().button("阳光花园").split(":")[1]
    await outsider.press(f"RP:{screen}:{seeded['site'].id}")
    assert await report_rows(harness, "105") == []


async def test_stats_shows_the_kpis_of_this_month_and_last(harness: Harness) -> None:
    seeded = await harness.seed()
    people = seeded["people"]
    manager = harness.user(104)
    await manager.command("start", seeded["codes"]["赵经理"])
    async with harness.db.transaction() as tx:
        for due in (date(2026, 10, 25), date(2026, 11, 1), date(2026, 11, 20)):
            await tx.tasks.create(
                seeded["site"].id,
                "问题",
                created_by=people["王检查"].id,
                due_date=due,
                responsible_person_id=people["李四"].id,
            )
    await completed(harness, seeded["site"].id, people["王检查"].id, 48)
    await manager.command("stats")
    text = manager.chat.last.text
    assert "<b>整改指标</b>" in text
    assert "2026年11月：得分率 80.0%（检查 1 次）" in text
    assert "整改任务 2 项，已完成 0 项，整改完成率 0.0%，整改及时率 0.0%，逾期未整改 2 项" in text
    assert "2026年10月：得分率 —（检查 0 次）" in text
    assert "整改任务 1 项，已完成 0 项，整改完成率 0.0%，整改及时率 0.0%，逾期未整改 1 项" in text


async def fake_draw(model: BulletinModel, fmt: ReportFormat) -> bytes:
    return f"{model.title} {model.scope}".encode()


async def test_bulletin_on_request_for_the_managers_scope(harness: Harness) -> None:
    seeded = await harness.seed()
    people = seeded["people"]
    harness.worker.prepare = BulletinService(harness.db, draw=fake_draw).prepare
    manager = harness.user(104)
    await manager.command("start", seeded["codes"]["赵经理"])
    await manager.command("bulletin")
    assert "您只负责单个项目" in manager.chat.last.text
    async with harness.db.transaction() as tx:
        region = await tx.regions.create("华东")
        await tx.sites.set_region(seeded["site"].id, region.id)
        await tx.roles.grant(people["赵经理"].id, None, Role.MANAGER, region_id=region.id)
    await completed(harness, seeded["site"].id, people["王检查"].id, 48)
    for bad in ("2026-13", "十一月", "2026-11-05"):
        await manager.command("bulletin", bad)
        assert manager.chat.last.text.startswith(f"看不懂月份「{bad}」")
    await manager.command("bulletin", "2027-01")
    assert manager.chat.last.text.startswith("2027年1月还没有到")
    before = len(manager.chat.messages)
    await manager.command("bulletin", "2026年11月")
    summary, excel, pdf = manager.chat.texts()[before:]
    assert summary.startswith("📢 <b>2026年11月品质检查通报</b>（华东区域）")
    assert "共完成检查 1 次" in summary and "平均得分率 80.0%" in summary
    assert excel.startswith("📎 2026年11月品质检查通报 Excel")
    assert pdf.startswith("📎 2026年11月品质检查通报 PDF")
    async with harness.db.transaction() as tx:
        await tx.roles.grant(people["赵经理"].id, None, Role.MANAGER)
    await manager.command("bulletin")
    assert manager.chat.texts()[-3].startswith("📢 <b>2026年10月品质检查通报</b>（全公司）")
    async with harness.db.read() as tx:
        rows = (
            await tx.connection.execute(
                sa.select(outbox.c.payload).where(outbox.c.chat_id == "104")
            )
        ).all()
    names = [r.payload["document_name"] for r in rows if r.payload.get("document")]
    assert names == [
        "品质检查通报_华东区域_2026-11.xlsx",
        "品质检查通报_华东区域_2026-11.pdf",
        "品质检查通报_全公司_2026-10.xlsx",
        "品质检查通报_全公司_2026-10.pdf",
    ]
    inspector = harness.user(101)
    await inspector.command("start", seeded["codes"]["王检查"])
    await inspector.command("bulletin")
    assert inspector.chat.last.text == "您没有权限进行这个操作。"
