"""The web chat's ☰ menu in a real browser: each person sees exactly the commands their roles
allow, a tap shows its Chinese label in the chat (not "/inspect"), the command words work as
typed text, and the welcome on a sign-in link does not claim an account was bound."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.web.browser import PHONE, ChatPage
from tests.web.conftest import WebBot

pytestmark = pytest.mark.database_neutral


async def menu_of(chat: ChatPage, shot: str) -> list[str]:
    """The labels (each followed by its command word) of the open ☰ menu; a screenshot."""
    await chat.page.get_by_role("button", name="命令菜单").click()
    await expect(chat.page.locator("#menu")).to_be_visible()
    items = chat.page.locator("#commands .menu-item")
    labels = [text.strip() for text in await items.all_inner_texts()]
    await chat.shot(shot)
    await chat.page.get_by_role("button", name="命令菜单").click()
    return labels


async def test_each_person_sees_exactly_their_commands_in_the_menu(
    browser: Browser, web_bot: WebBot
) -> None:
    manager = await ChatPage.open(browser, web_bot, "赵经理")
    inspector = await ChatPage.open(browser, web_bot, "王检查")
    responsible = await ChatPage.open(browser, web_bot, "李四")
    assert await menu_of(manager, "menu-manager") == [
        "整改任务任务",
        "项目排名与整改统计统计",
        "逾期整改任务逾期",
        "最近一次检查报告报告",
        "月度品质检查通报通报",
        "本期检查计划计划",
        "查看公司设置设置",
        "查看帮助帮助",
    ]
    assert await menu_of(inspector, "menu-inspector") == [
        "开始检查检查",
        "继续未完成的检查继续",
        "暂停当前检查暂停",
        "查看检查进度进度",
        "整改任务任务",
        "本期检查计划计划",
        "查看帮助帮助",
    ]
    assert await menu_of(responsible, "menu-responsible") == ["整改任务任务", "查看帮助帮助"]

    await expect(manager.bot_messages().first).to_contain_text("您已登录网页聊天")
    await expect(manager.log).not_to_contain_text("账号已绑定")

    mine = manager.page.locator("#log article.me .text")
    await manager.command("项目排名与整改统计")
    await expect(mine.last).to_have_text("项目排名与整改统计")
    await expect(manager.bot_messages().last).to_contain_text("项目排名")
    await manager.command("逾期整改任务")
    await expect(manager.bot_messages().last).to_contain_text("没有逾期的整改任务")
    await manager.command("最近一次检查报告")
    await expect(manager.bot_messages().last).to_contain_text("还没有已完成的检查")
    await expect(manager.log).not_to_contain_text("/stats")
    await manager.page.reload()
    await expect(mine.first).to_have_text("项目排名与整改统计")
    await expect(manager.log).not_to_contain_text("/stats")

    await inspector.say("检查")
    await expect(inspector.bot_messages().last).to_contain_text("请选择要检查的项目")
    await responsible.say("帮助")
    await expect(responsible.bot_messages().last).to_contain_text("可用命令")
    await expect(responsible.bot_messages().last).not_to_contain_text("开始检查")
    for chat in (manager, inspector, responsible):
        chat.check_clean()


async def test_a_page_without_a_valid_link_names_no_command_line(
    browser: Browser, web_bot: WebBot
) -> None:
    context = await browser.new_context(viewport=PHONE, locale="zh-CN")
    page = await context.new_page()
    await page.goto(f"{web_bot.base}/chat")
    gate = page.locator("#gate")
    await expect(gate).to_contain_text("请打开管理员发给您的专属链接")
    await expect(gate).to_contain_text("请向管理员索取新的链接")
    await expect(gate).not_to_contain_text("pinjian")
    await context.close()
