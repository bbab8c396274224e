"""A plan's notice in the web chat, in a real browser: the demo's 周检 opens, the notice
arrives with [开始检查], and the tap starts the inspection pinned to its occurrence."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, expect

from bot.demo import seed_demo_plans
from bot.plan_notices import PlanSweeper
from storage.base import utc_now
from storage.records import Channel
from tests.web.browser import ChatPage
from tests.web.conftest import WebBot

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_the_demo_weekly_notice_starts_an_inspection(
    browser: Browser, web_bot: WebBot
) -> None:
    runtime = web_bot.runtime
    async with runtime.db.transaction() as tx:
        assert await seed_demo_plans(tx, "community-culture") == 5
    inspector = await ChatPage.open(browser, web_bot, "王检查")
    # Tomorrow 10:00 at the site: inside the all-week window, outside quiet hours.
    tomorrow = utc_now().astimezone(SHANGHAI).date() + timedelta(days=1)
    moment = datetime.combine(tomorrow, time(10), tzinfo=SHANGHAI)
    report = await PlanSweeper(runtime.db, lambda: moment, runtime.engine.catalog).sweep()
    assert report.opened >= 4
    runtime.workers[Channel.WEB].wake()
    await inspector.settle()
    notice = inspector.page.locator("#log article.bot:has(.keyboard)").last
    await expect(notice).to_contain_text("计划检查开始")
    await expect(notice.locator(".key", has_text="开始检查")).to_have_count(1)
    await inspector.tap("开始检查")
    await expect(inspector.bot_messages().last).to_contain_text("第 1/62 项")
    person = await web_bot.person("王检查")
    async with runtime.db.read() as tx:
        [inspection] = await tx.inspections.open_for_inspector(person.id)
        assert (await tx.occurrences.for_inspection(inspection.id)) is not None
    inspector.check_clean()
