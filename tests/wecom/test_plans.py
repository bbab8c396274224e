"""A plan's notice through the WeCom adapter (encrypted callbacks in, the fake WeCom API out):
the card with [开始检查] when the window opens, and the press starts the inspection pinned to
the occurrence."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.flows.catalog import StandardsCatalog
from bot.plan_notices import PlanSweeper
from storage.records import PlanEvery, PlanKind
from tests.wecom.runner import WeComRunner

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_the_notice_card_starts_the_inspection(bot: WeComRunner) -> None:
    seeded = await bot.seed()
    inspector = bot.member("wangjiancha")
    async with bot.db.transaction() as tx:
        await tx.plans.create(
            site_id=seeded["site"].id,
            region_id=None,
            std_id="community-culture",
            every=PlanEvery.MONTH,
            window_from=1,
            window_to=28,
            kind=PlanKind.QUALITY,
            inspector_ids=[seeded["people"]["王检查"].id],
        )
    bot.clock.now = datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI).timestamp()
    report = await PlanSweeper(bot.db, bot.clock.utc, StandardsCatalog.load(None)).sweep()
    assert report.opened == 1
    await bot.settle()
    card = inspector.live_card("开始检查")
    assert "计划检查开始" in card.text and "品质部检查" in card.text
    assert "月检 11-01–11-28 阳光花园" in card.text
    await inspector.tap("开始检查")
    assert inspector.item_on_screen() == 1
    async with bot.db.read() as tx:
        [inspection] = await tx.inspections.open_for_inspector(seeded["people"]["王检查"].id)
        assert (await tx.occurrences.for_inspection(inspection.id)) is not None
