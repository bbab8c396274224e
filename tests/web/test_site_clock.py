"""The web chat shows message times on the site's clock, also on a device set to another time
zone (a phone abroad, a laptop left on UTC): the task history, written in site time, and the
bubbles' times then agree."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, expect

from tests.web.browser import PHONE, ChatPage
from tests.web.conftest import WebBot

pytestmark = pytest.mark.database_neutral

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_message_times_are_on_the_sites_clock(browser: Browser, web_bot: WebBot) -> None:
    context = await browser.new_context(
        viewport=PHONE, device_scale_factor=2, locale="zh-CN", timezone_id="UTC"
    )
    person = await web_bot.person("王检查")
    chat = ChatPage(await context.new_page(), web_bot, str(person.id))
    await chat.act(lambda: chat.page.goto(web_bot.link("王检查")))
    await expect(chat.page.locator("#who")).to_have_text("王检查")
    await chat.settle()
    times = chat.page.locator("#log article.bot time.meta")
    await expect(times.first).to_be_visible()
    for index in range(await times.count()):
        meta = times.nth(index)
        moment = datetime.fromisoformat(str(await meta.get_attribute("datetime")))
        assert await meta.text_content() == f"{moment.astimezone(SHANGHAI):%H:%M}"
    assert chat.problems == []
    await context.close()
