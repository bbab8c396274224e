"""项目确认 and an appeal in the web chat, in a real browser (headless Chromium): the site's
manager confirms all in one tap, and appeals a finding that the region's manager decides
维持."""

from __future__ import annotations

from playwright.async_api import Browser, Locator, expect

from storage.records import ConfirmHow, ResultStatus
from tests.confirm_seed import answered
from tests.web.browser import ChatPage
from tests.web.conftest import WebBot
from tests.web.helpers import wait_until


async def settled(chat: ChatPage) -> None:
    """Like `ChatPage.settle`, with time for the report files a submission renders."""
    await wait_until(chat.bot.delivered, within=180)
    await chat.settle()


def entry(chat: ChatPage, text: str) -> Locator:
    return chat.page.locator("#log article.bot:has(.keyboard)", has_text=text).last


async def press(chat: ChatPage, text: str, label: str) -> None:
    """Tap `label` under the newest message with buttons that shows `text`."""
    button = entry(chat, text).locator(".key", has_text=label).first
    async with chat.page.expect_response(lambda r: r.url.endswith("/api/send")) as answer:
        await button.click()
    assert (await answer.value).status == 200
    await settled(chat)


async def submitted(browser: Browser, web_bot: WebBot) -> tuple[ChatPage, ChatPage, int]:
    async with web_bot.runtime.db.transaction() as tx:
        site = await tx.sites.by_name("阳光花园")
        assert site is not None
        people = {name: (await tx.people.find_by_name(name))[0] for name in ("王检查", "张三")}
        inspection_id = await answered(tx, site, people)
    inspector = await ChatPage.open(browser, web_bot, "王检查")
    manager = await ChatPage.open(browser, web_bot, "赵经理")
    await inspector.command("继续未完成的检查")
    await inspector.tap("阳光花园")
    await press(inspector, "全部 62 项都已作答", "提交")
    await settled(manager)
    return inspector, manager, inspection_id


async def status(web_bot: WebBot, inspection_id: int) -> tuple[ResultStatus, ConfirmHow | None]:
    async with web_bot.runtime.db.read() as tx:
        when = await tx.confirmations.get(inspection_id)
    assert when is not None
    return when.status, when.how


async def test_confirm_all_in_the_web_chat(browser: Browser, web_bot: WebBot) -> None:
    inspector, manager, inspection_id = await submitted(browser, web_bot)
    await expect(entry(manager, "不合格项 第 1 项").locator(".key")).to_have_text(["申诉 第1项"])
    await expect(entry(manager, "检查结果待确认")).to_contain_text("不合格项 2 项")
    await manager.shot("confirm-01-manager-findings")
    await press(manager, "检查结果待确认", "全部确认")
    await expect(manager.bot_messages().last).to_contain_text("已确认 阳光花园 的检查结果")
    await settled(inspector)
    await expect(inspector.log).to_contain_text("检查结果已确认：阳光花园")
    assert await status(web_bot, inspection_id) == (ResultStatus.CONFIRMED, ConfirmHow.CONFIRMED)
    manager.check_clean()


async def test_an_appeal_decided_by_the_region_in_the_web_chat(
    browser: Browser, web_bot: WebBot
) -> None:
    region = await ChatPage.open(browser, web_bot, "孙区域")
    _, manager, inspection_id = await submitted(browser, web_bot)
    await press(manager, "不合格项 第 2 项", "申诉")
    await expect(manager.bot_messages().last).to_contain_text("请输入申诉理由")
    await manager.say("已按要求签订，合同在档案室")
    await expect(manager.bot_messages().last).to_contain_text("已提交第 2 项的申诉")
    await settled(region)
    request = entry(region, "申诉待裁决")
    await expect(request).to_contain_text("申诉理由：已按要求签订，合同在档案室")
    await region.shot("confirm-02-region-decides")
    await press(region, "申诉待裁决", "维持")
    await expect(region.bot_messages().last).to_contain_text("裁决：维持")
    await settled(manager)
    await expect(manager.log).to_contain_text("申诉已裁决：阳光花园 第 2 项")
    assert await status(web_bot, inspection_id) == (ResultStatus.PENDING, None)
    async with web_bot.runtime.db.read() as tx:
        appeals = await tx.confirmations.appeals(inspection_id)
    assert [(a.item_no, a.decision and a.decision.label) for a in appeals] == [(2, "维持")]
    region.check_clean()
