"""A plan's notice through the real Telegram adapter and the fake Bot API: it arrives when the
window opens (not in quiet hours) with [开始检查], and the tap starts the inspection pinned to
the occurrence."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.flows.catalog import StandardsCatalog
from bot.plan_notices import PlanSweeper
from storage.records import PlanEvery, PlanKind
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.telegram.botrunner import BotRunner, Clock

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_the_window_opens_and_the_tap_starts_the_inspection(
    fake: FakeTelegramAPI, tmp_path: Path, database_url: str
) -> None:
    clock = Clock()
    clock.now = datetime(2026, 11, 1, 20, 0, tzinfo=SHANGHAI)  # Sunday evening
    bot = BotRunner(fake, tmp_path, clock, url=database_url)
    await bot.start()
    seeded = await bot.seed()
    inspector = fake.user(7001, "王检查")
    await bot.act(inspector.send_command("start", seeded["codes"]["王检查"]))
    async with bot.db.transaction() as tx:
        await tx.plans.create(
            site_id=seeded["site"].id,
            region_id=None,
            std_id="community-culture",
            every=PlanEvery.WEEK,
            window_from=1,
            window_to=5,
            kind=PlanKind.SELF,
            inspector_ids=[seeded["people"]["王检查"].id],
        )
    sweeper = PlanSweeper(bot.db, clock, StandardsCatalog.load(None))
    notices: list[str] = []
    while clock.now < datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI):
        clock.now += timedelta(minutes=30)
        if (await sweeper.sweep()).opened:
            notices.append(f"{clock.now.astimezone(SHANGHAI):%a %H:%M}")
        await bot.delivered()
    assert notices == ["Mon 08:00"]
    notice = bot.keyboard(inspector.id)
    assert "计划检查开始" in (notice.content or "")
    assert [t for t, _ in notice.buttons()] == ["开始检查"]
    await bot.tap(inspector, "开始检查")
    assert any("第 1/62 项" in t for t in fake.texts(inspector.id)[-2:])
    async with bot.db.read() as tx:
        [inspection] = await tx.inspections.open_for_inspector(seeded["people"]["王检查"].id)
        occurrence = await tx.occurrences.for_inspection(inspection.id)
    assert occurrence is not None and occurrence.site_id == seeded["site"].id
    await bot.stop()
